//! The records the user guide's kernel samples (`docs/examples/guide-ebpf`) send to its
//! userspace samples (`docs/examples/guide`). `#![no_std]` so the eBPF crate can use it,
//! `#[repr(C)]` so both sides agree on the layout.
#![no_std]

// ANCHOR: exec_event
/// One exec, sent by the `hello` program through the `EXECS_RING` ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecEvent {
    /// Process id (the kernel's tgid) of the program that was executed.
    pub pid: u32,
    /// Its user id.
    pub uid: u32,
    /// Its command name, NUL-padded.
    pub comm: [u8; 16],
}
// ANCHOR_END: exec_event

impl ExecEvent {
    /// The record's size in bytes.
    pub const SIZE: usize = core::mem::size_of::<ExecEvent>();

    /// Decodes a record as the kernel wrote it (native byte order); `None` if it is short.
    pub fn from_bytes(bytes: &[u8]) -> Option<ExecEvent> {
        let word = |at: usize| Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        Some(ExecEvent {
            pid: word(0)?,
            uid: word(4)?,
            comm: bytes.get(8..24)?.try_into().ok()?,
        })
    }

    /// The command name up to its first NUL.
    pub fn comm(&self) -> &[u8] {
        let end = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        &self.comm[..end]
    }
}

/// One `getppid` call, sent by the `ring_vs_perf` chapter's programs through both the
/// `CALLS_RING` ring buffer and the `CALLS_PERF` perf buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Call {
    /// Running count of calls by the target process (1, 2, …).
    pub seq: u64,
    /// Thread id of the caller.
    pub tid: u32,
    /// CPU the call ran on.
    pub cpu: u32,
}

impl Call {
    /// The record's size in bytes.
    pub const SIZE: usize = core::mem::size_of::<Call>();

    /// Decodes a record as the kernel wrote it; `None` if it is short.
    pub fn from_bytes(bytes: &[u8]) -> Option<Call> {
        let word = |at: usize| Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
        Some(Call {
            seq: u64::from_ne_bytes(bytes.get(0..8)?.try_into().ok()?),
            tid: word(8)?,
            cpu: word(12)?,
        })
    }
}
