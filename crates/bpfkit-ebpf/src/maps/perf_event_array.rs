//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: per-CPU perf buffers written with `bpf_perf_event_output`.

use super::{map_ptr, Uint};
use crate::bindings::flags::BPF_F_CURRENT_CPU;
use crate::bindings::map_type::BPF_MAP_TYPE_PERF_EVENT_ARRAY;
use crate::helpers::{bpf_perf_event_output, check};
use crate::programs::EbpfContext;

/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY` (the loader sizes it to the number of CPUs when
/// `MAX_ENTRIES` is 0). Events are any `T`, chosen per call.
#[repr(C)]
pub struct PerfEventArray<const MAX_ENTRIES: usize = 0> {
    r#type: Uint<BPF_MAP_TYPE_PERF_EVENT_ARRAY>,
    key_size: Uint<4>,
    value_size: Uint<4>,
    max_entries: Uint<MAX_ENTRIES>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<const M: usize> Sync for PerfEventArray<M> {}

impl<const MAX_ENTRIES: usize> PerfEventArray<MAX_ENTRIES> {
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

    /// Writes `event` to the current CPU's buffer.
    #[inline(always)]
    pub fn output<C: EbpfContext, T>(&self, ctx: &C, event: &T) -> Result<(), i64> {
        self.output_with_flags(ctx, event, BPF_F_CURRENT_CPU)
    }

    /// Writes `event` to the buffer that `flags` selects (a CPU index, or `BPF_F_CURRENT_CPU`).
    #[inline(always)]
    pub fn output_with_flags<C: EbpfContext, T>(
        &self,
        ctx: &C,
        event: &T,
        flags: u64,
    ) -> Result<(), i64> {
        // SAFETY: the context is the program's own and `event` is readable for its size.
        let ret = unsafe {
            bpf_perf_event_output(
                ctx.as_ptr(),
                map_ptr(self),
                flags,
                (event as *const T as *mut T).cast(),
                core::mem::size_of::<T>() as u64,
            )
        };
        check(ret).map(|_| ())
    }
}
