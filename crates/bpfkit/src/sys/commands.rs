//! One thin wrapper per bpf(2) command; each fills its `union bpf_attr` member and calls [`bpf`].

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::uapi::{self, bpf_attr};
use super::{bpf, bpf_prefix, zeroed, Command, SysResult, SyscallError};

/// Bytes of `union bpf_attr` the element commands use: up to and including `flags`.
const ELEM_ATTR_SIZE: usize = std::mem::offset_of!(uapi::bpf_attr__map_elem, flags) + 8;

/// Bytes of `union bpf_attr` the batch commands use: up to and including `flags`.
const BATCH_ATTR_SIZE: usize = std::mem::offset_of!(uapi::bpf_attr__batch, flags) + 8;

/// A slice's address as the kernel's `__aligned_u64` pointer field.
fn addr<T>(slice: &[T]) -> u64 {
    slice.as_ptr() as u64
}

fn addr_mut<T>(slice: &mut [T]) -> u64 {
    slice.as_mut_ptr() as u64
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

/// Wrap the fd number that an fd-creating command returned (recorded by [`super::fdtrace`]).
pub(super) fn owned(ret: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this fd number to us (ret >= 0 checked by `bpf`); no
    // one else owns it.
    unsafe { super::fdtrace::own(ret as RawFd, "bpf object") }
}

/// Copy `name` into a `BPF_OBJ_NAME_LEN` array, truncated to 15 bytes plus NUL.
pub fn object_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (dst, src) in out.iter_mut().zip(name.bytes().take(15)) {
        *dst = src;
    }
    out
}

/// Arguments of `BPF_MAP_CREATE`.
#[derive(Debug, Clone, Default)]
pub struct MapCreateAttr<'a> {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub map_flags: u32,
    /// Object name (at most 15 bytes are kept).
    pub name: &'a str,
    /// Inner map template for array/hash of maps.
    pub inner_map_fd: Option<BorrowedFd<'a>>,
    /// BTF object describing key and value.
    pub btf_fd: Option<BorrowedFd<'a>>,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// vmlinux BTF type id of a struct_ops value.
    pub btf_vmlinux_value_type_id: u32,
    /// Per-type extra (bloom filter hash count, arena address).
    pub map_extra: u64,
    /// Device to offload to.
    pub map_ifindex: u32,
    /// NUMA node (with `BPF_F_NUMA_NODE`).
    pub numa_node: u32,
    /// BPF token (Linux 6.9) to create the map with (`BPF_F_TOKEN_FD`, `map_token_fd`).
    pub token_fd: Option<BorrowedFd<'a>>,
}

/// Sets the token fd `field` and `BPF_F_TOKEN_FD` in `flags` when there is a token (Linux
/// 6.9); without one both stay as they are (zero), which older kernels require.
fn set_token(token: Option<BorrowedFd<'_>>, flags: &mut u32, field: &mut i32) {
    if let Some(token) = token {
        *flags |= uapi::BPF_F_TOKEN_FD;
        *field = token.as_raw_fd();
    }
}

/// `BPF_MAP_CREATE`: a new map.
pub fn map_create(a: &MapCreateAttr<'_>) -> SysResult<OwnedFd> {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let m = unsafe { &mut attr.map_create };
    m.map_type = a.map_type;
    m.key_size = a.key_size;
    m.value_size = a.value_size;
    m.max_entries = a.max_entries;
    m.map_flags = a.map_flags;
    m.map_name = object_name(a.name);
    m.inner_map_fd = a.inner_map_fd.map_or(0, fd_u32);
    m.btf_fd = a.btf_fd.map_or(0, fd_u32);
    m.btf_key_type_id = a.btf_key_type_id;
    m.btf_value_type_id = a.btf_value_type_id;
    m.btf_vmlinux_value_type_id = a.btf_vmlinux_value_type_id;
    m.map_extra = a.map_extra;
    m.map_ifindex = a.map_ifindex;
    m.numa_node = a.numa_node;
    set_token(a.token_fd, &mut m.map_flags, &mut m.map_token_fd);
    // SAFETY: no pointers in this command's attr.
    unsafe { bpf(Command::MapCreate, &mut attr) }.map(owned)
}

#[inline]
fn elem_attr(fd: BorrowedFd<'_>, key: u64, value: u64, flags: u64) -> bpf_attr {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let e = unsafe { &mut attr.map_elem };
    e.map_fd = fd_u32(fd);
    e.key = key;
    e.value = value;
    e.flags = flags;
    attr
}

