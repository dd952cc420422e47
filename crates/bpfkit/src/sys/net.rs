//! bpf(2) calls of the networking attach path: tcx and netkit links with relative ordering
//! (Linux 6.6/6.7), netfilter links (6.4), and `BPF_PROG_QUERY` with link ids and the revision (6.6).

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::commands::owned;
use super::{bpf, uapi, zeroed, Command, SysResult};

/// `BPF_LINK_CREATE` of a tcx (`BPF_TCX_INGRESS/EGRESS`) or netkit (`BPF_NETKIT_PRIMARY/PEER`)
/// link on `ifindex`. `flags` are `BPF_F_BEFORE`/`AFTER`/`ID`/`LINK`; `relative` is the fd or
/// id they refer to (0: none); `expected_revision` 0 accepts any revision.
pub fn link_create_relative(
    prog: BorrowedFd<'_>,
    ifindex: u32,
    attach_type: u32,
    flags: u32,
    relative: u32,
    expected_revision: u64,
) -> SysResult<OwnedFd> {
    let mut attr = super::link_create_attr(prog, ifindex, attach_type, flags);
    // The `tcx` and `netkit` arms have one layout; `relative_fd` shares storage with
    // `relative_id`.
    attr.anon_1.tcx.relative_fd = relative;
    attr.anon_1.tcx.expected_revision = expected_revision;
    // SAFETY: no pointers.
    unsafe { bpf(Command::LinkCreate, &mut attr) }.map(owned)
}

/// `BPF_LINK_CREATE` of a netfilter link (`BPF_NETFILTER`): protocol family (`NFPROTO_*`),
/// hook (`NF_INET_*`), priority and `BPF_F_NETFILTER_*` flags.
pub fn link_create_netfilter(
    prog: BorrowedFd<'_>,
    pf: u32,
    hooknum: u32,
    priority: i32,
    netfilter_flags: u32,
) -> SysResult<OwnedFd> {
    let mut attr = super::link_create_attr(prog, 0, uapi::BPF_NETFILTER, 0);
    attr.anon_1.netfilter.pf = pf;
    attr.anon_1.netfilter.hooknum = hooknum;
    attr.anon_1.netfilter.priority = priority;
    attr.anon_1.netfilter.flags = netfilter_flags;
    // SAFETY: no pointers.
    unsafe { bpf(Command::LinkCreate, &mut attr) }.map(owned)
}

/// What `BPF_PROG_QUERY` reported for a multi-program hook (tcx, netkit, cgroup).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookQuery {
    /// The programs in run order.
    pub prog_ids: Vec<u32>,
    /// For each program, the link id that holds it (0: attached without a link).
    pub link_ids: Vec<u32>,
    /// The hook's revision (6.6+, 0 on older kernels), bumped by every change.
    pub revision: u64,
    /// The attach flags (cgroups).
    pub attach_flags: u32,
}

/// `BPF_PROG_QUERY` of `target` (an fd, or an ifindex for tcx/netkit) with link ids and
/// revision. Asks for the count first, then for that many ids (again if programs were
/// attached in between: ENOSPC).
pub fn prog_query_hook(target: u32, attach_type: u32, query_flags: u32) -> SysResult<HookQuery> {
    let mut tries = 0;
    loop {
        match prog_query_once(target, attach_type, query_flags) {
            Err(e) if e.errno() == Some(libc::ENOSPC) && tries < 3 => tries += 1,
            other => return other,
        }
    }
}

fn query_attr(target: u32, attach_type: u32, query_flags: u32) -> uapi::bpf_attr__query {
    let mut attr: uapi::bpf_attr__query = zeroed();
    attr.target_fd = target;
    attr.attach_type = attach_type;
    attr.query_flags = query_flags;
    attr
}

fn prog_query_once(target: u32, attach_type: u32, query_flags: u32) -> SysResult<HookQuery> {
    let mut attr = query_attr(target, attach_type, query_flags);
    // SAFETY: no pointers: the kernel only reports the count.
    unsafe { bpf(Command::ProgQuery, &mut attr) }?;
    let capacity = attr.prog_cnt as usize;
    let mut prog_ids = vec![0u32; capacity];
    let mut link_ids = vec![0u32; capacity];
    // BPF_LSM_CGROUP queries (one attach type over many hooks) are refused with EINVAL
    // unless they also take each program's attach flags.
    let mut prog_attach_flags = vec![0u32; capacity];
    let mut attr = query_attr(target, attach_type, query_flags);
    attr.prog_cnt = capacity as u32;
    if capacity > 0 {
        attr.prog_ids = prog_ids.as_mut_ptr() as u64;
        attr.link_ids = link_ids.as_mut_ptr() as u64;
        if attach_type == uapi::BPF_LSM_CGROUP {
            attr.prog_attach_flags = prog_attach_flags.as_mut_ptr() as u64;
        }
    }
    // SAFETY: the arrays hold `count` u32s and outlive the call.
    let first = unsafe { bpf(Command::ProgQuery, &mut attr) };
    if first
        .as_ref()
        .is_err_and(|e| e.errno() == Some(libc::EINVAL))
        && attr.link_ids != 0
    {
        // Before 6.6 the query has no link_ids member: a non-zero tail is EINVAL.
        attr.link_ids = 0;
        attr.prog_cnt = capacity as u32;
        // SAFETY: as above, without link ids.
        unsafe { bpf(Command::ProgQuery, &mut attr) }?;
    } else {
        first?;
    }
    let n = (attr.prog_cnt as usize).min(capacity);
    prog_ids.truncate(n);
    link_ids.truncate(n);
    Ok(HookQuery {
        prog_ids,
        link_ids,
        revision: attr.revision,
        attach_flags: attr.attach_flags,
    })
}

/// `SO_DETACH_REUSEPORT_BPF` (Linux 5.3), the same number on every architecture bpfkit
/// builds for.
const SO_DETACH_REUSEPORT_BPF: libc::c_int = 68;

fn set_socket_int(
    socket: BorrowedFd<'_>,
    option: libc::c_int,
    value: libc::c_int,
    call: &'static str,
) -> SysResult<()> {
    // SAFETY: the option value is a live c_int of the stated size.
    let ret = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if ret < 0 {
        Err(super::SyscallError {
            call,
            io_error: std::io::Error::last_os_error(),
        })
    } else {
        Ok(())
    }
}

/// `SO_ATTACH_REUSEPORT_EBPF`: run `prog` to pick the socket of `socket`'s reuseport group.
pub fn reuseport_attach_bpf(socket: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> SysResult<()> {
    set_socket_int(
        socket,
        libc::SO_ATTACH_REUSEPORT_EBPF,
        prog.as_raw_fd(),
        "setsockopt(SO_ATTACH_REUSEPORT_EBPF)",
    )
}

/// `SO_DETACH_REUSEPORT_BPF`: remove the reuseport group's program.
pub fn reuseport_detach_bpf(socket: BorrowedFd<'_>) -> SysResult<()> {
    set_socket_int(
        socket,
        SO_DETACH_REUSEPORT_BPF,
        0,
        "setsockopt(SO_DETACH_REUSEPORT_BPF)",
    )
}
