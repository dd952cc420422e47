//! The one place that calls the kernel: bpf(2) commands, one thin wrapper each, map mmap, and
//! perf_event_open(2) ([`perf_event`]).
//!
//! Every wrapper takes and returns owned or borrowed fds (`OwnedFd`, `BorrowedFd`) and reports
//! failures as [`SyscallError`], which keeps the command name and the errno. All bpf(2) calls
//! go through a single chokepoint, [`bpf`], that counts calls per thread so tests can observe
//! that an operation was (or was not) sent to the kernel: see [`bpf_calls_on_this_thread`].
//! bpf(2), perf_event_open(2), the perf ioctls and mmap(2) all pass [`seam`], which tests
//! replace per thread to inject errnos without a kernel.

pub mod attach;
mod commands;
pub mod fdtrace;
mod mmap;
pub mod net;
pub mod netlink;
pub mod perf_event;
pub mod seam;
pub mod tracefs;
#[allow(clippy::all, rustdoc::all, unsafe_op_in_unsafe_fn)]
pub mod uapi;

pub use commands::*;
pub use mmap::MmapRegion;

use std::cell::Cell;
use std::io;

/// A bpf(2) command, named as in `enum bpf_cmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// `BPF_MAP_CREATE`
    MapCreate,
    /// `BPF_MAP_LOOKUP_ELEM`
    MapLookupElem,
    /// `BPF_MAP_UPDATE_ELEM`
    MapUpdateElem,
    /// `BPF_MAP_DELETE_ELEM`
    MapDeleteElem,
    /// `BPF_MAP_GET_NEXT_KEY`
    MapGetNextKey,
    /// `BPF_PROG_LOAD`
    ProgLoad,
    /// `BPF_OBJ_PIN`
    ObjPin,
    /// `BPF_OBJ_GET`
    ObjGet,
    /// `BPF_PROG_ATTACH`
    ProgAttach,
    /// `BPF_PROG_DETACH`
    ProgDetach,
    /// `BPF_PROG_TEST_RUN`
    ProgTestRun,
    /// `BPF_PROG_GET_NEXT_ID`
    ProgGetNextId,
    /// `BPF_MAP_GET_NEXT_ID`
    MapGetNextId,
    /// `BPF_PROG_GET_FD_BY_ID`
    ProgGetFdById,
    /// `BPF_MAP_GET_FD_BY_ID`
    MapGetFdById,
    /// `BPF_OBJ_GET_INFO_BY_FD`
    ObjGetInfoByFd,
    /// `BPF_PROG_QUERY`
    ProgQuery,
    /// `BPF_RAW_TRACEPOINT_OPEN`
    RawTracepointOpen,
    /// `BPF_BTF_LOAD`
    BtfLoad,
    /// `BPF_BTF_GET_FD_BY_ID`
    BtfGetFdById,
    /// `BPF_TASK_FD_QUERY`
    TaskFdQuery,
    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`
    MapLookupAndDeleteElem,
    /// `BPF_MAP_FREEZE`
    MapFreeze,
    /// `BPF_BTF_GET_NEXT_ID`
    BtfGetNextId,
    /// `BPF_MAP_LOOKUP_BATCH`
    MapLookupBatch,
    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`
    MapLookupAndDeleteBatch,
    /// `BPF_MAP_UPDATE_BATCH`
    MapUpdateBatch,
    /// `BPF_MAP_DELETE_BATCH`
    MapDeleteBatch,
    /// `BPF_LINK_CREATE`
    LinkCreate,
    /// `BPF_LINK_UPDATE`
    LinkUpdate,
    /// `BPF_LINK_GET_FD_BY_ID`
    LinkGetFdById,
    /// `BPF_LINK_GET_NEXT_ID`
    LinkGetNextId,
    /// `BPF_ENABLE_STATS`
    EnableStats,
    /// `BPF_ITER_CREATE`
    IterCreate,
    /// `BPF_LINK_DETACH`
    LinkDetach,
    /// `BPF_PROG_BIND_MAP`
    ProgBindMap,
    /// `BPF_TOKEN_CREATE`
    TokenCreate,
}