/// Turn ENOENT into `Ok(false)`: "no such element" is an answer, not a failure.
#[inline]
fn found(r: SysResult<i64>) -> SysResult<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `BPF_MAP_LOOKUP_ELEM`: copy the value of `key` into `value`; `Ok(false)` if absent.
/// An empty `key` is passed as NULL (queue, stack, bloom filter: key size 0).
///
/// The kernel writes the map's value size (value size × possible CPUs, 8-byte rounded, for
/// per-CPU maps) into `value` whatever its length: use [`MapData::lookup_bytes`], which
/// checks the sizes first, unless the sizes are known.
///
/// # Safety
/// `key` must hold the map's key size (or be empty for maps without keys) and `value` must
/// be at least the map's value buffer size described above.
///
/// Calling it without `unsafe` does not compile:
/// ```compile_fail,E0133
/// # fn f(fd: std::os::fd::BorrowedFd<'_>) {
/// let mut value = [0u8; 8];
/// let _ = bpfkit::sys::map_lookup_elem(fd, &1u32.to_ne_bytes(), &mut value, 0);
/// # }
/// ```
///
/// [`MapData::lookup_bytes`]: crate::maps::MapData::lookup_bytes
#[inline]
pub unsafe fn map_lookup_elem(
    fd: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> SysResult<bool> {
    let key_addr = if key.is_empty() { 0 } else { addr(key) };
    let mut attr = elem_attr(fd, key_addr, addr_mut(value), flags);
    // SAFETY: key/value are live buffers of the map's sizes (this function's contract).
    found(unsafe { bpf_prefix(Command::MapLookupElem, &mut attr, ELEM_ATTR_SIZE) })
}

/// `BPF_MAP_UPDATE_ELEM`: set `key` to `value` (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`).
/// Queue, stack and bloom filter maps take an empty `key`.
///
/// The kernel only reads `key` and `value`, their map sizes whatever the slices' lengths: a
/// short slice is never written, but the bytes after it would be copied into the map
/// ([`MapData::update_bytes`] checks the sizes first).
///
/// [`MapData::update_bytes`]: crate::maps::MapData::update_bytes
#[inline]
pub fn map_update_elem(fd: BorrowedFd<'_>, key: &[u8], value: &[u8], flags: u64) -> SysResult<()> {
    let key_addr = if key.is_empty() { 0 } else { addr(key) };
    let mut attr = elem_attr(fd, key_addr, addr(value), flags);
    // SAFETY: the kernel only reads key/value (never writes them); they are live for the call.
    unsafe { bpf_prefix(Command::MapUpdateElem, &mut attr, ELEM_ATTR_SIZE) }.map(drop)
}

/// `BPF_MAP_DELETE_ELEM`: remove `key`; `Ok(false)` if it was absent. The kernel only reads
/// `key` (the map's key size of it).
#[inline]
pub fn map_delete_elem(fd: BorrowedFd<'_>, key: &[u8]) -> SysResult<bool> {
    let mut attr = elem_attr(fd, addr(key), 0, 0);
    // SAFETY: the kernel only reads `key`, live for the call.
    found(unsafe { bpf_prefix(Command::MapDeleteElem, &mut attr, ELEM_ATTR_SIZE) })
}

/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: pop (queue/stack, `key` empty) or take `key`'s value.
/// `Ok(false)` when empty or absent.
///
/// # Safety
/// As [`map_lookup_elem`]: the kernel writes the map's value buffer size into `value`.
pub unsafe fn map_lookup_and_delete_elem(
    fd: BorrowedFd<'_>,
    key: &[u8],
    value: &mut [u8],
    flags: u64,
) -> SysResult<bool> {
    let key_addr = if key.is_empty() { 0 } else { addr(key) };
    let mut attr = elem_attr(fd, key_addr, addr_mut(value), flags);
    // SAFETY: key/value are live buffers of the map's sizes (this function's contract).
    found(unsafe { bpf_prefix(Command::MapLookupAndDeleteElem, &mut attr, ELEM_ATTR_SIZE) })
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key when `None`) into `next`;
/// `Ok(false)` at the end.
///
/// # Safety
/// The kernel writes the map's key size into `next` (and reads as much of `key`): both
/// must be at least that long ([`MapData::next_key_bytes`] sizes them itself).
///
/// [`MapData::next_key_bytes`]: crate::maps::MapData::next_key_bytes
pub unsafe fn map_get_next_key(
    fd: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next: &mut [u8],
) -> SysResult<bool> {
    let mut attr = elem_attr(fd, key.map_or(0, addr), 0, 0);
    // `next_key`: the same storage as `value`.
    attr.map_elem.value = addr_mut(next);
    // SAFETY: key/next are live buffers of the map's key size (this function's contract).
    found(unsafe { bpf_prefix(Command::MapGetNextKey, &mut attr, ELEM_ATTR_SIZE) })
}

/// Buffers of one batch operation: `count` keys and values laid end to end.
#[derive(Debug)]
pub struct BatchBuffers<'a> {
    /// Where the kernel resumes (`None` on the first call): the previous call's `out_batch`.
    pub in_batch: Option<&'a [u8]>,
    /// Receives the resume token (lookup commands; at least the key size).
    pub out_batch: Option<&'a mut [u8]>,
    /// `count` keys.
    pub keys: &'a mut [u8],
    /// `count` values (lookup/update commands).
    pub values: Option<&'a mut [u8]>,
    /// Number of elements the buffers hold.
    pub count: u32,
    /// Per-element flags (`BPF_F_LOCK`).
    pub elem_flags: u64,
}

/// What a batch command did: elements processed and whether the map is exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Elements processed (the kernel's `count` on return).
    pub count: u32,
    /// `true` when the kernel reported ENOENT: no more elements after these.
    pub done: bool,
}

/// The addresses and counts of one batch command (0 for a NULL pointer).
#[derive(Clone, Copy)]
struct BatchAddrs {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    elem_flags: u64,
}

/// Issue one batch command with the attr's used prefix only (as libbpf's `offsetofend`).
///
/// # Safety
/// Every non-zero address must point to a live buffer of the size the command reads or
/// writes for `count` elements (`out_batch`/`in_batch`: the map's batch token size).
#[inline]
unsafe fn batch_raw(
    fd: BorrowedFd<'_>,
    command: Command,
    b: BatchAddrs,
) -> SysResult<BatchOutcome> {
    let mut attr = uapi::bpf_attr__batch {
        in_batch: b.in_batch,
        out_batch: b.out_batch,
        keys: b.keys,
        values: b.values,
        count: b.count,
        map_fd: fd_u32(fd),
        elem_flags: b.elem_flags,
        flags: 0,
    };
    // SAFETY: the caller's contract; the record is the `batch` member, at offset 0 of the union.
    let r = unsafe { bpf_prefix(command, &mut attr, BATCH_ATTR_SIZE) };
    let count = attr.count;
    match r {
        Ok(_) => Ok(BatchOutcome { count, done: false }),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(BatchOutcome { count, done: true }),
        Err(e) => Err(e),
    }
}

