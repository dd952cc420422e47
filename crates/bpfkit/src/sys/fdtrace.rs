//! fd-leak tracing: with `BPFKIT_FD_TRACE=1` in the environment, every fd bpfkit creates (bpf
//! objects, perf events, epoll sets, netlink sockets, duplicates, and the files it opens with
//! [`open`]: vmlinux BTF, tracefs, /proc and /sys files, cgroup directories) and every kernel memory
//! mapping it makes is recorded with the backtrace of its creation. When the process exits,
//! any recorded fd that is still open (and still the same kernel object) is printed with that
//! backtrace and the process exits with status [`LEAK_EXIT_CODE`] instead of its own.
//!
//! The test suites run with the variable set (`scripts/test`), so a test binary that leaves a
//! map, program, link or event open fails and names the line that created it. Without the
//! variable the cost is one relaxed atomic load per created fd.
//!
//! fds meant to live as long as the process (a cache) must say so with [`keep_open`]; nothing
//! is ignored silently. Memory mappings are tracked exactly (creation and `munmap`); fds are
//! tracked by number because they are `std` [`OwnedFd`]s, closed by std's `Drop`: at exit
//! a recorded fd counts as leaked only while `/proc/self/fd/N` still names the same object
//! (the same `anon_inode:` kind and, for bpf objects, the same map/prog/link/BTF id, asked of
//! the kernel with `BPF_OBJ_GET_INFO_BY_FD`; sockets by inode), so a number reused by an unrelated file is not
//! reported. Perf event and epoll fds carry no id: their identity is their kind.
//!
//! ```no_run
//! // In a test binary run with BPFKIT_FD_TRACE=1: anything still open at exit fails it.
//! let leaks = bpfkit::sys::fdtrace::leaks();
//! assert!(leaks.is_empty(), "{}", bpfkit::sys::fdtrace::format_leaks(&leaks));
//! ```

use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

/// The environment variable that turns tracing on (`1`).
pub const ENV: &str = "BPFKIT_FD_TRACE";

/// The exit status of a process that leaked tracked fds or mappings.
pub const LEAK_EXIT_CODE: i32 = 86;

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
static HOOK: Once = Once::new();
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    fds: None,
    maps: None,
});

struct Registry {
    fds: Option<HashMap<RawFd, Entry>>,
    maps: Option<HashMap<usize, Entry>>,
}

struct Entry {
    what: &'static str,
    identity: String,
    created: Backtrace,
    kept: Option<&'static str>,
}

/// Whether tracing is on (`BPFKIT_FD_TRACE=1`, read once).
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => {
            let on = std::env::var_os(ENV).is_some_and(|v| v == "1");
            STATE.store(if on { ON } else { OFF }, Ordering::Relaxed);
            on
        }
    }
}

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves plain data behind: keep using it.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn install_exit_hook() {
    HOOK.call_once(|| {
        // SAFETY: registering a plain `extern "C" fn()`; atexit only stores the pointer.
        unsafe { libc::atexit(at_exit) };
    });
}

/// What `/proc/self/fd/N` and, for bpf objects, the kernel's id of the object say about `fd`:
/// equal before and later only if the number still refers to the same object (see the module
/// docs).
///
/// The id comes from `BPF_OBJ_GET_INFO_BY_FD`, not from `/proc/self/fdinfo/N`: recording must
/// not open files on the creating thread, where programs under test may count opens (an LSM
/// `file_open` or fmod_ret test in the VM guests). `readlink` opens nothing.
fn identity(fd: RawFd) -> Option<String> {
    let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    let mut out = target.to_string_lossy().into_owned();
    // Where each info struct keeps the object's id: `bpf_prog_info`, `bpf_map_info` and
    // `bpf_link_info` after their `type`, `bpf_btf_info` after its buffer pointer and size.
    let (key, id_offset) = match out.as_str() {
        "anon_inode:bpf-map" => ("map_id", 4),
        "anon_inode:bpf-prog" => ("prog_id", 4),
        "anon_inode:bpf_link" => ("link_id", 4),
        "anon_inode:btf" => ("btf_id", 12),
        _ => return Some(out),
    };
    if let Some(id) = object_id(fd, id_offset) {
        let _ = write!(out, " {key}:{id}");
    }
    Some(out)
}

/// The id of the bpf object behind `fd`, read at `id_offset` of the info struct the kernel
/// fills. Called directly, not through the syscall seam, so tracing never shows up in (or is
/// failed by) a test's fault injection.
fn object_id(fd: RawFd, id_offset: usize) -> Option<u32> {
    // Zeroed and larger than any info struct's prefix we read: the kernel accepts a longer
    // buffer whose tail is zero, and null pointers with zero lengths ask for no arrays.
    let mut info = [0u8; 256];
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    let mut attr = InfoAttr {
        bpf_fd: u32::try_from(fd).ok()?,
        info_len: info.len() as u32,
        info: info.as_mut_ptr() as u64,
    };
    // SAFETY: `attr` is a valid `bpf_attr` prefix for this command, of the size passed; the
    // kernel writes at most `info_len` bytes into `info`, which lives until the call returns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            crate::sys::uapi::BPF_OBJ_GET_INFO_BY_FD,
            &mut attr as *mut InfoAttr,
            std::mem::size_of::<InfoAttr>(),
        )
    };
    if rc != 0 {
        return None;
    }
    let id = info.get(id_offset..id_offset + 4)?;
    Some(u32::from_ne_bytes(id.try_into().ok()?))
}

