//! syscount's userspace library: reading the kernel side's per-CPU counts into [`Row`]s,
//! sorting and printing them ([`report`]). The binary (`src/main.rs`) loads
//! [`SYSCOUNT_BPF`], attaches and reads the counts at each interval and at the end.

pub mod report;

/// The kernel side, built by build.rs from `../syscount-ebpf`: programs `sys_enter` and
/// `sys_exit` (tracepoints `raw_syscalls/*`), maps `COUNTS` and `START`.
pub static SYSCOUNT_BPF: &[u8] = bpfkit_build::include_ebpf!("syscount");

pub use report::{Row, RowKey};
