//! `BPF_MAP_TYPE_STACK_TRACE`: stack ids from `bpf_get_stackid`, resolved by userspace.

use super::{map_ptr, Uint};
use crate::bindings::map_type::BPF_MAP_TYPE_STACK_TRACE;
use crate::helpers::{bpf_get_stackid, check};
use crate::programs::EbpfContext;

/// `PERF_MAX_STACK_DEPTH`: frames per stored stack.
pub const PERF_MAX_STACK_DEPTH: usize = 127;

/// `BPF_MAP_TYPE_STACK_TRACE`: `u32` stack id → up to 127 instruction pointers.
#[repr(C)]
pub struct StackTrace<const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: Uint<BPF_MAP_TYPE_STACK_TRACE>,
    key: *const u32,
    value: *const [u64; PERF_MAX_STACK_DEPTH],
    max_entries: Uint<MAX_ENTRIES>,
    map_flags: Uint<FLAGS>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<const M: usize, const F: usize> Sync for StackTrace<M, F> {}

impl<const MAX_ENTRIES: usize, const FLAGS: usize> StackTrace<MAX_ENTRIES, FLAGS> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            value: core::ptr::null(),
            max_entries: core::ptr::null(),
            map_flags: core::ptr::null(),
        }
    }

    /// Walks the current stack (kernel; user with `BPF_F_USER_STACK`), stores it and returns
    /// its id.
    #[inline(always)]
    pub fn get_stackid<C: EbpfContext>(&self, ctx: &C, flags: u64) -> Result<u32, i64> {
        // SAFETY: the context pointer is the program's own context.
        let ret = unsafe { bpf_get_stackid(ctx.as_ptr(), map_ptr(self), flags) };
        check(ret).map(|id| id as u32)
    }
}
