//! A child process in its own user and mount namespace, without capabilities in the initial
//! user namespace, with a bpffs that this (privileged) process delegated to it: the setting
//! BPF tokens are made for.
//!
//! The protocol (Linux 6.9's BPF token design): the child enters new user and mount
//! namespaces and opens a bpffs context (`fsopen("bpf")`), so the filesystem will belong to
//! the child's user namespace; it hands the context to the parent over a unix socket. Only a
//! process privileged in the initial namespace may set the `delegate_*` options, so the
//! parent sets them, creates the superblock (`FSCONFIG_CMD_CREATE`), makes a detached mount
//! (`fsmount`) and hands that back. The child attaches it where it wants (`move_mount`) in
//! its private mount namespace and runs the body.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// What the child reported.
#[derive(Debug)]
pub enum Delegated {
    /// The body ran; its report.
    Ran(String),
    /// The host cannot run the scenario: why (names the sysctl or kernel feature).
    Skip(String),
}

/// The uid and gid that root of the child's user namespace maps to (`nobody`).
pub const MAPPED_ID: u32 = 65534;

const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

/// Runs `body` in a forked child in new user and mount namespaces (uid/gid 0 inside, mapped
/// to [`MAPPED_ID`] outside; no capabilities in the initial namespace), with a bpffs that
/// delegates every command, map, program and attach type mounted at `mount_at` in the
/// child's namespace. `body`'s `Ok` text or `Err` text comes back (an `Err` or a panic is
/// this function's `Err`). The caller must be root and should have no other threads doing
/// work (the child is forked).
pub fn run_with_delegated_bpffs(
    mount_at: &Path,
    body: impl FnOnce() -> Result<String, String>,
) -> Result<Delegated, String> {
    let (parent_sock, child_sock) = socketpair()?;
    // SAFETY: fork(2); the child only makes syscalls and runs `body` before `_exit`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(parent_sock);
        let code = child_main(&child_sock, mount_at, body);
        // SAFETY: leave the forked child without running the parent's exit handlers.
        unsafe { libc::_exit(code) }
    }
    drop(child_sock);
    let child = Child(pid);
    let result = parent_side(&parent_sock, pid);
    drop(parent_sock);
    drop(child);
    result
}

/// The forked child: killed and reaped on drop, whatever path the parent leaves by.
struct Child(libc::pid_t);

impl Drop for Child {
    fn drop(&mut self) {
        let mut status = 0;
        // SAFETY: our own child; WNOHANG first, then kill and reap.
        unsafe {
            if libc::waitpid(self.0, &mut status, libc::WNOHANG) == 0 {
                // Give a child that already sent its report a moment to exit.
                for _ in 0..200 {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    if libc::waitpid(self.0, &mut status, libc::WNOHANG) != 0 {
                        return;
                    }
                }
                libc::kill(self.0, libc::SIGKILL);
                libc::waitpid(self.0, &mut status, 0);
            }
        }
    }
}