/// # Safety
/// As [`map_lookup_batch`].
unsafe fn batch(
    fd: BorrowedFd<'_>,
    command: Command,
    b: BatchBuffers<'_>,
) -> SysResult<BatchOutcome> {
    let addrs = BatchAddrs {
        in_batch: b.in_batch.map_or(0, addr),
        out_batch: b.out_batch.map_or(0, addr_mut),
        keys: addr_mut(b.keys),
        values: b.values.map_or(0, addr_mut),
        count: b.count,
        elem_flags: b.elem_flags,
    };
    // SAFETY: all pointers are live buffers sized for `count` elements (the contract of
    // the public batch functions, passed on).
    unsafe { batch_raw(fd, command, addrs) }
}

/// `BPF_MAP_LOOKUP_BATCH` (or with `delete`, `BPF_MAP_LOOKUP_AND_DELETE_BATCH`) resuming
/// from `token` in place, as libbpf passes one token as both `in_batch` and `out_batch`:
/// `resume == false` starts at the first element (`in_batch` NULL). Up to `count` keys and
/// values go to `keys` and `values`; the kernel writes where to resume into `token`.
///
/// [`MapData::lookup_batch_into_bytes`] checks the sizes and calls this.
///
/// # Safety
/// The kernel writes `count` keys and values and a token whatever the slices' lengths:
/// `keys`/`values` must hold at least `count` elements of the map's key and value buffer
/// sizes and `token` at least the map's batch token size (the key size, at least 4).
///
/// [`MapData::lookup_batch_into_bytes`]: crate::maps::MapData::lookup_batch_into_bytes
#[allow(clippy::too_many_arguments)]
pub unsafe fn map_lookup_batch_resume(
    fd: BorrowedFd<'_>,
    delete: bool,
    token: &mut [u8],
    resume: bool,
    keys: &mut [u8],
    values: &mut [u8],
    count: u32,
) -> SysResult<BatchOutcome> {
    let t = addr_mut(token);
    let command = if delete {
        Command::MapLookupAndDeleteBatch
    } else {
        Command::MapLookupBatch
    };
    let addrs = BatchAddrs {
        in_batch: if resume { t } else { 0 },
        out_batch: t,
        keys: addr_mut(keys),
        values: addr_mut(values),
        count,
        elem_flags: 0,
    };
    // SAFETY: token/keys/values are live buffers of the sizes above (this function's
    // contract); the kernel reads `in_batch` before it writes `out_batch`, so one buffer serves both.
    unsafe { batch_raw(fd, command, addrs) }
}

/// `BPF_MAP_UPDATE_BATCH` from read-only buffers: `count` keys and values laid end to end.
///
/// The kernel only reads the buffers; `count` is checked against their lengths only if the
/// map's sizes are known ([`MapData::update_batch_bytes`] does), so a short buffer makes the
/// kernel copy the bytes after it into the map, never write them.
///
/// [`MapData::update_batch_bytes`]: crate::maps::MapData::update_batch_bytes
pub fn map_update_batch_from(
    fd: BorrowedFd<'_>,
    keys: &[u8],
    values: &[u8],
    count: u32,
    elem_flags: u64,
) -> SysResult<BatchOutcome> {
    let addrs = BatchAddrs {
        in_batch: 0,
        out_batch: 0,
        keys: addr(keys),
        values: addr(values),
        count,
        elem_flags,
    };
    // SAFETY: the kernel only reads keys/values (live for the call).
    unsafe { batch_raw(fd, Command::MapUpdateBatch, addrs) }
}

/// `BPF_MAP_DELETE_BATCH` from a read-only buffer of `count` keys laid end to end (the
/// kernel only reads it).
pub fn map_delete_batch_from(
    fd: BorrowedFd<'_>,
    keys: &[u8],
    count: u32,
) -> SysResult<BatchOutcome> {
    let addrs = BatchAddrs {
        in_batch: 0,
        out_batch: 0,
        keys: addr(keys),
        values: 0,
        count,
        elem_flags: 0,
    };
    // SAFETY: the kernel only reads `keys` (live for the call).
    unsafe { batch_raw(fd, Command::MapDeleteBatch, addrs) }
}

/// `BPF_MAP_LOOKUP_BATCH`: up to `count` keys and values from where `in_batch` left off.
///
/// # Safety
/// The kernel writes `count` keys and values and the resume token whatever the slices'
/// lengths: `keys` and `values` must hold at least `count` elements of the map's key and
/// value buffer sizes (value size × possible CPUs, 8-byte rounded, for per-CPU maps) and
/// `out_batch`/`in_batch` at least the map's batch token size (the key size, at least 4).
/// [`MapData::lookup_batch_bytes`] checks all of this.
///
/// [`MapData::lookup_batch_bytes`]: crate::maps::MapData::lookup_batch_bytes
pub unsafe fn map_lookup_batch(fd: BorrowedFd<'_>, b: BatchBuffers<'_>) -> SysResult<BatchOutcome> {
    // SAFETY: this function's contract.
    unsafe { batch(fd, Command::MapLookupBatch, b) }
}

/// `BPF_MAP_LOOKUP_AND_DELETE_BATCH`: as lookup, removing what it returns.
///
/// # Safety
/// As [`map_lookup_batch`].
pub unsafe fn map_lookup_and_delete_batch(
    fd: BorrowedFd<'_>,
    b: BatchBuffers<'_>,
) -> SysResult<BatchOutcome> {
    // SAFETY: this function's contract.
    unsafe { batch(fd, Command::MapLookupAndDeleteBatch, b) }
}

