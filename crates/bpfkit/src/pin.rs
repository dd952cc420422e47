//! Pinning: give maps, programs and links a name on a bpffs, open them back, remove pins.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys::{self, ObjectKind, SyscallError};

/// `BPF_FS_MAGIC`: `statfs(2)` type of a bpffs.
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Errors of pinning and opening pins. Each names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The path contains a NUL byte.
    #[error("pin path {path:?} contains a NUL byte")]
    InvalidPath {
        /// The path.
        path: PathBuf,
    },
    /// The kernel refused to pin or open.
    #[error("pin {path:?}")]
    Syscall {
        /// The path.
        path: PathBuf,
        /// The call and errno.
        #[source]
        source: SyscallError,
    },
    /// The pinned object is not a usable map.
    #[error("pin {path:?}")]
    Map {
        /// The path.
        path: PathBuf,
        /// Why the map could not be opened.
        #[source]
        source: Box<crate::maps::MapError>,
    },
    /// The pin holds another kind of object than the caller asked for.
    #[error("{path:?} is a pinned {}, not a {expected}", actual.map_or("non-BPF file", ObjectKind::noun))]
    WrongKind {
        /// The path.
        path: PathBuf,
        /// The kind asked for.
        expected: ObjectKind,
        /// The kind found (`None`: not a BPF object).
        actual: Option<ObjectKind>,
    },
    /// Mounting a bpffs failed.
    #[error("mount bpffs on {path:?}")]
    Mount {
        /// The mount point.
        path: PathBuf,
        /// The error of mount(2).
        #[source]
        source: std::io::Error,
    },
    /// Removing the pin failed.
    #[error("unpin {path:?}")]
    Unpin {
        /// The path.
        path: PathBuf,
        /// The error of unlink(2).
        #[source]
        source: std::io::Error,
    },
}

fn c_path(path: &Path) -> Result<CString, PinError> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| PinError::InvalidPath {
        path: path.to_owned(),
    })
}

/// Pin any bpf object fd (map, program, link) at `path`.
pub fn pin_fd(fd: BorrowedFd<'_>, path: &Path) -> Result<(), PinError> {
    let c = c_path(path)?;
    sys::obj_pin(fd, &c).map_err(|source| PinError::Syscall {
        path: path.to_owned(),
        source,
    })
}

/// Open the object pinned at `path`, read-write.
pub fn open_pinned(path: &Path) -> Result<OwnedFd, PinError> {
    let c = c_path(path)?;
    sys::obj_get(&c, 0).map_err(|source| PinError::Syscall {
        path: path.to_owned(),
        source,
    })
}

/// Open the object pinned at `path`, read-write, checking that it is a `kind` (a map pin
/// opened as a program would otherwise read one info record as the other).
pub fn open_pinned_kind(path: &Path, kind: ObjectKind) -> Result<OwnedFd, PinError> {
    let fd = open_pinned(path)?;
    match ObjectKind::of_fd(fd.as_fd()) {
        Some(actual) if actual == kind => Ok(fd),
        actual => Err(PinError::WrongKind {
            path: path.to_owned(),
            expected: kind,
            actual,
        }),
    }
}

/// Remove the pin at `path` (the object lives on while other references exist).
pub fn unpin(path: &Path) -> Result<(), PinError> {
    std::fs::remove_file(path).map_err(|source| PinError::Unpin {
        path: path.to_owned(),
        source,
    })
}

/// Mounts a bpffs on the directory `path` (as `mount -t bpf bpf PATH`), unless one is
/// already there. Needs `CAP_SYS_ADMIN` in the mount namespace's user namespace.
pub fn mount_bpffs(path: &Path) -> Result<(), PinError> {
    if is_bpffs(path) {
        return Ok(());
    }
    let target = c_path(path)?;
    // SAFETY: every argument is a NUL-terminated string that outlives the call; no data.
    let ret = unsafe {
        libc::mount(
            c"bpf".as_ptr(),
            target.as_ptr(),
            c"bpf".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret != 0 {
        return Err(PinError::Mount {
            path: path.to_owned(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Whether `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: an all-zero `statfs` is a valid out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated, `st` is a live out-parameter.
    let ret = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    ret == 0 && st.f_type as i64 == BPF_FS_MAGIC
}
