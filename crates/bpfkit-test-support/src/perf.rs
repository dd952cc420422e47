//! Attaching pinned programs to perf events from tests: `BPF_OBJ_GET`, `perf_event_open`,
//! `PERF_EVENT_IOC_SET_BPF`, and tracepoints attached the way libbpf's perf-event route does.
//!
//! Each call returns the kernel's refusal as an [`std::io::Error`] naming the step and object.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER1` (72 bytes): enough for tracepoints,
/// software events and uprobes (`config1` = path, `config2` = offset).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PerfEventAttr {
    /// `type`: `PERF_TYPE_*` or a dynamic PMU's number.
    pub type_: u32,
    /// `size`: the size of this struct (set by [`PerfEventAttr::SIZE`]).
    pub size: u32,
    /// `config`: the event within its type (a tracepoint id, a `PERF_COUNT_SW_*`).
    pub config: u64,
    /// `sample_period`.
    pub sample_period: u64,
    /// `sample_type`: `PERF_SAMPLE_*` bits.
    pub sample_type: u64,
    /// `read_format`.
    pub read_format: u64,
    /// The bitfield word (`disabled`, `inherit`, ...).
    pub flags: u64,
    /// `wakeup_events`.
    pub wakeup_events: u32,
    /// `bp_type`.
    pub bp_type: u32,
    /// `config1` (a uprobe's path pointer).
    pub config1: u64,
    /// `config2` (a uprobe's file offset).
    pub config2: u64,
}

impl PerfEventAttr {
    /// The value of `size` for this layout.
    pub const SIZE: u32 = std::mem::size_of::<Self>() as u32;
}

/// `PERF_TYPE_TRACEPOINT`.
pub const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
/// `_IO('$', 0)`.
pub const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// `_IOW('$', 8, __u32)`.
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;
/// `BPF_OBJ_GET`.
const BPF_OBJ_GET: libc::c_long = 7;

fn os_error(what: String) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A new fd for the BPF object pinned at `pinned` (`BPF_OBJ_GET`).
pub fn bpf_obj_get(pinned: &Path) -> io::Result<OwnedFd> {
    let path = std::ffi::CString::new(pinned.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // union bpf_attr for BPF_OBJ_GET: pathname (u64), bpf_fd (u32), file_flags (u32).
    let mut attr = [0u64; 2];
    attr[0] = path.as_ptr() as u64;
    // SAFETY: BPF_OBJ_GET reads the 16-byte `attr` (sized as passed) and the C string, both
    // alive for the call.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, BPF_OBJ_GET, attr.as_mut_ptr(), 16) };
    if fd < 0 {
        return Err(os_error(format!("BPF_OBJ_GET {}", pinned.display())));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`; `what` names the event in
/// the error.
pub fn perf_event_open(
    attr: &PerfEventAttr,
    pid: i32,
    cpu: i32,
    what: &str,
) -> io::Result<OwnedFd> {
    // SAFETY: perf_event_open reads `attr.size` bytes of `attr` (and, for uprobes, the path
    // `config1` points to, which the caller keeps alive).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const PerfEventAttr,
            pid,
            cpu,
            -1,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(os_error(format!("perf_event_open {what}")));
    }
    // SAFETY: a new fd owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Runs `prog` on every event of `perf` (`PERF_EVENT_IOC_SET_BPF`), then enables the event.
/// Closing `perf` detaches the program.
pub fn perf_event_set_bpf(perf: &OwnedFd, prog: &OwnedFd) -> io::Result<()> {
    // SAFETY: PERF_EVENT_IOC_SET_BPF takes the program fd as its argument.
    let ret = unsafe {
        libc::ioctl(
            perf.as_raw_fd(),
            PERF_EVENT_IOC_SET_BPF as _,
            prog.as_raw_fd(),
        )
    };
    if ret != 0 {
        return Err(os_error("PERF_EVENT_IOC_SET_BPF".into()));
    }
    // SAFETY: PERF_EVENT_IOC_ENABLE takes no argument.
    let ret = unsafe { libc::ioctl(perf.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) };
    if ret != 0 {
        return Err(os_error("PERF_EVENT_IOC_ENABLE".into()));
    }
    Ok(())
}

/// The id of tracepoint `category/name` from tracefs (mounted on `/sys/kernel/tracing` if it
/// is not yet).
pub fn tracepoint_id(category: &str, name: &str) -> io::Result<u64> {
    let tracefs = Path::new("/sys/kernel/tracing");
    if !tracefs.join("events").exists() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
            .status();
    }
    let file = tracefs.join("events").join(category).join(name).join("id");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", file.display())))?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", file.display()),
        )
    })
}

/// Attaches the program pinned at `prog_pin` to tracepoint `category/name` through a perf
/// event for `pid` on `cpu` (as `perf_event_open` reads them), as libbpf's perf-event route
/// does. The returned perf event fd keeps it attached; closing it detaches.
pub fn attach_tracepoint(
    prog_pin: &Path,
    category: &str,
    name: &str,
    pid: i32,
    cpu: i32,
) -> io::Result<OwnedFd> {
    let id = tracepoint_id(category, name)?;
    let prog = bpf_obj_get(prog_pin)?;
    let attr = PerfEventAttr {
        type_: PERF_TYPE_TRACEPOINT,
        size: PerfEventAttr::SIZE,
        config: id,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    let perf = perf_event_open(&attr, pid, cpu, &format!("tracepoint {category}/{name}"))?;
    perf_event_set_bpf(&perf, &prog)?;
    Ok(perf)
}