impl Command {
    /// The `enum bpf_cmd` number passed to bpf(2).
    pub fn number(self) -> u32 {
        use uapi::*;
        match self {
            Self::MapCreate => BPF_MAP_CREATE,
            Self::MapLookupElem => BPF_MAP_LOOKUP_ELEM,
            Self::MapUpdateElem => BPF_MAP_UPDATE_ELEM,
            Self::MapDeleteElem => BPF_MAP_DELETE_ELEM,
            Self::MapGetNextKey => BPF_MAP_GET_NEXT_KEY,
            Self::ProgLoad => BPF_PROG_LOAD,
            Self::ObjPin => BPF_OBJ_PIN,
            Self::ObjGet => BPF_OBJ_GET,
            Self::ProgAttach => BPF_PROG_ATTACH,
            Self::ProgDetach => BPF_PROG_DETACH,
            Self::ProgTestRun => BPF_PROG_TEST_RUN,
            Self::ProgGetNextId => BPF_PROG_GET_NEXT_ID,
            Self::MapGetNextId => BPF_MAP_GET_NEXT_ID,
            Self::ProgGetFdById => BPF_PROG_GET_FD_BY_ID,
            Self::MapGetFdById => BPF_MAP_GET_FD_BY_ID,
            Self::ObjGetInfoByFd => BPF_OBJ_GET_INFO_BY_FD,
            Self::ProgQuery => BPF_PROG_QUERY,
            Self::RawTracepointOpen => BPF_RAW_TRACEPOINT_OPEN,
            Self::BtfLoad => BPF_BTF_LOAD,
            Self::BtfGetFdById => BPF_BTF_GET_FD_BY_ID,
            Self::TaskFdQuery => BPF_TASK_FD_QUERY,
            Self::MapLookupAndDeleteElem => BPF_MAP_LOOKUP_AND_DELETE_ELEM,
            Self::MapFreeze => BPF_MAP_FREEZE,
            Self::BtfGetNextId => BPF_BTF_GET_NEXT_ID,
            Self::MapLookupBatch => BPF_MAP_LOOKUP_BATCH,
            Self::MapLookupAndDeleteBatch => BPF_MAP_LOOKUP_AND_DELETE_BATCH,
            Self::MapUpdateBatch => BPF_MAP_UPDATE_BATCH,
            Self::MapDeleteBatch => BPF_MAP_DELETE_BATCH,
            Self::LinkCreate => BPF_LINK_CREATE,
            Self::LinkUpdate => BPF_LINK_UPDATE,
            Self::LinkGetFdById => BPF_LINK_GET_FD_BY_ID,
            Self::LinkGetNextId => BPF_LINK_GET_NEXT_ID,
            Self::EnableStats => BPF_ENABLE_STATS,
            Self::IterCreate => BPF_ITER_CREATE,
            Self::LinkDetach => BPF_LINK_DETACH,
            Self::ProgBindMap => BPF_PROG_BIND_MAP,
            Self::TokenCreate => uapi::BPF_TOKEN_CREATE,
        }
    }

