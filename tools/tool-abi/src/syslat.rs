//! syslat: per-syscall latency log2 histograms in microseconds, from `raw_syscalls`.

/// Global (`u32`): only this syscall number (`u32::MAX`: all).
pub const GLOBAL_SYSCALL: &str = "SYSLAT_SYSCALL";
/// Global (`u32`): 1 counts in milliseconds instead of microseconds.
pub const GLOBAL_MILLISECONDS: &str = "SYSLAT_MILLISECONDS";
