//! BPF helper calls: raw bindings for every helper ([`generated`]) and safe wrappers for the
//! common ones (current task identity, time, probe reads, comm).
//!
//! Errors are the helper's negative errno, returned as `Err(i64)`.

#[rustfmt::skip]
pub mod generated;

use core::ffi::c_void;
use core::mem::MaybeUninit;

pub use generated::*;

/// Turns a helper's `long` return value into `Ok(value)` or `Err(negative errno)`.
#[inline(always)]
pub(crate) fn check(ret: i64) -> Result<i64, i64> {
    if ret < 0 {
        Err(ret)
    } else {
        Ok(ret)
    }
}

/// `bpf_get_current_pid_tgid()`: `tgid << 32 | pid` of the current task (kernel's view: the
/// userspace "PID" is the tgid, the userspace "TID" is the pid).
#[inline(always)]
pub fn current_pid_tgid() -> u64 {
    // SAFETY: takes no arguments and cannot fail.
    unsafe { bpf_get_current_pid_tgid() }
}

/// The userspace process id (the kernel's tgid) of the current task.
#[inline(always)]
pub fn current_tgid() -> u32 {
    (current_pid_tgid() >> 32) as u32
}

/// The userspace thread id (the kernel's pid) of the current task.
#[inline(always)]
pub fn current_pid() -> u32 {
    current_pid_tgid() as u32
}

/// `bpf_get_current_uid_gid()`: `gid << 32 | uid` of the current task.
#[inline(always)]
pub fn current_uid_gid() -> u64 {
    // SAFETY: takes no arguments and cannot fail.
    unsafe { bpf_get_current_uid_gid() }
}

/// The real user id of the current task.
#[inline(always)]
pub fn current_uid() -> u32 {
    current_uid_gid() as u32
}

/// The real group id of the current task.
#[inline(always)]
pub fn current_gid() -> u32 {
    (current_uid_gid() >> 32) as u32
}

/// `bpf_get_current_comm()`: the current task's command name, NUL-padded.
#[inline(always)]
pub fn current_comm() -> Result<[u8; 16], i64> {
    let mut comm = [0u8; 16];
    // SAFETY: `comm` is a writable 16-byte buffer and the size passed says so.
    let ret = unsafe { bpf_get_current_comm(comm.as_mut_ptr().cast(), comm.len() as u32) };
    check(ret).map(|_| comm)
}

/// `bpf_get_current_comm()` straight into `dest` (e.g. a field of a ring buffer entry),
/// avoiding the stack copy of [`current_comm`].
#[inline(always)]
pub fn current_comm_into(dest: &mut [u8; 16]) -> Result<(), i64> {
    // SAFETY: `dest` is a writable 16-byte buffer and the size passed says so.
    let ret = unsafe { bpf_get_current_comm(dest.as_mut_ptr().cast(), dest.len() as u32) };
    check(ret).map(|_| ())
}

/// `bpf_get_current_task()`: address of the current `task_struct` (read it with
/// [`probe_read_kernel`]).
#[inline(always)]
pub fn current_task() -> *const crate::bindings::task_struct {
    // SAFETY: takes no arguments and cannot fail.
    unsafe { bpf_get_current_task() as *const crate::bindings::task_struct }
}

/// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC in nanoseconds.
#[inline(always)]
pub fn ktime_get_ns() -> u64 {
    // SAFETY: takes no arguments and cannot fail.
    unsafe { bpf_ktime_get_ns() }
}

/// `bpf_ktime_get_boot_ns()`: CLOCK_BOOTTIME in nanoseconds (counts suspend).
#[inline(always)]
pub fn ktime_get_boot_ns() -> u64 {
    // SAFETY: takes no arguments and cannot fail.
    unsafe { bpf_ktime_get_boot_ns() }
}

/// `bpf_get_smp_processor_id()`: the CPU the program runs on.
#[inline(always)]
pub fn smp_processor_id() -> u32 {
    // SAFETY: takes no arguments and cannot fail.
    unsafe { bpf_get_smp_processor_id() }
}

/// `bpf_get_prandom_u32()`: a pseudo-random number.
#[inline(always)]
pub fn prandom_u32() -> u32 {
    // SAFETY: takes no arguments and cannot fail.
    unsafe { bpf_get_prandom_u32() }
}

