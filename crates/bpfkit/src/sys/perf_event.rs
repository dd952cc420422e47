//! perf_event_open(2) and the perf event ioctls, with owned fds: the one perf wrapper.
//!
//! Used by the attach paths (tracepoint/kprobe/uprobe/sampling events, `PERF_EVENT_IOC_SET_BPF`)
//! and by the perf buffer reader (`PERF_COUNT_SW_BPF_OUTPUT` rings). `struct perf_event_attr` is
//! written out here (`PERF_ATTR_SIZE_VER8`, 136 bytes) because the generated UAPI covers
//! `<linux/bpf.h>` only; the field offsets follow `<linux/perf_event.h>`. Older kernels accept
//! the larger record because every field they do not know is zero.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::commands::last_error;
use super::seam::{self, Call, PerfIoctl};
use super::SysResult;

/// `PERF_TYPE_HARDWARE`.
pub const PERF_TYPE_HARDWARE: u32 = 0;
/// `PERF_TYPE_SOFTWARE`.
pub const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_TYPE_TRACEPOINT`.
pub const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `PERF_COUNT_SW_CPU_CLOCK`.
pub const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;
/// `PERF_COUNT_SW_BPF_OUTPUT`: the event `bpf_perf_event_output` writes samples to.
pub const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// `PERF_SAMPLE_RAW`: samples carry a `u32 size; u8 data[size]` payload.
pub const PERF_SAMPLE_RAW: u64 = 1 << 10;
/// `PERF_RECORD_LOST`: the kernel dropped samples because the ring was full.
pub const PERF_RECORD_LOST: u32 = 2;
/// `PERF_RECORD_SAMPLE`: one sample.
pub const PERF_RECORD_SAMPLE: u32 = 9;
/// `PERF_ATTR_SIZE_VER8`: the size of [`PerfEventAttr`].
pub const PERF_ATTR_SIZE_VER8: u32 = 136;
/// `PERF_FLAG_FD_CLOEXEC`.
pub const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

/// `perf_event_attr.disabled` bit.
pub const ATTR_FLAG_DISABLED: u64 = 1 << 0;
/// `perf_event_attr.freq` bit: `sample_period` is a frequency.
pub const ATTR_FLAG_FREQ: u64 = 1 << 10;
/// `perf_event_attr.watermark` bit: wake up by bytes, not events.
pub const ATTR_FLAG_WATERMARK: u64 = 1 << 14;

/// `PERF_EVENT_IOC_ENABLE` = `_IO('$', 0)`.
pub const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
/// `PERF_EVENT_IOC_DISABLE` = `_IO('$', 1)`.
pub const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
/// `PERF_EVENT_IOC_SET_BPF` = `_IOW('$', 8, __u32)`.
pub const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// `struct perf_event_attr` up to `config3` (`PERF_ATTR_SIZE_VER8`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerfEventAttr {
    /// `type`: `PERF_TYPE_*` or a dynamic PMU type (kprobe, uprobe).
    pub type_: u32,
    /// `size`: [`PERF_ATTR_SIZE_VER8`].
    pub size: u32,
    /// `config`: event selector (tracepoint id, `PERF_COUNT_*`, retprobe bit).
    pub config: u64,
    /// `sample_period`, or `sample_freq` (the same union) with [`ATTR_FLAG_FREQ`].
    pub sample_period: u64,
    /// `sample_type`: `PERF_SAMPLE_*`.
    pub sample_type: u64,
    /// `read_format`.
    pub read_format: u64,
    /// The flag bitfield (`disabled`, `freq`, `watermark`, ...).
    pub flags: u64,
    /// `wakeup_events`, or `wakeup_watermark` in bytes (the same union) with
    /// [`ATTR_FLAG_WATERMARK`].
    pub wakeup_events: u32,
    /// `bp_type`.
    pub bp_type: u32,
    /// `config1`: `kprobe_func` / `uprobe_path` pointer.
    pub config1: u64,
    /// `config2`: `kprobe_addr` / `probe_offset`.
    pub config2: u64,
    /// `branch_sample_type`.
    pub branch_sample_type: u64,
    /// `sample_regs_user`.
    pub sample_regs_user: u64,
    /// `sample_stack_user`.
    pub sample_stack_user: u32,
    /// `clockid`.
    pub clockid: i32,
    /// `sample_regs_intr`.
    pub sample_regs_intr: u64,
    /// `aux_watermark`.
    pub aux_watermark: u32,
    /// `sample_max_stack`.
    pub sample_max_stack: u16,
    /// `__reserved_2`.
    pub reserved_2: u16,
    /// `aux_sample_size`.
    pub aux_sample_size: u32,
    /// `__reserved_3`.
    pub reserved_3: u32,
    /// `sig_data`.
    pub sig_data: u64,
    /// `config3`.
    pub config3: u64,
}

const _: () = assert!(std::mem::size_of::<PerfEventAttr>() == PERF_ATTR_SIZE_VER8 as usize);

impl PerfEventAttr {
    /// A zeroed attr of the given type and config, with `size` set.
    pub fn new(type_: u32, config: u64) -> Self {
        Self {
            type_,
            size: PERF_ATTR_SIZE_VER8,
            config,
            ..Default::default()
        }
    }

    /// A `PERF_COUNT_SW_BPF_OUTPUT` event with raw samples, waking readers every
    /// `wakeup_events` samples (at least 1), as perf buffers open per CPU.
    pub fn bpf_output(wakeup_events: u32) -> Self {
        Self {
            sample_period: 1,
            sample_type: PERF_SAMPLE_RAW,
            wakeup_events: wakeup_events.max(1),
            ..Self::new(PERF_TYPE_SOFTWARE, PERF_COUNT_SW_BPF_OUTPUT)
        }
    }
}

/// perf_event_open(2): `pid` -1 with a `cpu` means all tasks on that CPU; `pid` 0 the caller;
/// `group_fd` `None` for no group. `PERF_FLAG_FD_CLOEXEC` is always set.
///
/// The caller keeps any string pointed to by `config1` alive for the call (kprobe/uprobe PMU).
pub fn perf_event_open(
    attr: &PerfEventAttr,
    pid: i32,
    cpu: i32,
    group_fd: Option<BorrowedFd<'_>>,
) -> SysResult<OwnedFd> {
    let group = group_fd.map_or(-1, |f| f.as_raw_fd());
    let call = Call::PerfEventOpen {
        type_: attr.type_,
        config: attr.config,
        pid,
        cpu,
    };
    let ret = seam::call(call, || {
        // SAFETY: `attr` is a live `#[repr(C)]` perf_event_attr with `size` set; pointers in
        // config1 are kept alive by the caller.
        unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr as *const PerfEventAttr,
                pid as libc::c_long,
                cpu as libc::c_long,
                group as libc::c_long,
                PERF_FLAG_FD_CLOEXEC,
            )
        }
    });
    if ret < 0 {
        return Err(last_error("perf_event_open"));
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { super::fdtrace::own(ret as i32, "perf event") })
}

