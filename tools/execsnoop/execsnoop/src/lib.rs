//! execsnoop's userspace library: decoding the kernel side's ring buffer records
//! ([`event`]) and printing them as columns or JSON lines ([`output`]). The binary
//! (`src/main.rs`) loads [`EXECSNOOP_BPF`], attaches and polls.

pub mod event;
pub mod output;

pub use event::{DecodeError, Exec};

/// The kernel side, built by build.rs from `../execsnoop-ebpf` (an ELF object, 32-byte
/// aligned): programs `execve_enter` and `execve_exit`, maps `EXECS` and `EVENTS`.
pub static EXECSNOOP_BPF: &[u8] = bpfkit_build::include_ebpf!("execsnoop");
