//! The one seam every kernel call passes: bpf(2), perf_event_open(2), the perf event ioctls,
//! mmap(2) of kernel objects, the readers' epoll calls and their tokio reactor's answers,
//! rtnetlink requests and the library's file opens. Tests replace it per thread with [`with_override`] to make
//! a call fail with an errno, or succeed with a value they provide, without a kernel and
//! without privileges.
//!
//! ```
//! use bpfkit::sys::seam::{self, Call, Reply};
//! use bpfkit::sys::Command;
//! let err = seam::with_override(
//!     |call| match call {
//!         Call::Bpf(Command::MapCreate) => Reply::Errno(libc::ENOSPC),
//!         _ => Reply::Kernel,
//!     },
//!     || {
//!         bpfkit::sys::map_create(&bpfkit::sys::MapCreateAttr {
//!             map_type: 2,
//!             key_size: 4,
//!             value_size: 4,
//!             max_entries: 1,
//!             ..Default::default()
//!         })
//!     },
//! )
//! .unwrap_err();
//! assert_eq!(err.errno(), Some(libc::ENOSPC));
//! ```

use std::cell::Cell;
use std::ptr::NonNull;

use super::Command;

/// A perf event ioctl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PerfIoctl {
    /// `PERF_EVENT_IOC_SET_BPF`
    SetBpf,
    /// `PERF_EVENT_IOC_ENABLE`
    Enable,
    /// `PERF_EVENT_IOC_DISABLE`
    Disable,
}

/// A kernel call as the seam sees it, before it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call {
    /// bpf(2) with this command.
    Bpf(Command),
    /// perf_event_open(2) of an event of `type_`/`config` for `pid` on `cpu`.
    PerfEventOpen {
        /// `perf_event_attr.type`.
        type_: u32,
        /// `perf_event_attr.config`.
        config: u64,
        /// The pid argument.
        pid: i32,
        /// The cpu argument.
        cpu: i32,
    },
    /// A perf event ioctl.
    PerfIoctl(PerfIoctl),
    /// mmap(2) of `len` bytes of a kernel object's fd with `prot`.
    Mmap {
        /// The length.
        len: usize,
        /// The `PROT_*` bits.
        prot: i32,
    },
    /// epoll_create1(2) of a readers' wait set.
    EpollCreate,
    /// epoll_ctl(2) `EPOLL_CTL_ADD` of a reader's fd.
    EpollCtl,
    /// epoll_wait(2) of a readers' wait set.
    EpollWait,
    /// One rtnetlink request (sent, and its ack received) named as its errors name it
    /// (`RTM_SETLINK IFLA_XDP`, `RTM_NEWTFILTER bpf`, ...), or the opening of the socket
    /// (`socket(AF_NETLINK, NETLINK_ROUTE)`). [`Reply::Return`] acks a request without the
    /// kernel (a query then finds nothing); a socket is always really opened.
    Netlink {
        /// The request.
        request: &'static str,
    },
    /// An open(2) of a file by the library (`sys::fdtrace::open`): `what` is its kind as the
    /// fd tracer records it (`"vmlinux BTF"`, `"tracefs file"`, `"proc file"`, ...).
    /// [`Reply::Return`] counts as [`Reply::Kernel`]: a file is always really opened.
    Open {
        /// The kind of file.
        what: &'static str,
    },
    /// The registration of a reader's fd with the tokio reactor (`AsyncFd`, an
    /// `epoll_ctl(EPOLL_CTL_ADD)` made by the reactor). [`Reply::Return`] counts as
    /// [`Reply::Kernel`].
    ReactorRegister,
    /// The tokio reactor's answer to an async reader waiting for readiness (its epoll_wait);
    /// decided after the wait. [`Reply::Errno`] replaces a readiness by that error;
    /// [`Reply::Return`] counts as [`Reply::Kernel`].
    ReactorReady,
}

