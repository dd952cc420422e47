//! Events the kernel side could not send: a ring buffer that was full when a program
//! reserved or wrote a record. The kernel crate expands [`lost_counter!`](crate::lost_counter)
//! once, which defines the per-CPU counter map [`MAP_LOST`] and `fn count_lost()`;
//! userspace sums the CPUs' counts and reports them.

/// Map (`BPF_MAP_TYPE_PERCPU_ARRAY`, one `u64`): events dropped on each CPU.
pub const MAP_LOST: &str = "LOST";

/// Defines the [`MAP_LOST`] map and `fn count_lost()` (adds one for this CPU) in a kernel
/// crate (which must depend on `bpfkit-ebpf`).
#[macro_export]
macro_rules! lost_counter {
    () => {
        /// Events dropped because the ring buffer was full, per CPU.
        #[::bpfkit_ebpf::macros::map]
        static LOST: ::bpfkit_ebpf::maps::PerCpuArray<::core::cell::Cell<u64>, 1> =
            ::bpfkit_ebpf::maps::PerCpuArray::new();

        /// Counts one event that could not be sent.
        #[inline(always)]
        fn count_lost() {
            // This CPU's copy: no other writer while the program runs.
            if let Some(lost) = LOST.get(0) {
                lost.set(lost.get() + 1);
            }
        }
    };
}
