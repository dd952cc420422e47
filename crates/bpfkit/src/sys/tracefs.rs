//! tracefs: find (or mount) it, read tracepoint ids, add and remove dynamic kprobe/uprobe events.
//!
//! Newer kernels mount tracefs at `/sys/kernel/tracing`; older ones expose it under debugfs at
//! `/sys/kernel/debug/tracing`. When neither is mounted, tracefs is mounted at
//! `/sys/kernel/tracing` (root only).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const TRACEFS: &str = "/sys/kernel/tracing";
const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";
const TRACEFS_MAGIC: i64 = 0x7472_6163;
const DEBUGFS_MAGIC: i64 = 0x6462_6720;

fn fs_magic(path: &str) -> Option<i64> {
    let c = std::ffi::CString::new(path).ok()?;
    // SAFETY: an all-zero statfs is a valid out-parameter.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated, `st` a live out-parameter.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_type as i64)
}

fn find_or_mount() -> Result<PathBuf, String> {
    if fs_magic(TRACEFS) == Some(TRACEFS_MAGIC) {
        return Ok(PathBuf::from(TRACEFS));
    }
    if matches!(
        fs_magic(DEBUGFS_TRACING),
        Some(TRACEFS_MAGIC | DEBUGFS_MAGIC)
    ) && Path::new(DEBUGFS_TRACING).join("events").is_dir()
    {
        return Ok(PathBuf::from(DEBUGFS_TRACING));
    }
    let target = std::ffi::CString::new(TRACEFS).map_err(|e| e.to_string())?;
    // SAFETY: all arguments are NUL-terminated strings that outlive the call.
    let ret = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret != 0 {
        return Err(format!(
            "tracefs is not mounted at {TRACEFS} or {DEBUGFS_TRACING} and mounting it failed: {}",
            io::Error::last_os_error()
        ));
    }
    Ok(PathBuf::from(TRACEFS))
}

/// The tracefs directory, mounted on first use if needed. The error says what was tried.
pub fn tracefs_dir() -> Result<&'static Path, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(find_or_mount)
        .as_ref()
        .map(|p| p.as_path())
        .map_err(Clone::clone)
}

/// The id of tracepoint `category/name` (`events/<category>/<name>/id`).
pub fn tracepoint_id(category: &str, name: &str) -> io::Result<u64> {
    let dir = tracefs_dir().map_err(io::Error::other)?;
    let path = dir.join("events").join(category).join(name).join("id");
    let text = crate::sys::fdtrace::read_to_string(&path, "tracefs file")
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a number: {e}", path.display()),
        )
    })
}

/// Append one line to a tracefs control file (`kprobe_events`, `uprobe_events`).
pub fn write_control(file: &str, line: &str) -> io::Result<()> {
    let dir = tracefs_dir().map_err(io::Error::other)?;
    let path = dir.join(file);
    let mut f = crate::sys::fdtrace::open(
        &path,
        std::fs::OpenOptions::new().append(true),
        "tracefs file",
    )
    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    f.write_all(line.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("{} <- '{line}': {e}", path.display())))
}

/// Whether `file` exists in tracefs (e.g. `kprobe_events` is absent without CONFIG_KPROBE_EVENTS).
pub fn has_control(file: &str) -> bool {
    tracefs_dir().is_ok_and(|d| d.join(file).exists())
}