/// Take ownership of a raw fd bpfkit just created (`what`: a short kind, e.g. `"bpf map"`),
/// recording its creation backtrace when tracing is on.
///
/// # Safety
/// As [`OwnedFd::from_raw_fd`]: `fd` is open and owned by nothing else.
pub unsafe fn own(fd: RawFd, what: &'static str) -> OwnedFd {
    // SAFETY: the caller's contract.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    record(fd, what);
    owned
}

/// Duplicate `fd` (as [`BorrowedFd::try_clone_to_owned`]) and record the copy like [`own`]:
/// how bpfkit keeps its own handle on an fd the caller lends it.
pub fn dup(fd: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    let copy = fd.try_clone_to_owned()?;
    record(copy.as_raw_fd(), "duplicated fd");
    Ok(copy)
}

/// A file the library opened with [`open`]: a [`File`] (through `Deref`) whose record is
/// dropped when it is closed, so that a later, unrelated open of the same path with the same
/// number is not mistaken for it. Leaking it (`mem::forget`) is reported like any other fd.
#[derive(Debug)]
pub struct TracedFile {
    file: File,
}

impl std::ops::Deref for TracedFile {
    type Target = File;

    fn deref(&self) -> &File {
        &self.file
    }
}

impl std::ops::DerefMut for TracedFile {
    fn deref_mut(&mut self) -> &mut File {
        &mut self.file
    }
}

impl std::io::Read for TracedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }
}