fn parent_side(sock: &OwnedFd, pid: libc::pid_t) -> Result<Delegated, String> {
    let (msg, _) = recv(sock)?;
    if let Some(why) = msg.strip_prefix("SKIP ") {
        return Ok(Delegated::Skip(why.to_owned()));
    }
    if msg != "unshared" {
        return Err(format!("child said {msg:?} instead of unshared"));
    }
    for (file, contents) in [
        ("uid_map", format!("0 {MAPPED_ID} 1")),
        ("gid_map", format!("0 {MAPPED_ID} 1")),
    ] {
        std::fs::write(format!("/proc/{pid}/{file}"), contents)
            .map_err(|e| format!("writing /proc/{pid}/{file}: {e}"))?;
    }
    send(sock, "mapped", None)?;
    let (msg, fs_fd) = recv(sock)?;
    if let Some(err) = msg.strip_prefix("ERR ") {
        return Err(format!("child: {err}"));
    }
    let fs_fd = fs_fd.ok_or_else(|| format!("child sent {msg:?} without the bpffs context"))?;
    for key in [
        "delegate_cmds",
        "delegate_maps",
        "delegate_progs",
        "delegate_attachs",
    ] {
        fsconfig(&fs_fd, FSCONFIG_SET_STRING, Some(key), Some("any"))?;
    }
    fsconfig(&fs_fd, FSCONFIG_CMD_CREATE, None, None)?;
    // SAFETY: fsmount(2) on a created context; returns a new fd or -1.
    let mnt = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs_fd.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            0 as libc::c_uint,
        )
    };
    if mnt < 0 {
        return Err(format!("fsmount: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a new fd that nothing else owns.
    let mnt = unsafe { OwnedFd::from_raw_fd(mnt as RawFd) };
    send(sock, "mount", Some(mnt.as_raw_fd()))?;
    drop(mnt);
    drop(fs_fd);
    let (msg, _) = recv(sock)?;
    if let Some(report) = msg.strip_prefix("OK ") {
        Ok(Delegated::Ran(report.to_owned()))
    } else if let Some(err) = msg.strip_prefix("ERR ") {
        Err(format!("child: {err}"))
    } else {
        Err(format!("child said {msg:?}"))
    }
}

fn child_main(
    sock: &OwnedFd,
    mount_at: &Path,
    body: impl FnOnce() -> Result<String, String>,
) -> i32 {
    let report = match child_setup(sock, mount_at) {
        Ok(Some(skip)) => {
            let _ = send(sock, &format!("SKIP {skip}"), None);
            return 0;
        }
        Ok(None) => match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
            Ok(Ok(report)) => format!("OK {report}"),
            Ok(Err(e)) => format!("ERR {e}"),
            Err(_) => "ERR the body panicked (see stderr)".to_owned(),
        },
        Err(e) => format!("ERR {e}"),
    };
    match send(sock, &report, None) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

/// `Ok(Some(reason))`: the host cannot do it.
fn child_setup(sock: &OwnedFd, mount_at: &Path) -> Result<Option<String>, String> {
    // SAFETY: unshare(2) with namespace flags; the forked child has one thread.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        let e = std::io::Error::last_os_error();
        return Ok(Some(format!(
            "cannot create a user namespace ({e}): user.max_user_namespaces is {}",
            std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unreadable".into())
        )));
    }
    send(sock, "unshared", None)?;
    let (msg, _) = recv(sock)?;
    if msg != "mapped" {
        return Err(format!("parent said {msg:?} instead of mapped"));
    }
    // SAFETY: plain credential syscalls; uid/gid 0 are mapped now.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setresgid(0, 0, 0) != 0
            || libc::setresuid(0, 0, 0) != 0
        {
            return Err(format!(
                "becoming root of the user namespace: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // Nothing mounted here may propagate back to the parent's namespace.
    // SAFETY: mount(2) with NULL source/type/data, changing propagation only.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(format!(
            "making / private: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: fsopen(2) with a NUL-terminated name; returns a new fd or -1.
    let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"bpf".as_ptr(), FSOPEN_CLOEXEC) };
    if fs < 0 {
        return Err(format!("fsopen(bpf): {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a new fd that nothing else owns.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as RawFd) };
    send(sock, "context", Some(fs.as_raw_fd()))?;
    let (msg, mnt) = recv(sock)?;
    let mnt = mnt.ok_or_else(|| format!("parent sent {msg:?} without the mount"))?;
    let target = CString::new(mount_at.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{mount_at:?} has a NUL byte"))?;
    // SAFETY: move_mount(2) with a live fd and NUL-terminated paths.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mnt.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r != 0 {
        return Err(format!(
            "move_mount to {mount_at:?}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(None)
}

fn fsconfig(
    fs: &OwnedFd,
    cmd: libc::c_uint,
    key: Option<&str>,
    value: Option<&str>,
) -> Result<(), String> {
    let key_c = key.map(|k| CString::new(k).expect("no NUL"));
    let value_c = value.map(|v| CString::new(v).expect("no NUL"));
    // SAFETY: fsconfig(2) with NUL-terminated strings (or NULL) that outlive the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            cmd,
            key_c.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
            value_c.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            0 as libc::c_int,
        )
    };
    if r != 0 {
        return Err(format!(
            "fsconfig({key:?}={value:?}, cmd {cmd}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn socketpair() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: socketpair(2) writes two fds into `fds`.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(format!("socketpair: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: two new fds that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

const CMSG_SPACE: usize = 64;

/// Sends `text` as one message, with `fd` attached (SCM_RIGHTS) if given.
fn send(sock: &OwnedFd, text: &str, fd: Option<RawFd>) -> Result<(), String> {
    let mut iov = libc::iovec {
        iov_base: text.as_ptr() as *mut libc::c_void,
        iov_len: text.len(),
    };
    let mut control = [0u8; CMSG_SPACE];
    // SAFETY: an all-zero msghdr is valid; its pointers are set below to live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is a pure size computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(4) } as _;
        // SAFETY: the control buffer holds one cmsg with a 4-byte fd (CMSG_SPACE(4) <= 64).
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(4) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        }
    }
    // SAFETY: `msg` points to live buffers.
    let r = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, 0) };
    if r < 0 {
        return Err(format!("sendmsg: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Receives one message and the fd attached to it, if any.
fn recv(sock: &OwnedFd) -> Result<(String, Option<OwnedFd>), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = [0u8; CMSG_SPACE];
    // SAFETY: an all-zero msghdr is valid; its pointers are set below to live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    // SAFETY: `msg` points to live buffers of the sizes given.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(format!("recvmsg: {}", std::io::Error::last_os_error()));
    }
    if n == 0 {
        return Err("the other side closed the socket".into());
    }
    let mut fd = None;
    // SAFETY: walking the control messages the kernel wrote into `control`.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if !cmsg.is_null()
            && (*cmsg).cmsg_level == libc::SOL_SOCKET
            && (*cmsg).cmsg_type == libc::SCM_RIGHTS
        {
            let raw = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
            fd = Some(OwnedFd::from_raw_fd(raw));
        }
    }
    buf.truncate(n as usize);
    Ok((String::from_utf8_lossy(&buf).into_owned(), fd))
}
