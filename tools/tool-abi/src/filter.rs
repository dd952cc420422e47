//! The in-kernel process filter every tool shares: `--pid`, `--comm` and `--cgroup`, held in
//! frozen `.rodata` globals so the verifier prunes the checks a run leaves off.
//!
//! The kernel crate expands [`filter_globals!`](crate::filter_globals) once, which defines
//! the globals and `fn filter_pass() -> bool`; userspace sets the globals by these names.

/// Global (`u32`): only this process id (the kernel's tgid); 0 lets every process pass.
pub const GLOBAL_PID: &str = "FILTER_PID";
/// Global (`u64`): bytes 0..8 of the wanted command name, native byte order, NUL-padded.
pub const GLOBAL_COMM_LO: &str = "FILTER_COMM_LO";
/// Global (`u64`): bytes 8..16 of the wanted command name.
pub const GLOBAL_COMM_HI: &str = "FILTER_COMM_HI";
/// Global (`u32`): 1 when the command name filter is on.
pub const GLOBAL_COMM_ON: &str = "FILTER_COMM_ON";
/// Global (`u64`): cgroup v2 id; only tasks in that cgroup or below it pass (0: off).
pub const GLOBAL_CGROUP_ID: &str = "FILTER_CGROUP_ID";
/// Global (`u32`): the cgroup's level in the hierarchy (the root is 0); the task's
/// ancestor at this level must be the cgroup.
pub const GLOBAL_CGROUP_LEVEL: &str = "FILTER_CGROUP_LEVEL";

/// Splits a command name into the two words of [`GLOBAL_COMM_LO`] and [`GLOBAL_COMM_HI`]
/// (the kernel keeps 15 bytes and a NUL; longer names are cut as the kernel cuts them).
pub fn comm_words(comm: &[u8]) -> (u64, u64) {
    let mut bytes = [0u8; crate::COMM_LEN];
    let len = comm.len().min(crate::COMM_LEN - 1);
    bytes[..len].copy_from_slice(&comm[..len]);
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&bytes[..8]);
    hi.copy_from_slice(&bytes[8..]);
    (u64::from_ne_bytes(lo), u64::from_ne_bytes(hi))
}

/// Defines the filter globals (names above) and `fn filter_pass() -> bool` in a kernel
/// crate (which must depend on `bpfkit-ebpf`). `filter_pass` is true when the current
/// task passes every filter that is on.
#[macro_export]
macro_rules! filter_globals {
    () => {
        #[unsafe(no_mangle)]
        static FILTER_PID: ::bpfkit_ebpf::Global<u32> = ::bpfkit_ebpf::Global::new(0);
        #[unsafe(no_mangle)]
        static FILTER_COMM_ON: ::bpfkit_ebpf::Global<u32> = ::bpfkit_ebpf::Global::new(0);
        #[unsafe(no_mangle)]
        static FILTER_COMM_LO: ::bpfkit_ebpf::Global<u64> = ::bpfkit_ebpf::Global::new(0);
        #[unsafe(no_mangle)]
        static FILTER_COMM_HI: ::bpfkit_ebpf::Global<u64> = ::bpfkit_ebpf::Global::new(0);
        #[unsafe(no_mangle)]
        static FILTER_CGROUP_ID: ::bpfkit_ebpf::Global<u64> = ::bpfkit_ebpf::Global::new(0);
        #[unsafe(no_mangle)]
        static FILTER_CGROUP_LEVEL: ::bpfkit_ebpf::Global<u32> = ::bpfkit_ebpf::Global::new(0);

        /// Whether the current task passes `--pid`, `--comm` and `--cgroup`.
        #[inline(always)]
        fn filter_pass() -> bool {
            let pid = FILTER_PID.get();
            if pid != 0 && pid != ::bpfkit_ebpf::helpers::current_tgid() {
                return false;
            }
            if FILTER_COMM_ON.get() != 0 {
                let Ok(comm) = ::bpfkit_ebpf::helpers::current_comm() else {
                    return false;
                };
                let mut lo = [0u8; 8];
                let mut hi = [0u8; 8];
                lo.copy_from_slice(&comm[..8]);
                hi.copy_from_slice(&comm[8..]);
                if u64::from_ne_bytes(lo) != FILTER_COMM_LO.get()
                    || u64::from_ne_bytes(hi) != FILTER_COMM_HI.get()
                {
                    return false;
                }
            }
            let cgroup = FILTER_CGROUP_ID.get();
            if cgroup != 0 {
                // SAFETY: the helper takes a level and returns an id (0 if there is none).
                let ancestor = unsafe {
                    ::bpfkit_ebpf::helpers::bpf_get_current_ancestor_cgroup_id(
                        FILTER_CGROUP_LEVEL.get() as i32,
                    )
                };
                if ancestor != cgroup {
                    return false;
                }
            }
            true
        }
    };
}
