//! `BPF_MAP_TYPE_PROG_ARRAY`: programs to jump to with `bpf_tail_call`.

use super::{map_ptr, Uint};
use crate::bindings::map_type::BPF_MAP_TYPE_PROG_ARRAY;
use crate::helpers::bpf_tail_call;
use crate::programs::EbpfContext;

/// `BPF_MAP_TYPE_PROG_ARRAY` with `MAX_ENTRIES` program slots.
#[repr(C)]
pub struct ProgramArray<const MAX_ENTRIES: usize> {
    r#type: Uint<BPF_MAP_TYPE_PROG_ARRAY>,
    key_size: Uint<4>,
    value_size: Uint<4>,
    max_entries: Uint<MAX_ENTRIES>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<const M: usize> Sync for ProgramArray<M> {}

impl<const MAX_ENTRIES: usize> ProgramArray<MAX_ENTRIES> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key_size: core::ptr::null(),
            value_size: core::ptr::null(),
            max_entries: core::ptr::null(),
        }
    }

    /// Jumps to the program in slot `index`, never returning on success (the current
    /// program's frame, including values not yet dropped, is abandoned). Returns the error
    /// when the slot is empty or the tail-call limit (33) is reached.
    #[inline(always)]
    pub fn tail_call<C: EbpfContext>(&self, ctx: &C, index: u32) -> i64 {
        // SAFETY: the context is the program's own; the kernel validates the index.
        unsafe { bpf_tail_call(ctx.as_ptr(), map_ptr(self), index) }
    }
}
