//! perf_event_open(2) and the perf event ioctls, with owned fds.
//!
//! Only what bpfkit needs: the attr record up to `PERF_ATTR_SIZE_VER1` (72 bytes, understood by
//! every kernel with BPF), software `PERF_COUNT_SW_BPF_OUTPUT` events for perf buffers, and the
//! enable/disable/set-bpf ioctls.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::commands::last_error;
use super::SysResult;

/// `PERF_TYPE_SOFTWARE`.
pub const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_COUNT_SW_BPF_OUTPUT`: the event `bpf_perf_event_output` writes samples to.
pub const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// `PERF_SAMPLE_RAW`: samples carry a `u32 size; u8 data[size]` payload.
pub const PERF_SAMPLE_RAW: u64 = 1 << 10;
/// `PERF_RECORD_LOST`: the kernel dropped samples because the ring was full.
pub const PERF_RECORD_LOST: u32 = 2;
/// `PERF_RECORD_SAMPLE`: one sample.
pub const PERF_RECORD_SAMPLE: u32 = 9;
/// `PERF_FLAG_FD_CLOEXEC`.
pub const PERF_FLAG_FD_CLOEXEC: u64 = 1 << 3;
/// Bit of `perf_event_attr.flags`: `disabled`.
pub const PERF_ATTR_FLAG_DISABLED: u64 = 1 << 0;
/// Bit of `perf_event_attr.flags`: `watermark` (wake up by bytes, `wakeup_watermark`).
pub const PERF_ATTR_FLAG_WATERMARK: u64 = 1 << 14;
/// `PERF_ATTR_SIZE_VER1`.
pub const PERF_ATTR_SIZE_VER1: u32 = 72;

/// `PERF_EVENT_IOC_ENABLE` (`_IO('$', 0)`).
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// `PERF_EVENT_IOC_DISABLE` (`_IO('$', 1)`).
const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
/// `PERF_EVENT_IOC_SET_BPF` (`_IOW('$', 8, __u32)`).
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER1`; the bitfield word is `flags`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerfEventAttr {
    /// `type`: `PERF_TYPE_*`.
    pub type_: u32,
    /// `size`: [`PERF_ATTR_SIZE_VER1`].
    pub size: u32,
    /// `config`: event within the type, e.g. [`PERF_COUNT_SW_BPF_OUTPUT`].
    pub config: u64,
    /// `sample_period` (or `sample_freq` with the `freq` flag).
    pub sample_period: u64,
    /// `sample_type`: `PERF_SAMPLE_*` bits.
    pub sample_type: u64,
    /// `read_format`.
    pub read_format: u64,
    /// The bitfield word (`disabled`, `inherit`, ..., `watermark`, ...).
    pub flags: u64,
    /// `wakeup_events`, or `wakeup_watermark` in bytes with [`PERF_ATTR_FLAG_WATERMARK`].
    pub wakeup: u32,
    /// `bp_type`.
    pub bp_type: u32,
    /// `config1` (`bp_addr`, `kprobe_func`, `uprobe_path`).
    pub config1: u64,
    /// `config2` (`bp_len`, `kprobe_addr`, `probe_offset`).
    pub config2: u64,
}

const _: () = assert!(std::mem::size_of::<PerfEventAttr>() == PERF_ATTR_SIZE_VER1 as usize);

impl PerfEventAttr {
    /// A `PERF_COUNT_SW_BPF_OUTPUT` event with raw samples, waking readers every
    /// `wakeup_events` samples (at least 1), as perf buffers open per CPU.
    pub fn bpf_output(wakeup_events: u32) -> Self {
        Self {
            type_: PERF_TYPE_SOFTWARE,
            size: PERF_ATTR_SIZE_VER1,
            config: PERF_COUNT_SW_BPF_OUTPUT,
            sample_period: 1,
            sample_type: PERF_SAMPLE_RAW,
            wakeup: wakeup_events.max(1),
            ..Self::default()
        }
    }
}

/// perf_event_open(2): `pid` -1 with a `cpu` observes every task on that CPU; `group_fd` -1
/// for no group. `PERF_FLAG_FD_CLOEXEC` is always added.
pub fn perf_event_open(
    attr: &PerfEventAttr,
    pid: i32,
    cpu: i32,
    group_fd: Option<BorrowedFd<'_>>,
    flags: u64,
) -> SysResult<OwnedFd> {
    let group = group_fd.map_or(-1, |fd| fd.as_raw_fd());
    // SAFETY: the kernel reads `attr.size` bytes of a live `#[repr(C)]` record.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr as *const PerfEventAttr,
            pid as libc::c_long,
            cpu as libc::c_long,
            group as libc::c_long,
            (flags | PERF_FLAG_FD_CLOEXEC) as libc::c_ulong,
        )
    };
    if ret < 0 {
        return Err(last_error("perf_event_open"));
    }
    // SAFETY: the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

fn ioctl(
    fd: BorrowedFd<'_>,
    request: libc::c_ulong,
    arg: libc::c_ulong,
    call: &'static str,
) -> SysResult<()> {
    // SAFETY: perf ioctls with an integer argument; the fd is live for the call.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if ret < 0 {
        Err(last_error(call))
    } else {
        Ok(())
    }
}

/// `PERF_EVENT_IOC_ENABLE`.
pub fn perf_event_enable(fd: BorrowedFd<'_>) -> SysResult<()> {
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0, "PERF_EVENT_IOC_ENABLE")
}

/// `PERF_EVENT_IOC_DISABLE`.
pub fn perf_event_disable(fd: BorrowedFd<'_>) -> SysResult<()> {
    ioctl(fd, PERF_EVENT_IOC_DISABLE, 0, "PERF_EVENT_IOC_DISABLE")
}

/// `PERF_EVENT_IOC_SET_BPF`: attach `prog` to a tracepoint/kprobe/uprobe perf event.
pub fn perf_event_set_bpf(fd: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> SysResult<()> {
    ioctl(
        fd,
        PERF_EVENT_IOC_SET_BPF,
        prog.as_raw_fd() as libc::c_ulong,
        "PERF_EVENT_IOC_SET_BPF",
    )
}
