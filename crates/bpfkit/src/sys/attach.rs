//! bpf(2) and socket calls only the attach path uses: `BPF_ITER_CREATE`, the `uprobe_multi`
//! flavour of `BPF_LINK_CREATE` (Linux 6.6) and
//! `SO_ATTACH_BPF`/`SO_DETACH_BPF`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::commands::owned;
use super::{bpf, uapi, zeroed, Command, SysResult, SyscallError};

/// `BPF_ITER_CREATE`: a readable fd that runs the iterator program of `link` when read.
pub fn iter_create(link: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    let mut attr: uapi::bpf_attr__iter_create = zeroed();
    attr.link_fd = link.as_raw_fd() as u32;
    // SAFETY: no pointers.
    unsafe { bpf(Command::IterCreate, &mut attr) }.map(owned)
}

/// `BPF_LINK_CREATE` of a `uprobe_multi` link: one link for `offsets.len()` uprobes in `path`.
///
/// `ref_ctr_offsets` and `cookies` are empty or as long as `offsets`; `pid` 0 means every process.
/// `attach_type` is [`uapi::BPF_TRACE_UPROBE_MULTI`] or, for a program loaded as a session,
/// [`uapi::BPF_TRACE_UPROBE_SESSION`] (the kernel requires the program's expected attach type).
#[allow(clippy::too_many_arguments)]
pub fn link_create_uprobe_multi(
    prog: BorrowedFd<'_>,
    attach_type: u32,
    path: &CStr,
    offsets: &[u64],
    ref_ctr_offsets: &[u64],
    cookies: &[u64],
    pid: u32,
    retprobe: bool,
) -> SysResult<OwnedFd> {
    // The kernel reads `cnt` entries of every array it is given: refuse shorter ones here.
    let lengths_ok = |a: &[u64]| a.is_empty() || a.len() == offsets.len();
    if !lengths_ok(ref_ctr_offsets) || !lengths_ok(cookies) {
        return Err(SyscallError {
            call: "BPF_LINK_CREATE",
            io_error: io::Error::new(
                io::ErrorKind::InvalidInput,
                "uprobe_multi: ref_ctr_offsets and cookies must be empty or as long as offsets",
            ),
        });
    }
    let mut attr = super::link_create_attr(prog, 0, attach_type, 0);
    attr.anon_1.uprobe_multi.path = path.as_ptr() as u64;
    attr.anon_1.uprobe_multi.offsets = offsets.as_ptr() as u64;
    attr.anon_1.uprobe_multi.cnt = offsets.len() as u32;
    attr.anon_1.uprobe_multi.flags = if retprobe {
        uapi::BPF_F_UPROBE_MULTI_RETURN
    } else {
        0
    };
    attr.anon_1.uprobe_multi.pid = pid;
    if !ref_ctr_offsets.is_empty() {
        attr.anon_1.uprobe_multi.ref_ctr_offsets = ref_ctr_offsets.as_ptr() as u64;
    }
    if !cookies.is_empty() {
        attr.anon_1.uprobe_multi.cookies = cookies.as_ptr() as u64;
    }
    // SAFETY: `path` and the arrays outlive the call; their lengths are `cnt` (the caller's
    // slices are as long as `offsets` or empty, in which case the pointer stays 0).
    unsafe { bpf(Command::LinkCreate, &mut attr) }.map(owned)
}

/// `SO_ATTACH_BPF`: run the socket filter `prog` on every packet `socket` receives.
pub fn socket_attach_bpf(socket: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> SysResult<()> {
    let prog_fd: libc::c_int = prog.as_raw_fd();
    // SAFETY: the option value is a live c_int of the stated size.
    let ret = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_BPF,
            &prog_fd as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    check(ret, "setsockopt(SO_ATTACH_BPF)")
}

/// `SO_DETACH_BPF`: remove the socket filter of `socket`.
pub fn socket_detach_bpf(socket: BorrowedFd<'_>) -> SysResult<()> {
    let unused: libc::c_int = 0;
    // SAFETY: the option value is a live c_int of the stated size.
    let ret = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_DETACH_BPF,
            &unused as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    check(ret, "setsockopt(SO_DETACH_BPF)")
}

fn check(ret: libc::c_int, call: &'static str) -> SysResult<()> {
    if ret < 0 {
        Err(SyscallError {
            call,
            io_error: io::Error::last_os_error(),
        })
    } else {
        Ok(())
    }
}

/// `BPF_PROG_TEST_RUN` of a `BPF_PROG_TYPE_SYSCALL` program: `ctx` is passed in and the kernel
/// writes the program's changes back into it (syscall programs take no `ctx_out`).
pub fn prog_run_syscall(prog: BorrowedFd<'_>, ctx: &mut [u8]) -> SysResult<u32> {
    let mut attr: uapi::bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let t = unsafe { &mut attr.test };
    t.prog_fd = prog.as_raw_fd() as u32;
    if !ctx.is_empty() {
        t.ctx_in = ctx.as_mut_ptr() as u64;
        t.ctx_size_in = ctx.len() as u32;
    }
    // SAFETY: `ctx` is exclusively borrowed for the call; the kernel reads and writes at most
    // `ctx_size_in` bytes of it.
    unsafe { bpf(Command::ProgTestRun, &mut attr) }?;
    // SAFETY: reading back an integer the kernel wrote.
    Ok(unsafe { attr.test.retval })
}

/// The raw BTF of a loaded BTF object (`BPF_OBJ_GET_INFO_BY_FD` with a `btf` buffer).
pub fn btf_bytes(btf: BorrowedFd<'_>) -> SysResult<Vec<u8>> {
    let mut info: uapi::bpf_btf_info = zeroed();
    // SAFETY: no pointer fields are set: the kernel only reports the size.
    unsafe { super::obj_get_info_by_fd(btf, &mut info) }?;
    let mut data = vec![0u8; info.btf_size as usize];
    let mut info: uapi::bpf_btf_info = zeroed();
    info.btf = data.as_mut_ptr() as u64;
    info.btf_size = data.len() as u32;
    // SAFETY: `btf` points to `data`, live and `btf_size` bytes long.
    unsafe { super::obj_get_info_by_fd(btf, &mut info) }?;
    data.truncate(info.btf_size as usize);
    Ok(data)
}