/// `BPF_MAP_UPDATE_BATCH`: write `count` keys and values.
///
/// # Safety
/// As [`map_lookup_batch`] (the buffers are read, `out_batch` may be written).
pub unsafe fn map_update_batch(fd: BorrowedFd<'_>, b: BatchBuffers<'_>) -> SysResult<BatchOutcome> {
    // SAFETY: this function's contract.
    unsafe { batch(fd, Command::MapUpdateBatch, b) }
}

/// `BPF_MAP_DELETE_BATCH`: delete `count` keys.
///
/// # Safety
/// As [`map_lookup_batch`].
pub unsafe fn map_delete_batch(fd: BorrowedFd<'_>, b: BatchBuffers<'_>) -> SysResult<BatchOutcome> {
    // SAFETY: this function's contract.
    unsafe { batch(fd, Command::MapDeleteBatch, b) }
}

/// `BPF_MAP_FREEZE`: make the map read-only for user space.
pub fn map_freeze(fd: BorrowedFd<'_>) -> SysResult<()> {
    let mut attr = elem_attr(fd, 0, 0, 0);
    // SAFETY: no pointers.
    unsafe { bpf(Command::MapFreeze, &mut attr) }.map(drop)
}

/// Arguments of `BPF_PROG_LOAD`.
#[derive(Debug, Clone, Default)]
pub struct ProgLoadAttr<'a> {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// The instructions, 8 bytes each, in the kernel's `struct bpf_insn` layout.
    pub insns: &'a [u64],
    /// License string, e.g. `c"GPL"`.
    pub license: &'a CStr,
    /// Object name (at most 15 bytes are kept).
    pub name: &'a str,
    /// `enum bpf_attach_type` expected at attach time.
    pub expected_attach_type: u32,
    /// `BPF_F_*` load flags (e.g. `BPF_F_SLEEPABLE`).
    pub prog_flags: u32,
    /// Kernel version for old kprobe programs.
    pub kern_version: u32,
    /// BTF of the program (func/line info).
    pub prog_btf_fd: Option<BorrowedFd<'a>>,
    /// BTF type id of the attach target.
    pub attach_btf_id: u32,
    /// BTF object (module) of the attach target, or the target program for `freplace`.
    pub attach_btf_obj_fd: Option<BorrowedFd<'a>>,
    /// `bpf_func_info` records (raw bytes) and their record size.
    pub func_info: &'a [u8],
    /// Size of one `func_info` record.
    pub func_info_rec_size: u32,
    /// `bpf_line_info` records (raw bytes).
    pub line_info: &'a [u8],
    /// Size of one `line_info` record.
    pub line_info_rec_size: u32,
    /// fds referenced by index from `BPF_PSEUDO_MAP_IDX` loads and kfunc calls.
    pub fd_array: &'a [RawFd],
    /// Device to offload to.
    pub prog_ifindex: u32,
    /// Verifier log level to request on the first attempt (0: log only on failure).
    pub log_level: u32,
    /// BPF token (Linux 6.9) to load with (`BPF_F_TOKEN_FD`, `prog_token_fd`).
    pub token_fd: Option<BorrowedFd<'a>>,
}

/// `BPF_PROG_LOAD` failed: the errno and the verifier's log.
///
/// Its Display is a summary: the call and errno, the instruction the verifier stopped at and
/// the log's last lines. The alternate form (`{:#}`) and [`verifier_log`](Self::verifier_log)
/// give the whole log. A leaf of error chains (no `source()`): the syscall error is part of
/// the summary.
#[derive(Debug)]
pub struct ProgLoadError {
    /// The syscall error.
    pub source: SyscallError,
    /// The verifier log (empty if the kernel produced none).
    pub verifier_log: String,
}

/// How many of the log's last lines the summary shows.
const SUMMARY_LINES: usize = 3;

impl ProgLoadError {
    /// The whole verifier log (empty if the kernel produced none).
    pub fn verifier_log(&self) -> &str {
        &self.verifier_log
    }

    /// The instruction the verifier stopped at: the last log line that shows one
    /// (`12: (85) call bpf_probe_read#4`), if the log has any.
    pub fn failing_instruction(&self) -> Option<&str> {
        self.verifier_log
            .lines()
            .rev()
            .map(str::trim)
            .find(|line| is_instruction_line(line))
    }

    /// The last `n` non-empty lines of the log, oldest first.
    pub fn last_log_lines(&self, n: usize) -> Vec<&str> {
        let mut lines: Vec<&str> = self
            .verifier_log
            .lines()
            .rev()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .take(n)
            .collect();
        lines.reverse();
        lines
    }
}

/// `NNN: (op) ...`: an instruction as the verifier prints it.
fn is_instruction_line(line: &str) -> bool {
    let Some((index, rest)) = line.split_once(": (") else {
        return false;
    };
    !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) && rest.contains(')')
}

impl std::fmt::Display for ProgLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source)?;
        if self.verifier_log.trim().is_empty() {
            return Ok(());
        }
        if f.alternate() {
            return write!(f, "\nverifier log:\n{}", self.verifier_log.trim_end());
        }
        let last = self.last_log_lines(SUMMARY_LINES);
        if let Some(insn) = self.failing_instruction() {
            if !last.iter().any(|l| l.trim() == insn) {
                write!(f, "\n  at {insn}")?;
            }
        }
        for line in &last {
            write!(f, "\n  {line}")?;
        }
        let total = self.verifier_log.lines().count();
        write!(
            f,
            "\n  (verifier log: {total} lines; all of it with {{:#}} or verifier_log())"
        )
    }
}

impl std::error::Error for ProgLoadError {}

/// How many times `BPF_PROG_LOAD` is repeated after EAGAIN, which the verifier returns when
/// a signal is pending (the load is restartable, not refused).
pub const PROG_LOAD_EAGAIN_RETRIES: u32 = 4;