/// What the override answers for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Make the real call.
    Kernel,
    /// Fail with this errno (as the kernel would: the wrapper sees -1 and `errno`).
    Errno(i32),
    /// Succeed with this return value without calling the kernel. For calls that return an
    /// fd (fd-creating bpf commands, perf_event_open) it must be an fd the override gives up:
    /// the wrapper takes ownership and closes it. For `Mmap` it must be the address of a
    /// mapping of at least `len` bytes that the returned region then owns (and unmaps). For
    /// `EpollWait` any value counts as 0 ready fds (nothing wrote the events).
    Return(i64),
}

type Handler<'a> = dyn FnMut(&Call) -> Reply + 'a;

thread_local! {
    /// The current thread's override, if any: a pointer to a handler living on the stack of
    /// a [`with_override`] frame of this thread.
    static OVERRIDE: Cell<Option<NonNull<Handler<'static>>>> = const { Cell::new(None) };
}

/// Run `body` with `handler` deciding every kernel call this thread makes through the seam.
///
/// The handler sees each call before it is made and answers with a [`Reply`]. Calls made by
/// the handler itself go to the kernel (the override is not re-entered). Other threads are
/// not affected. Overrides nest: the innermost one decides, and the outer one is restored
/// when `body` returns or panics.
pub fn with_override<R>(handler: impl FnMut(&Call) -> Reply, body: impl FnOnce() -> R) -> R {
    let mut handler = handler;
    let handler: &mut Handler<'_> = &mut handler;
    // SAFETY: only the lifetime is erased. The pointer is stored for the duration of `body`
    // and removed by `Restore` (also on unwind) before `handler` goes out of scope; it is
    // only dereferenced on this thread (thread-local), never while another reference to the
    // handler is live (`decide` takes it out of the cell while calling it).
    let erased: NonNull<Handler<'static>> = unsafe {
        std::mem::transmute::<NonNull<Handler<'_>>, NonNull<Handler<'static>>>(NonNull::from(
            handler,
        ))
    };
    struct Restore(Option<NonNull<Handler<'static>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OVERRIDE.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(OVERRIDE.with(|o| o.replace(Some(erased))));
    body()
}

/// The override's answer for `call` ([`Reply::Kernel`] without one).
pub(crate) fn decide(call: &Call) -> Reply {
    let Some(mut handler) = OVERRIDE.with(|o| o.take()) else {
        return Reply::Kernel;
    };
    struct PutBack(NonNull<Handler<'static>>);
    impl Drop for PutBack {
        fn drop(&mut self) {
            OVERRIDE.with(|o| o.set(Some(self.0)));
        }
    }
    let _put_back = PutBack(handler);
    // SAFETY: the pointer came from a live `with_override` frame of this thread (it is
    // removed before that frame ends); it was taken out of the cell, so this is the only
    // reference to the handler until `PutBack` stores it again.
    unsafe { handler.as_mut()(call) }
}

/// How many times a call interrupted by a signal (`EINTR`) is made again before the `EINTR`
/// is reported. `EINTR` means the kernel did nothing and the call may simply be repeated
/// (the kernel restarts it itself only for handlers installed with `SA_RESTART`); the bound
/// keeps a signal storm, or an override answering `EINTR` every time, from looping forever.
/// `epoll_wait` is not repeated: it returns "nothing ready" and the caller's loop waits again.
pub const EINTR_RETRIES: u32 = 8;

/// Run `call` through the seam: `kernel` makes the real call (returning its raw result, -1
/// with `errno` set on failure) unless the override answers. An injected errno is stored in
/// `errno` so the wrappers read it exactly as they read the kernel's. A call failing with
/// `EINTR` (from the kernel or the override) is made again, up to [`EINTR_RETRIES`] times.
pub(crate) fn call(call: Call, mut kernel: impl FnMut() -> i64) -> i64 {
    let mut interrupted = 0;
    loop {
        let ret = match decide(&call) {
            Reply::Kernel => kernel(),
            Reply::Errno(errno) => {
                set_errno(errno);
                -1
            }
            Reply::Return(value) => value,
        };
        if ret < 0
            && call != Call::EpollWait
            && interrupted < EINTR_RETRIES
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
        {
            interrupted += 1;
            continue;
        }
        return ret;
    }
}

fn set_errno(errno: i32) {
    // SAFETY: `__errno_location` returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = errno };
}
