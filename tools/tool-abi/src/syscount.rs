//! syscount: counts (and total latency) per syscall or per process, from
//! `raw_syscalls/sys_enter` and `sys_exit`.

/// Key of the `COUNTS` per-CPU hash.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The syscall number, or the process id (tgid) with [`GLOBAL_PER_PROCESS`] on.
    pub id: u32,
    /// The errno a failed call returned, with [`GLOBAL_FAILURES`] on; 0 otherwise.
    pub errno: u32,
}

/// Value of the `COUNTS` per-CPU hash (one copy per CPU; userspace adds them up).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Calls that returned.
    pub count: u64,
    /// Time spent in them, in nanoseconds (with [`GLOBAL_LATENCY`] on).
    pub total_ns: u64,
    /// Command name of the last caller (per-process mode).
    pub comm: [u8; crate::COMM_LEN],
}

impl Stats {
    /// No calls yet.
    pub const ZERO: Stats = Stats {
        count: 0,
        total_ns: 0,
        comm: [0; crate::COMM_LEN],
    };
}

/// Global (`u32`): 1 keys the counts by process instead of by syscall.
pub const GLOBAL_PER_PROCESS: &str = "SYSCOUNT_PER_PROCESS";
/// Global (`u32`): 1 measures the time from entry to exit.
pub const GLOBAL_LATENCY: &str = "SYSCOUNT_LATENCY";
/// Global (`u32`): 1 counts only failed calls, keyed by their errno too.
pub const GLOBAL_FAILURES: &str = "SYSCOUNT_FAILURES";
/// Global (`u32`): with failures on, only this errno (0: any).
pub const GLOBAL_ERRNO: &str = "SYSCOUNT_ERRNO";