    /// The kernel's name of the command, e.g. `BPF_MAP_CREATE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::MapCreate => "BPF_MAP_CREATE",
            Self::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Self::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Self::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Self::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Self::ProgLoad => "BPF_PROG_LOAD",
            Self::ObjPin => "BPF_OBJ_PIN",
            Self::ObjGet => "BPF_OBJ_GET",
            Self::ProgAttach => "BPF_PROG_ATTACH",
            Self::ProgDetach => "BPF_PROG_DETACH",
            Self::ProgTestRun => "BPF_PROG_TEST_RUN",
            Self::ProgGetNextId => "BPF_PROG_GET_NEXT_ID",
            Self::MapGetNextId => "BPF_MAP_GET_NEXT_ID",
            Self::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Self::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Self::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Self::ProgQuery => "BPF_PROG_QUERY",
            Self::RawTracepointOpen => "BPF_RAW_TRACEPOINT_OPEN",
            Self::BtfLoad => "BPF_BTF_LOAD",
            Self::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Self::TaskFdQuery => "BPF_TASK_FD_QUERY",
            Self::MapLookupAndDeleteElem => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
            Self::MapFreeze => "BPF_MAP_FREEZE",
            Self::BtfGetNextId => "BPF_BTF_GET_NEXT_ID",
            Self::MapLookupBatch => "BPF_MAP_LOOKUP_BATCH",
            Self::MapLookupAndDeleteBatch => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
            Self::MapUpdateBatch => "BPF_MAP_UPDATE_BATCH",
            Self::MapDeleteBatch => "BPF_MAP_DELETE_BATCH",
            Self::LinkCreate => "BPF_LINK_CREATE",
            Self::LinkUpdate => "BPF_LINK_UPDATE",
            Self::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
            Self::LinkGetNextId => "BPF_LINK_GET_NEXT_ID",
            Self::EnableStats => "BPF_ENABLE_STATS",
            Self::IterCreate => "BPF_ITER_CREATE",
            Self::LinkDetach => "BPF_LINK_DETACH",
            Self::ProgBindMap => "BPF_PROG_BIND_MAP",
            Self::TokenCreate => "BPF_TOKEN_CREATE",
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed system call: which one, and the errno the kernel returned.
///
/// A leaf of error chains: its Display says the call and the errno, and it has no
/// [`source`](std::error::Error::source) (the errno is not a separate error).
#[derive(Debug, thiserror::Error)]
#[error("{call} failed: {io_error}")]
pub struct SyscallError {
    /// The call, e.g. `BPF_MAP_CREATE` or `mmap`.
    pub call: &'static str,
    /// The errno, as an [`io::Error`].
    pub io_error: io::Error,
}

impl SyscallError {
    /// The raw errno (`libc::ENOENT`, ...), if the error carries one.
    pub fn errno(&self) -> Option<i32> {
        self.io_error.raw_os_error()
    }
}

/// The result of one wrapper.
pub type SysResult<T> = Result<T, SyscallError>;

thread_local! {
    static BPF_CALLS: Cell<u64> = const { Cell::new(0) };
}

/// How many bpf(2) calls this thread has issued so far, through [`bpf`].
///
/// Tests use it to show that an operation was refused before reaching the kernel:
/// ```
/// let before = bpfkit::sys::bpf_calls_on_this_thread();
/// assert_eq!(bpfkit::sys::bpf_calls_on_this_thread(), before);
/// ```
pub fn bpf_calls_on_this_thread() -> u64 {
    BPF_CALLS.with(|c| c.get())
}

/// Issue bpf(2) with `attr`, passing `size_of::<A>()` as the attr size: the chokepoint.
///
/// Returns the kernel's non-negative return value (an fd number for fd-creating commands).
///
/// # Safety
/// Every pointer stored (as a `u64`) in `attr` must be valid for the kernel to read or write
/// as the command documents, for the duration of the call.
pub unsafe fn bpf<A: uapi::Zeroable>(command: Command, attr: &mut A) -> SysResult<i64> {
    // SAFETY: the caller's contract, with the whole record as the attr.
    unsafe { bpf_prefix(command, attr, std::mem::size_of::<A>()) }
}

/// [`bpf`] passing only the first `size` bytes of `attr` (as libbpf's `offsetofend` of
/// the command's last field): the kernel copies and checks less on hot paths.
///
/// # Safety
/// As [`bpf`]; `size` must not exceed `size_of::<A>()` (it is clamped).
pub unsafe fn bpf_prefix<A: uapi::Zeroable>(
    command: Command,
    attr: &mut A,
    size: usize,
) -> SysResult<i64> {
    let size = size.min(std::mem::size_of::<A>());
    BPF_CALLS.with(|c| c.set(c.get() + 1));
    let ret = seam::call(seam::Call::Bpf(command), || {
        // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` record of the given
        // size; the caller guarantees the pointers inside it.
        unsafe {
            libc::syscall(
                libc::SYS_bpf,
                command.number() as libc::c_long,
                attr as *mut A as *mut libc::c_void,
                size as libc::c_uint,
            )
        }
    });
    if ret < 0 {
        Err(SyscallError {
            call: command.name(),
            io_error: io::Error::last_os_error(),
        })
    } else {
        Ok(ret)
    }
}

/// A zero-filled UAPI record, as every bpf(2) attr must start.
pub fn zeroed<T: uapi::Zeroable>() -> T {
    // SAFETY: `Zeroable` promises that all-zero bytes are a valid `T`.
    unsafe { std::mem::zeroed() }
}
