//! bpfsnoop: every bpf(2) call with its command and, for `BPF_PROG_LOAD`, `BPF_MAP_CREATE`
//! and `BPF_LINK_CREATE`, the attributes read from the caller's `union bpf_attr`.

/// Bytes of `union bpf_attr` copied at entry (covers the fields decoded here).
pub const ATTR_LEN: usize = 72;
/// Bytes of the license string kept, NUL included.
pub const LICENSE_LEN: usize = 16;

/// `BPF_MAP_CREATE`.
pub const BPF_MAP_CREATE: u32 = 0;
/// `BPF_PROG_LOAD`.
pub const BPF_PROG_LOAD: u32 = 5;
/// `BPF_LINK_CREATE`.
pub const BPF_LINK_CREATE: u32 = 28;

/// `union bpf_attr` for `BPF_PROG_LOAD`: `__aligned_u64 license`.
pub const PROG_LOAD_LICENSE: usize = 16;

/// What `sys_enter_bpf` keeps for `sys_exit_bpf`, per thread, and then sends.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfEvent {
    /// Process id (tgid).
    pub pid: u32,
    /// Real user id.
    pub uid: u32,
    /// The command (`enum bpf_cmd`).
    pub cmd: u32,
    /// The `size` argument.
    pub size: u32,
    /// The result: an fd, 0, or a negative errno.
    pub ret: i64,
    /// Command name.
    pub comm: [u8; crate::COMM_LEN],
    /// The first [`ATTR_LEN`] bytes of the caller's `union bpf_attr` (zero past `size`),
    /// for the three decoded commands; zero for others.
    pub attr: [u8; ATTR_LEN],
    /// `BPF_PROG_LOAD`'s license string.
    pub license: [u8; LICENSE_LEN],
}

impl BpfEvent {
    /// An all-zero event.
    pub const ZERO: BpfEvent = BpfEvent {
        pid: 0,
        uid: 0,
        cmd: 0,
        size: 0,
        ret: 0,
        comm: [0; crate::COMM_LEN],
        attr: [0; ATTR_LEN],
        license: [0; LICENSE_LEN],
    };
}