impl AsFd for TracedFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for TracedFile {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl Drop for TracedFile {
    /// Forgets the record; the file is closed after this (fields drop after `drop`), so the
    /// number cannot yet be another thread's new fd.
    fn drop(&mut self) {
        if enabled() {
            if let Some(fds) = registry().fds.as_mut() {
                fds.remove(&self.file.as_raw_fd());
            }
        }
    }
}

/// Open the file at `path` as `options` say, through the syscall seam
/// ([`super::seam::Call::Open`]), and record its fd like [`own`] (kind `what`, e.g.
/// `"tracefs file"`): every file the library opens goes through here, so a file it leaks
/// is reported with its creation backtrace like any bpf object. An open interrupted by a
/// signal (`EINTR`) is made again, up to [`super::seam::EINTR_RETRIES`] times.
pub fn open(
    path: impl AsRef<Path>,
    options: &OpenOptions,
    what: &'static str,
) -> std::io::Result<TracedFile> {
    use super::seam::{self, Call, Reply};
    let path = path.as_ref();
    let mut interrupted = 0;
    loop {
        let result = match seam::decide(&Call::Open { what }) {
            Reply::Errno(errno) => Err(std::io::Error::from_raw_os_error(errno)),
            Reply::Kernel | Reply::Return(_) => options.open(path),
        };
        match result {
            Err(e)
                if e.kind() == std::io::ErrorKind::Interrupted
                    && interrupted < seam::EINTR_RETRIES =>
            {
                interrupted += 1;
            }
            Err(e) => return Err(e),
            Ok(file) => {
                record(file.as_raw_fd(), what);
                return Ok(TracedFile { file });
            }
        }
    }
}

/// [`open`] for reading.
pub fn open_read(path: impl AsRef<Path>, what: &'static str) -> std::io::Result<TracedFile> {
    open(path, OpenOptions::new().read(true), what)
}

/// The whole file at `path` (as [`std::fs::read`]), opened through [`open`].
pub fn read(path: impl AsRef<Path>, what: &'static str) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    open_read(path, what)?.read_to_end(&mut out)?;
    Ok(out)
}

/// The whole file at `path` as text (as [`std::fs::read_to_string`]), opened through [`open`].
pub fn read_to_string(path: impl AsRef<Path>, what: &'static str) -> std::io::Result<String> {
    let mut out = String::new();
    open_read(path, what)?.read_to_string(&mut out)?;
    Ok(out)
}

fn record(fd: RawFd, what: &'static str) {
    if !enabled() {
        return;
    }
    let identity = identity(fd).unwrap_or_default();
    let entry = Entry {
        what,
        identity,
        created: Backtrace::force_capture(),
        kept: None,
    };
    // A number seen before was closed in between (the kernel hands out only free numbers):
    // the new object replaces the old record.
    registry()
        .fds
        .get_or_insert_with(HashMap::new)
        .insert(fd, entry);
    install_exit_hook();
}

/// Mark `fd` (created by bpfkit) as meant to stay open until the process exits, e.g. a
/// process-wide cache: it is listed as kept, not as a leak. `why` says what holds it.
pub fn keep_open(fd: BorrowedFd<'_>, why: &'static str) {
    if !enabled() {
        return;
    }
    if let Some(entry) = registry()
        .fds
        .as_mut()
        .and_then(|fds| fds.get_mut(&fd.as_raw_fd()))
    {
        entry.kept = Some(why);
    }
}

/// Record a kernel memory mapping at `addr` (done by [`super::MmapRegion`]).
pub(crate) fn record_map(addr: usize, len: usize, what: &'static str) {
    if !enabled() {
        return;
    }
    let entry = Entry {
        what,
        identity: format!("{len} bytes at {addr:#x}"),
        created: Backtrace::force_capture(),
        kept: None,
    };
    registry()
        .maps
        .get_or_insert_with(HashMap::new)
        .insert(addr, entry);
    install_exit_hook();
}

/// Forget the mapping at `addr` (unmapped).
pub(crate) fn forget_map(addr: usize) {
    if !enabled() {
        return;
    }
    if let Some(maps) = registry().maps.as_mut() {
        maps.remove(&addr);
    }
}

/// One tracked fd or mapping still open.
#[derive(Debug)]
pub struct Leak {
    /// The fd number, or `None` for a memory mapping.
    pub fd: Option<RawFd>,
    /// Its kind as recorded (`"bpf map"`, `"perf event"`, `"mmap"`, ...).
    pub what: &'static str,
    /// What it refers to (`anon_inode:bpf-map map_id:12`, a mapping's size and address).
    pub identity: String,
    /// The creation backtrace, formatted (symbols resolved).
    pub created: String,
}

/// The tracked fds and mappings open now, excluding those marked with [`keep_open`]. Empty
/// when tracing is off.
pub fn leaks() -> Vec<Leak> {
    if !enabled() {
        return Vec::new();
    }
    let registry = registry();
    let mut out = Vec::new();
    if let Some(fds) = &registry.fds {
        let mut numbers: Vec<_> = fds.keys().copied().collect();
        numbers.sort_unstable();
        for fd in numbers {
            let entry = &fds[&fd];
            if entry.kept.is_some() || identity(fd).as_deref() != Some(entry.identity.as_str()) {
                continue;
            }
            out.push(Leak {
                fd: Some(fd),
                what: entry.what,
                identity: entry.identity.clone(),
                created: trim(&entry.created),
            });
        }
    }
    if let Some(maps) = &registry.maps {
        for entry in maps.values() {
            out.push(Leak {
                fd: None,
                what: entry.what,
                identity: entry.identity.clone(),
                created: trim(&entry.created),
            });
        }
    }
    out
}

/// The backtrace without the tracer's own frames and without what runs below the caller's
/// code (the test harness's or std's start-up frames).
fn trim(backtrace: &Backtrace) -> String {
    let text = backtrace.to_string();
    let mut out = String::new();
    let mut skipping = true;
    for line in text.lines() {
        let is_frame = line
            .trim_start()
            .split_once(": ")
            .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
        if is_frame {
            if line.contains("__rust_begin_short_backtrace") || line.contains("std::rt::lang_start")
            {
                break;
            }
            skipping = line.contains("bpfkit::sys::fdtrace::");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The kept fds still open, as `(fd, why)`.
pub fn kept() -> Vec<(RawFd, &'static str)> {
    let registry = registry();
    let mut out: Vec<_> = registry
        .fds
        .iter()
        .flatten()
        .filter_map(|(fd, e)| {
            let why = e.kept?;
            (identity(*fd).as_deref() == Some(e.identity.as_str())).then_some((*fd, why))
        })
        .collect();
    out.sort_unstable();
    out
}

/// The report printed at exit: one block per leak with its creation backtrace.
pub fn format_leaks(leaks: &[Leak]) -> String {
    let mut out = format!(
        "bpfkit fd trace: {} leaked fd(s)/mapping(s) at exit\n",
        leaks.len()
    );
    for leak in leaks {
        match leak.fd {
            Some(fd) => {
                let _ = writeln!(out, "leaked fd {fd}: {} ({})", leak.what, leak.identity);
            }
            None => {
                let _ = writeln!(out, "leaked mapping: {} ({})", leak.what, leak.identity);
            }
        }
        let _ = writeln!(out, "created at:\n{}", leak.created);
    }
    out
}

extern "C" fn at_exit() {
    let leaks = leaks();
    if leaks.is_empty() {
        return;
    }
    let report = format_leaks(&leaks);
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(report.as_bytes());
    let _ = stderr.flush();
    // SAFETY: `_exit` ends the process at once (no further atexit handlers, which `exit`
    // from inside one would re-run): the leak report is the last word.
    unsafe { libc::_exit(LEAK_EXIT_CODE) };
}