/// Initial verifier log buffer; grown ×4 on ENOSPC up to [`MAX_LOG_SIZE`].
const INITIAL_LOG_SIZE: usize = 64 * 1024;
/// The kernel caps `log_size` at `UINT_MAX >> 2`; we stop at 256 MiB.
const MAX_LOG_SIZE: usize = 256 * 1024 * 1024;

/// Whether the kernel filled the log buffer (it writes up to the last byte but one, then a
/// NUL): only then does ENOSPC mean the log was too small and a larger one may help. An
/// ENOSPC with the log not filled is another refusal, reported at once instead of growing
/// the buffer to [`MAX_LOG_SIZE`] for nothing.
fn log_filled(log: &[u8]) -> bool {
    log.len() >= 2 && log[log.len() - 2] != 0
}

/// `BPF_PROG_LOAD`: verify and load a program.
///
/// The first attempt runs without a log (unless `log_level` asks for one). On failure the
/// load is retried with `log_level` 1 (or the caller's level) and a buffer that grows on
/// ENOSPC, and the log is returned in the error. On success with a requested log, the log is
/// returned beside the fd. EAGAIN (the verifier stopped for a pending signal) is retried up to
/// [`PROG_LOAD_EAGAIN_RETRIES`] times, then reported.
pub fn prog_load(a: &ProgLoadAttr<'_>) -> Result<(OwnedFd, String), ProgLoadError> {
    let mut log = Vec::new();
    let mut level = a.log_level;
    if level != 0 {
        log.resize(INITIAL_LOG_SIZE, 0);
    }
    let mut eagain_retries = 0;
    loop {
        match prog_load_once(a, level, &mut log) {
            Ok(fd) => return Ok((fd, log_text(&log))),
            Err(e)
                if e.errno() == Some(libc::EAGAIN) && eagain_retries < PROG_LOAD_EAGAIN_RETRIES =>
            {
                eagain_retries += 1;
                log::debug!("prog '{}': load interrupted ({e}), retrying", a.name);
            }
            Err(e)
                if e.errno() == Some(libc::ENOSPC)
                    && level != 0
                    && log.len() < MAX_LOG_SIZE
                    && log_filled(&log) =>
            {
                let grown = (log.len() * 4).min(MAX_LOG_SIZE);
                log.clear();
                log.resize(grown, 0);
            }
            Err(e) if level == 0 && e.errno() != Some(libc::EAGAIN) => {
                // Retry once to collect the verifier's explanation.
                log::debug!(
                    "prog '{}': load failed ({e}), retrying with verifier log",
                    a.name
                );
                level = 1;
                log.resize(INITIAL_LOG_SIZE, 0);
            }
            Err(source) => {
                return Err(ProgLoadError {
                    source,
                    verifier_log: log_text(&log),
                })
            }
        }
    }
}

fn log_text(log: &[u8]) -> String {
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    String::from_utf8_lossy(&log[..end]).into_owned()
}

fn prog_load_once(a: &ProgLoadAttr<'_>, level: u32, log: &mut [u8]) -> SysResult<OwnedFd> {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let p = unsafe { &mut attr.prog_load };
    p.prog_type = a.prog_type;
    p.insn_cnt = a.insns.len() as u32;
    p.insns = addr(a.insns);
    p.license = a.license.as_ptr() as u64;
    p.prog_name = object_name(a.name);
    p.expected_attach_type = a.expected_attach_type;
    p.prog_flags = a.prog_flags;
    p.kern_version = a.kern_version;
    p.prog_btf_fd = a.prog_btf_fd.map_or(0, fd_u32);
    p.attach_btf_id = a.attach_btf_id;
    // `attach_btf_obj_fd`: the same storage as `attach_prog_fd`.
    p.attach_prog_fd = a.attach_btf_obj_fd.map_or(0, fd_u32);
    p.prog_ifindex = a.prog_ifindex;
    if !a.func_info.is_empty() && a.func_info_rec_size != 0 {
        p.func_info = addr(a.func_info);
        p.func_info_rec_size = a.func_info_rec_size;
        p.func_info_cnt = (a.func_info.len() / a.func_info_rec_size as usize) as u32;
    }
    if !a.line_info.is_empty() && a.line_info_rec_size != 0 {
        p.line_info = addr(a.line_info);
        p.line_info_rec_size = a.line_info_rec_size;
        p.line_info_cnt = (a.line_info.len() / a.line_info_rec_size as usize) as u32;
    }
    if !a.fd_array.is_empty() {
        p.fd_array = addr(a.fd_array);
    }
    if level != 0 && !log.is_empty() {
        p.log_level = level;
        p.log_buf = addr_mut(log);
        p.log_size = log.len() as u32;
    }
    set_token(a.token_fd, &mut p.prog_flags, &mut p.prog_token_fd);
    // SAFETY: insns, license, infos, fd_array and the log buffer outlive the call.
    unsafe { bpf(Command::ProgLoad, &mut attr) }.map(owned)
}

fn path_attr(path: &CStr, fd: u32, flags: u32) -> bpf_attr {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let o = unsafe { &mut attr.obj };
    o.pathname = path.as_ptr() as u64;
    o.bpf_fd = fd;
    o.file_flags = flags;
    attr
}

/// `BPF_OBJ_PIN`: pin a map, program or link at `path` on a bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &CStr) -> SysResult<()> {
    let mut attr = path_attr(path, fd_u32(fd), 0);
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    unsafe { bpf(Command::ObjPin, &mut attr) }.map(drop)
}

/// `BPF_OBJ_GET`: open the object pinned at `path` (`file_flags`: `BPF_F_RDONLY`, ...).
pub fn obj_get(path: &CStr, file_flags: u32) -> SysResult<OwnedFd> {
    let mut attr = path_attr(path, 0, file_flags);
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    unsafe { bpf(Command::ObjGet, &mut attr) }.map(owned)
}