fn ioctl(
    fd: BorrowedFd<'_>,
    which: PerfIoctl,
    request: libc::c_ulong,
    arg: libc::c_ulong,
    call: &'static str,
) -> SysResult<()> {
    let ret = seam::call(Call::PerfIoctl(which), || {
        // SAFETY: the perf ioctls used here take an integer argument, no pointers; the fd is
        // live for the call. `request as _`: glibc's ioctl takes c_ulong, musl's c_int.
        i64::from(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) })
    });
    if ret < 0 {
        Err(last_error(call))
    } else {
        Ok(())
    }
}

/// `PERF_EVENT_IOC_SET_BPF`: run `prog` when the event fires (tracepoint, kprobe, uprobe and
/// sampling events).
pub fn perf_event_set_bpf(event: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> SysResult<()> {
    ioctl(
        event,
        PerfIoctl::SetBpf,
        PERF_EVENT_IOC_SET_BPF,
        prog.as_raw_fd() as libc::c_ulong,
        "PERF_EVENT_IOC_SET_BPF",
    )
}

/// `PERF_EVENT_IOC_ENABLE`.
pub fn perf_event_enable(event: BorrowedFd<'_>) -> SysResult<()> {
    ioctl(
        event,
        PerfIoctl::Enable,
        PERF_EVENT_IOC_ENABLE,
        0,
        "PERF_EVENT_IOC_ENABLE",
    )
}

/// `PERF_EVENT_IOC_DISABLE`.
pub fn perf_event_disable(event: BorrowedFd<'_>) -> SysResult<()> {
    ioctl(
        event,
        PerfIoctl::Disable,
        PERF_EVENT_IOC_DISABLE,
        0,
        "PERF_EVENT_IOC_DISABLE",
    )
}

/// A C string for a `config1` pointer, or `None` when `s` contains a NUL.
pub fn c_string(s: &str) -> Option<std::ffi::CString> {
    std::ffi::CString::new(s).ok()
}

/// The address of a C string as `config1` wants it.
pub fn c_str_addr(s: &CStr) -> u64 {
    s.as_ptr() as u64
}

/// The dynamic PMU type of `/sys/bus/event_source/devices/<pmu>/type` (`kprobe`, `uprobe`),
/// `None` when the kernel has no such PMU.
pub fn dynamic_pmu_type(pmu: &str) -> Option<u32> {
    let path = format!("/sys/bus/event_source/devices/{pmu}/type");
    crate::sys::fdtrace::read_to_string(path, "sysfs file")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The first bit of a PMU format field, from `/sys/bus/event_source/devices/<pmu>/format/<field>`
/// (`config:0` → 0, `config:32-63` → 32).
pub fn pmu_format_bit(pmu: &str, field: &str) -> Option<u32> {
    let path = format!("/sys/bus/event_source/devices/{pmu}/format/{field}");
    let text = crate::sys::fdtrace::read_to_string(path, "sysfs file").ok()?;
    let bits = text.trim().strip_prefix("config:")?;
    bits.split('-').next()?.parse().ok()
}
