//! opensnoop: every `open` (x86_64), `openat` and `openat2` with its path, flags and result.

/// Bytes of path kept, NUL included.
pub const PATH_LEN: usize = 256;

/// What `sys_enter_*` keeps for `sys_exit_*`, per thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// The user's path pointer (read at exit, when the kernel has faulted it in).
    pub filename: u64,
    /// Open flags (`O_*`).
    pub flags: u64,
    /// Creation mode.
    pub mode: u64,
}

/// One open, sent through the `EVENTS` ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenEvent {
    /// Process id (tgid).
    pub pid: u32,
    /// Real user id.
    pub uid: u32,
    /// The file descriptor, or a negative errno.
    pub ret: i64,
    /// Open flags (`O_*`).
    pub flags: u64,
    /// Creation mode.
    pub mode: u64,
    /// Command name.
    pub comm: [u8; crate::COMM_LEN],
    /// The path, NUL-terminated.
    pub path: [u8; PATH_LEN],
}

impl OpenEvent {
    /// An all-zero event.
    pub const ZERO: OpenEvent = OpenEvent {
        pid: 0,
        uid: 0,
        ret: 0,
        flags: 0,
        mode: 0,
        comm: [0; crate::COMM_LEN],
        path: [0; PATH_LEN],
    };
}

/// Global (`u32`): 1 reports failed opens only.
pub const GLOBAL_FAILED: &str = "OPENSNOOP_FAILED";