macro_rules! probe_read_value {
    ($(#[$doc:meta])* $name:ident, $helper:ident) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name<T: Copy>(src: *const T) -> Result<T, i64> {
            let mut value = MaybeUninit::<T>::uninit();
            // SAFETY: the destination is a `T`-sized stack slot; the helper faults safely on
            // a bad `src` and then zeroes the destination and returns an error.
            let ret = unsafe {
                $helper(
                    value.as_mut_ptr().cast(),
                    core::mem::size_of::<T>() as u32,
                    src.cast::<c_void>(),
                )
            };
            check(ret)?;
            // SAFETY: the helper succeeded, so all `size_of::<T>()` bytes were written, and
            // `T: Copy` is plain data (the caller vouches any bit pattern is a valid `T`).
            Ok(unsafe { value.assume_init() })
        }
    };
}

probe_read_value!(
    /// `bpf_probe_read_user()`: copies a `T` from a userspace address.
    probe_read_user,
    bpf_probe_read_user
);
probe_read_value!(
    /// `bpf_probe_read_kernel()`: copies a `T` from a kernel address.
    probe_read_kernel,
    bpf_probe_read_kernel
);

macro_rules! probe_read_buf {
    ($(#[$doc:meta])* $name:ident, $helper:ident) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(src: *const u8, dest: &mut [u8]) -> Result<(), i64> {
            // SAFETY: `dest` is writable for `dest.len()` bytes; the helper faults safely on a
            // bad `src`.
            let ret = unsafe { $helper(dest.as_mut_ptr().cast(), dest.len() as u32, src.cast()) };
            check(ret).map(|_| ())
        }
    };
}

probe_read_buf!(
    /// `bpf_probe_read_user()` into a byte buffer: fills all of `dest` from user memory.
    probe_read_user_buf,
    bpf_probe_read_user
);
probe_read_buf!(
    /// `bpf_probe_read_kernel()` into a byte buffer: fills all of `dest` from kernel memory.
    probe_read_kernel_buf,
    bpf_probe_read_kernel
);

macro_rules! probe_read_str {
    ($(#[$doc:meta])* $name:ident, $helper:ident) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(src: *const u8, dest: &mut [u8]) -> Result<&[u8], i64> {
            // SAFETY: `dest` is writable for `dest.len()` bytes; the helper writes at most that
            // many, always NUL-terminated, and faults safely on a bad `src`.
            let ret = unsafe { $helper(dest.as_mut_ptr().cast(), dest.len() as u32, src.cast()) };
            let with_nul = check(ret)? as usize;
            // On success the helper returns the length including the NUL (at least 1), so
            // `len` is at most `dest.len() - 1`; a 0 would wrap and fail the `get`, which
            // keeps this panic-free and gives the verifier its upper bound in one branch.
            let len = with_nul.wrapping_sub(1);
            dest.get(..len).ok_or(-7) // -E2BIG: the kernel claimed more than the buffer
        }
    };
}

probe_read_str!(
    /// `bpf_probe_read_user_str()`: copies a NUL-terminated user string into `dest` and
    /// returns the bytes read, without the NUL (truncated to `dest.len() - 1`).
    probe_read_user_str_bytes,
    bpf_probe_read_user_str
);
probe_read_str!(
    /// `bpf_probe_read_kernel_str()`: copies a NUL-terminated kernel string into `dest` and
    /// returns the bytes read, without the NUL (truncated to `dest.len() - 1`).
    probe_read_kernel_str_bytes,
    bpf_probe_read_kernel_str
);

/// `bpf_send_signal()`: sends `signal` to the current process.
#[inline(always)]
pub fn send_signal(signal: u32) -> Result<(), i64> {
    // SAFETY: the helper validates the signal number.
    check(unsafe { bpf_send_signal(signal) }).map(|_| ())
}

/// What [`printk!`](crate::printk) expands to: `bpf_trace_printk` with up to three arguments.
#[doc(hidden)]
#[inline(always)]
pub fn __printk(fmt: &'static str, args: &[u64]) -> i64 {
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: `fmt` is a NUL-terminated static string (the macro appends the NUL) and its
    // length is passed with it; the kernel checks the format against the arguments.
    unsafe {
        bpf_trace_printk(
            fmt.as_ptr().cast(),
            fmt.len() as u32,
            arg(0),
            arg(1),
            arg(2),
        )
    }
}