/// The kinds of kernel object that have ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A program.
    Prog,
    /// A map.
    Map,
    /// A link.
    Link,
    /// A BTF object.
    Btf,
}

impl ObjectKind {
    /// The kernel's word for the kind: "program", "map", "link", "BTF object".
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Prog => "program",
            ObjectKind::Map => "map",
            ObjectKind::Link => "link",
            ObjectKind::Btf => "BTF object",
        }
    }

    /// The kind of BPF object `fd` refers to, or `None` if it is not one.
    ///
    /// The kernel gives every BPF object fd an anonymous inode named after its kind
    /// (`bpf-prog`, `bpf-map`, `bpf_link`/`bpf-link`, `btf`), visible as the target of
    /// `/proc/self/fd/N`. `BPF_OBJ_GET_INFO_BY_FD` cannot tell: it fills whatever info
    /// record the object has into the caller's buffer.
    pub fn of_fd(fd: BorrowedFd<'_>) -> Option<ObjectKind> {
        use std::os::fd::AsRawFd;
        let target = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        match target.to_str()? {
            "anon_inode:bpf-prog" => Some(ObjectKind::Prog),
            "anon_inode:bpf-map" => Some(ObjectKind::Map),
            // `bpf_link` when created, `bpf-link` when reopened (BPF_OBJ_GET, by id).
            "anon_inode:bpf_link" | "anon_inode:bpf-link" => Some(ObjectKind::Link),
            "anon_inode:btf" => Some(ObjectKind::Btf),
            _ => None,
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

/// `BPF_{PROG,MAP,LINK,BTF}_GET_NEXT_ID`: the first id after `start`, `None` at the end.
pub fn get_next_id(kind: ObjectKind, start: u32) -> SysResult<Option<u32>> {
    let command = match kind {
        ObjectKind::Prog => Command::ProgGetNextId,
        ObjectKind::Map => Command::MapGetNextId,
        ObjectKind::Link => Command::LinkGetNextId,
        ObjectKind::Btf => Command::BtfGetNextId,
    };
    let mut attr: bpf_attr = zeroed();
    attr.get_id.start_id = start;
    // SAFETY: no pointers.
    match unsafe { bpf(command, &mut attr) } {
        // SAFETY: reading back the integer the kernel wrote.
        Ok(_) => Ok(Some(unsafe { attr.get_id.next_id })),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `BPF_{PROG,MAP,LINK,BTF}_GET_FD_BY_ID`: an fd for the object with `id`.
pub fn get_fd_by_id(kind: ObjectKind, id: u32) -> SysResult<OwnedFd> {
    let command = match kind {
        ObjectKind::Prog => Command::ProgGetFdById,
        ObjectKind::Map => Command::MapGetFdById,
        ObjectKind::Link => Command::LinkGetFdById,
        ObjectKind::Btf => Command::BtfGetFdById,
    };
    let mut attr: bpf_attr = zeroed();
    // `prog_id`, `map_id`, `link_id`, `btf_id`: the same storage as `start_id`.
    attr.get_id.start_id = id;
    // SAFETY: no pointers.
    unsafe { bpf(command, &mut attr) }.map(owned)
}

/// `BPF_OBJ_GET_INFO_BY_FD`: fill `info` (`bpf_prog_info`, `bpf_map_info`, ...).
///
/// Returns the length the kernel filled. Pointer fields set in `info` (e.g. `map_ids` with
/// `nr_map_ids`) are written by the kernel.
///
/// # Safety
/// Every pointer field set in `info` must point to a live buffer of the size given beside it.
pub unsafe fn obj_get_info_by_fd<T: uapi::Zeroable>(
    fd: BorrowedFd<'_>,
    info: &mut T,
) -> SysResult<u32> {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let i = unsafe { &mut attr.info };
    i.bpf_fd = fd_u32(fd);
    i.info_len = std::mem::size_of::<T>() as u32;
    i.info = info as *mut T as u64;
    // SAFETY: `info` is a live record of `info_len` bytes; its own pointers are the caller's.
    unsafe { bpf(Command::ObjGetInfoByFd, &mut attr) }?;
    // SAFETY: reading back the integer the kernel wrote.
    Ok(unsafe { attr.info.info_len })
}

/// `BPF_BTF_LOAD`: load raw BTF; on failure the error carries the kernel's BTF log.
pub fn btf_load(data: &[u8]) -> Result<OwnedFd, ProgLoadError> {
    btf_load_with_token(data, None)
}

/// [`btf_load`] through a BPF token (Linux 6.9; `BPF_F_TOKEN_FD`, `btf_token_fd`) if given.
pub fn btf_load_with_token(
    data: &[u8],
    token: Option<BorrowedFd<'_>>,
) -> Result<OwnedFd, ProgLoadError> {
    let mut log: Vec<u8> = Vec::new();
    loop {
        let mut attr: bpf_attr = zeroed();
        // SAFETY: writing plain integer fields of a zeroed union member.
        let b = unsafe { &mut attr.btf_load };
        b.btf = addr(data);
        b.btf_size = data.len() as u32;
        if !log.is_empty() {
            b.btf_log_buf = addr_mut(&mut log);
            b.btf_log_size = log.len() as u32;
            b.btf_log_level = 1;
        }
        set_token(token, &mut b.btf_flags, &mut b.btf_token_fd);
        // SAFETY: `data` and `log` outlive the call.
        match unsafe { bpf(Command::BtfLoad, &mut attr) } {
            Ok(fd) => return Ok(owned(fd)),
            Err(e) if log.is_empty() => {
                log::debug!("BTF load failed ({e}), retrying with log");
                log.resize(INITIAL_LOG_SIZE, 0);
            }
            Err(e)
                if e.errno() == Some(libc::ENOSPC)
                    && log.len() < MAX_LOG_SIZE
                    && log_filled(&log) =>
            {
                let grown = (log.len() * 4).min(MAX_LOG_SIZE);
                log.clear();
                log.resize(grown, 0);
            }
            Err(source) => {
                return Err(ProgLoadError {
                    source,
                    verifier_log: log_text(&log),
                })
            }
        }
    }
}

/// `BPF_LINK_CREATE` with the whole `link_create` member prepared by the caller (the
/// per-attach-type union differs by link kind: perf event cookie, tracing target, ...).
///
/// # Safety
/// Pointers placed in the per-kind union (kprobe_multi symbols, ...) must be valid.
pub unsafe fn link_create(link: uapi::bpf_attr__link_create) -> SysResult<OwnedFd> {
    let mut attr: bpf_attr = zeroed();
    attr.link_create = link;
    // SAFETY: the caller guarantees the pointers in `link`.
    unsafe { bpf(Command::LinkCreate, &mut attr) }.map(owned)
}

/// A `link_create` member for the simple attach kinds: program, target fd/ifindex, type, flags.
pub fn link_create_attr(
    prog_fd: BorrowedFd<'_>,
    target_fd_or_ifindex: u32,
    attach_type: u32,
    flags: u32,
) -> uapi::bpf_attr__link_create {
    let mut l: uapi::bpf_attr__link_create = zeroed();
    l.prog_fd = fd_u32(prog_fd);
    l.target_fd = target_fd_or_ifindex;
    l.attach_type = attach_type;
    l.flags = flags;
    l
}

/// `BPF_LINK_UPDATE`: replace the link's program (only if it is `old_prog` when given).
pub fn link_update(
    link: BorrowedFd<'_>,
    new_prog: BorrowedFd<'_>,
    old_prog: Option<BorrowedFd<'_>>,
) -> SysResult<()> {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let u = unsafe { &mut attr.link_update };
    u.link_fd = fd_u32(link);
    u.new_prog_fd = fd_u32(new_prog);
    if let Some(old) = old_prog {
        u.old_prog_fd = fd_u32(old);
        u.flags = uapi::BPF_F_REPLACE;
    }
    // SAFETY: no pointers.
    unsafe { bpf(Command::LinkUpdate, &mut attr) }.map(drop)
}

/// `BPF_LINK_DETACH`: detach the link from its target (the fd stays valid, defunct).
pub fn link_detach(link: BorrowedFd<'_>) -> SysResult<()> {
    let mut attr: bpf_attr = zeroed();
    attr.link_detach.link_fd = fd_u32(link);
    // SAFETY: no pointers.
    unsafe { bpf(Command::LinkDetach, &mut attr) }.map(drop)
}

/// `BPF_RAW_TRACEPOINT_OPEN`: attach a raw tracepoint (or tracing/LSM program when `name`
/// is `None`); the fd is the link.
pub fn raw_tracepoint_open(name: Option<&CStr>, prog_fd: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let r = unsafe { &mut attr.raw_tracepoint };
    r.name = name.map_or(0, |n| n.as_ptr() as u64);
    r.prog_fd = fd_u32(prog_fd);
    // SAFETY: `name` is NUL-terminated and outlives the call.
    unsafe { bpf(Command::RawTracepointOpen, &mut attr) }.map(owned)
}

/// Arguments of `BPF_PROG_TEST_RUN`.
#[derive(Debug, Default)]
pub struct TestRunAttr<'a> {
    /// Packet or input data.
    pub data_in: &'a [u8],
    /// Receives the output data (packet after the program).
    pub data_out: Option<&'a mut [u8]>,
    /// Context input (e.g. `struct __sk_buff`, `struct xdp_md`). The kernel writes the
    /// context back into its `ctx_in` for some program types (`BPF_PROG_TYPE_SYSCALL`), so
    /// it is handed a copy: use [`attach::prog_run_syscall`](super::attach::prog_run_syscall)
    /// to see a syscall program's changes.
    pub ctx_in: &'a [u8],
    /// Receives the output context.
    pub ctx_out: Option<&'a mut [u8]>,
    /// Repetitions (0 means 1).
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU to run on (with `BPF_F_TEST_RUN_ON_CPU`).
    pub cpu: u32,
}

/// What `BPF_PROG_TEST_RUN` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestRunOutcome {
    /// The program's return value.
    pub retval: u32,
    /// Average run time per repetition, in ns.
    pub duration_ns: u32,
    /// Bytes written to `data_out`.
    pub data_size_out: u32,
    /// Bytes written to `ctx_out`.
    pub ctx_size_out: u32,
}

/// `BPF_PROG_TEST_RUN`: run the program once (or `repeat` times) on the given input.
///
/// Output buffers are bounded by their lengths (the kernel stops at `data_size_out` and
/// `ctx_size_out` and reports ENOSPC); an empty output buffer is passed as none, because the
/// kernel treats a zero `data_size_out` as "unbounded".
pub fn prog_test_run(prog_fd: BorrowedFd<'_>, a: TestRunAttr<'_>) -> SysResult<TestRunOutcome> {
    // The kernel may write the context back through `ctx_in` (syscall programs): give it a
    // private copy, never the caller's shared slice.
    let mut ctx_copy = a.ctx_in.to_vec();
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let t = unsafe { &mut attr.test };
    t.prog_fd = fd_u32(prog_fd);
    if !a.data_in.is_empty() {
        t.data_in = addr(a.data_in);
        t.data_size_in = a.data_in.len() as u32;
    }
    if let Some(out) = a.data_out.filter(|o| !o.is_empty()) {
        t.data_size_out = out.len() as u32;
        t.data_out = addr_mut(out);
    }
    if !ctx_copy.is_empty() {
        t.ctx_size_in = ctx_copy.len() as u32;
        t.ctx_in = addr_mut(&mut ctx_copy);
    }
    if let Some(out) = a.ctx_out.filter(|o| !o.is_empty()) {
        t.ctx_size_out = out.len() as u32;
        t.ctx_out = addr_mut(out);
    }
    t.repeat = a.repeat;
    t.flags = a.flags;
    t.cpu = a.cpu;
    // SAFETY: all buffers outlive the call and their sizes are stated beside them; the
    // writable ones are exclusively borrowed (`ctx_copy` is ours) and non-empty, so the
    // kernel's writes stop at the stated sizes.
    unsafe { bpf(Command::ProgTestRun, &mut attr) }?;
    // SAFETY: reading back integers the kernel wrote.
    let t = unsafe { attr.test };
    Ok(TestRunOutcome {
        retval: t.retval,
        duration_ns: t.duration,
        data_size_out: t.data_size_out,
        ctx_size_out: t.ctx_size_out,
    })
}

/// `BPF_ENABLE_STATS`: turn on run-time statistics (`BPF_STATS_RUN_TIME`) while the
/// returned fd is open.
pub fn enable_stats(stats_type: u32) -> SysResult<OwnedFd> {
    let mut attr: bpf_attr = zeroed();
    attr.enable_stats.type_ = stats_type;
    // SAFETY: no pointers.
    unsafe { bpf(Command::EnableStats, &mut attr) }.map(owned)
}

fn attach_attr(target: u32, prog: u32, attach_type: u32, flags: u32, replace: u32) -> bpf_attr {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let p = unsafe { &mut attr.prog_attach };
    p.target_fd = target;
    p.attach_bpf_fd = prog;
    p.attach_type = attach_type;
    p.attach_flags = flags;
    p.replace_bpf_fd = replace;
    attr
}

/// `BPF_PROG_ATTACH`: attach to a cgroup/sockmap/... (`BPF_F_ALLOW_MULTI`, `BPF_F_REPLACE`).
pub fn prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> SysResult<()> {
    let mut attr = attach_attr(
        fd_u32(target),
        fd_u32(prog),
        attach_type,
        flags,
        replace.map_or(0, fd_u32),
    );
    // SAFETY: no pointers.
    unsafe { bpf(Command::ProgAttach, &mut attr) }.map(drop)
}

/// `BPF_PROG_DETACH`: undo [`prog_attach`].
pub fn prog_detach(
    target: BorrowedFd<'_>,
    prog: Option<BorrowedFd<'_>>,
    attach_type: u32,
) -> SysResult<()> {
    let mut attr = attach_attr(fd_u32(target), prog.map_or(0, fd_u32), attach_type, 0, 0);
    // SAFETY: no pointers.
    unsafe { bpf(Command::ProgDetach, &mut attr) }.map(drop)
}

/// What `BPF_PROG_QUERY` reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgQueryOutcome {
    /// The attach flags of the hook.
    pub attach_flags: u32,
    /// The attached programs' ids (at most the capacity given).
    pub prog_ids: Vec<u32>,
    /// How many programs are attached in total.
    pub prog_cnt: u32,
}

/// `BPF_PROG_QUERY`: the programs attached to `target` for `attach_type`.
pub fn prog_query(
    target: BorrowedFd<'_>,
    attach_type: u32,
    query_flags: u32,
    capacity: u32,
) -> SysResult<ProgQueryOutcome> {
    let mut ids = vec![0u32; capacity as usize];
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let q = unsafe { &mut attr.query };
    q.target_fd = fd_u32(target);
    q.attach_type = attach_type;
    q.query_flags = query_flags;
    q.prog_ids = if ids.is_empty() {
        0
    } else {
        addr_mut(&mut ids)
    };
    q.prog_cnt = capacity;
    // SAFETY: `ids` holds `prog_cnt` u32s and outlives the call.
    unsafe { bpf(Command::ProgQuery, &mut attr) }?;
    // SAFETY: reading back integers the kernel wrote.
    let q = unsafe { attr.query };
    ids.truncate(q.prog_cnt.min(capacity) as usize);
    Ok(ProgQueryOutcome {
        attach_flags: q.attach_flags,
        prog_ids: ids,
        prog_cnt: q.prog_cnt,
    })
}

/// `BPF_PROG_BIND_MAP`: keep `map` alive as long as `prog` (e.g. metadata maps).
pub fn prog_bind_map(prog: BorrowedFd<'_>, map: BorrowedFd<'_>) -> SysResult<()> {
    let mut attr: bpf_attr = zeroed();
    // SAFETY: writing plain integer fields of a zeroed union member.
    let b = unsafe { &mut attr.prog_bind_map };
    b.prog_fd = fd_u32(prog);
    b.map_fd = fd_u32(map);
    // SAFETY: no pointers.
    unsafe { bpf(Command::ProgBindMap, &mut attr) }.map(drop)
}

/// `BPF_TOKEN_CREATE` (Linux 6.9): a BPF token from a bpffs mounted with delegation options.
pub fn token_create(bpffs: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    let mut attr: uapi::bpf_attr__token_create = zeroed();
    attr.bpffs_fd = fd_u32(bpffs);
    // SAFETY: no pointers; the attr is the command's whole member.
    unsafe { bpf(Command::TokenCreate, &mut attr) }.map(owned)
}

/// Map a raw errno-style failure of another syscall (mmap, open) into a [`SyscallError`].
pub(crate) fn last_error(call: &'static str) -> SyscallError {
    SyscallError {
        call,
        io_error: std::io::Error::last_os_error(),
    }
}
