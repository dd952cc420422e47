//! User probes (`SEC("uprobe/<binary>:<function>")`, `uretprobe`, `uprobe.multi`): a function
//! of an executable or shared library is resolved to a file offset through its ELF symbols
//! (library names through `/etc/ld.so.cache` or the target process's `/proc/PID/maps`), then
//! probed through the `uprobe` perf PMU (tracefs `uprobe_events` fallback), optionally for one
//! process and with a BPF cookie, or many at once with a `uprobe_multi` link (Linux 6.6).
//! A `uprobe.session` program (Linux 6.13) goes through [`attach_multi`] too, with its own
//! attach type (`BPF_TRACE_UPROBE_SESSION`): it runs on entry and on return of each call.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment, ObjectSymbol};

use crate::features::Feature;
use crate::links::{DynamicEvent, Link};
use crate::loader::Program;
use crate::sys::{self, perf_event, tracefs};

use super::kprobe::dynamic_event_name;
use super::perf_attach::{attach_perf_event, expect_type};
use super::{AttachError, ProgramType};
use bpfkit_obj::object::AttachType;

/// Options of a uprobe or uretprobe.
#[derive(Debug, Clone, Default)]
pub struct UprobeOptions {
    /// A uretprobe (on return) instead of a uprobe (on entry).
    pub retprobe: bool,
    /// Only this process; `None` for every process that maps the file.
    pub pid: Option<i32>,
    /// A BPF cookie (`bpf_get_attach_cookie`, Linux 5.15).
    pub cookie: Option<u64>,
    /// File offset of a reference counter (USDT semaphore) the kernel increments while the
    /// probe is attached (Linux 4.20); 0 for none.
    pub ref_ctr_offset: u64,
}

/// Where to probe in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UprobeTarget<'a> {
    /// A symbol, with an optional byte offset into it.
    Symbol(&'a str, u64),
    /// A file offset.
    Offset(u64),
}

/// Attach to `target` in `binary` (a path, or a library name such as `libc.so.6` found through
/// the process's maps or the ld.so cache).
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("probes.bpf.o")?;
/// use bpfkit::programs::uprobe::{attach, UprobeOptions, UprobeTarget};
/// let program = object.program("on_malloc").unwrap();
/// let options = UprobeOptions { pid: Some(1234), cookie: Some(7), ..Default::default() };
/// let link = attach(program, "libc.so.6", UprobeTarget::Symbol("malloc", 0), &options)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_KPROBE")]
#[doc(alias = "uretprobe")]
pub fn attach(
    program: &Program,
    binary: &str,
    target: UprobeTarget<'_>,
    options: &UprobeOptions,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Kprobe], "a KPROBE program")?;
    let name = program.name();
    let path = resolve_binary(binary, options.pid)
        .ok_or_else(|| AttachError::target(name, binary, "no such file, library or executable"))?;
    let offset = match target {
        UprobeTarget::Offset(o) => o,
        UprobeTarget::Symbol(symbol, extra) => {
            symbol_file_offset(&path, symbol)
                .map_err(|reason| AttachError::target(name, symbol, reason))?
                + extra
        }
    };
    attach_offset(program, &path, offset, options)
}

/// Attach at file `offset` of `path`.
pub fn attach_offset(
    program: &Program,
    path: &Path,
    offset: u64,
    options: &UprobeOptions,
) -> Result<Link, AttachError> {
    let name = program.name();
    let what = format!(
        "{} {}:{offset:#x}{}",
        if options.retprobe {
            "uretprobe"
        } else {
            "uprobe"
        },
        path.display(),
        options.pid.map_or(String::new(), |p| format!(" pid {p}"))
    );
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| AttachError::target(name, &path.to_string_lossy(), "contains a NUL byte"))?;
    let pid = options.pid.unwrap_or(-1);
    let cpu = if pid < 0 { 0 } else { -1 };
    if let Some(pmu_type) = perf_event::dynamic_pmu_type("uprobe") {
        let mut attr = perf_event::PerfEventAttr::new(pmu_type, 0);
        if options.retprobe {
            attr.config |= 1 << perf_event::pmu_format_bit("uprobe", "retprobe").unwrap_or(0);
        }
        if options.ref_ctr_offset != 0 {
            let shift =
                perf_event::pmu_format_bit("uprobe", "ref_ctr_offset").ok_or_else(|| {
                    AttachError::Unsupported {
                        program: name.to_owned(),
                        reason: "USDT semaphores need the uprobe PMU's ref_ctr_offset".into(),
                        feature: Some(Feature::new("uprobe ref_ctr_offset", "4.20")),
                    }
                })?;
            attr.config |= options.ref_ctr_offset << shift;
        }
        attr.config1 = perf_event::c_str_addr(&c_path);
        attr.config2 = offset;
        attr.sample_period = 1;
        attr.wakeup_events = 1;
        let event = perf_event::perf_event_open(&attr, pid, cpu, None)
            .map_err(|e| AttachError::syscall(name, format!("perf_event_open {what}"), e))?;
        return attach_perf_event(program, event, options.cookie, None, &what);
    }
    if !tracefs::has_control("uprobe_events") {
        return Err(AttachError::unsupported(
            name,
            format!("{what}: the kernel has no uprobes (CONFIG_UPROBE_EVENTS is off)"),
        ));
    }
    let event = dynamic_event_name(
        "uprobe",
        &path.file_name().unwrap_or_default().to_string_lossy(),
    );
    let mut line = format!(
        "{}:bpfkit/{event} {}:{offset:#x}",
        if options.retprobe { "r" } else { "p" },
        path.display()
    );
    if options.ref_ctr_offset != 0 {
        line.push_str(&format!("({:#x})", options.ref_ctr_offset));
    }
    line.push('\n');
    tracefs::write_control("uprobe_events", &line)
        .map_err(|e| AttachError::io(name, format!("add {what} in tracefs"), e))?;
    let dynamic = DynamicEvent {
        control: "uprobe_events",
        name: format!("bpfkit/{event}"),
    };
    let id = tracefs::tracepoint_id("bpfkit", &event)
        .map_err(|e| AttachError::io(name, format!("id of {what}"), e))?;
    let mut attr = perf_event::PerfEventAttr::new(perf_event::PERF_TYPE_TRACEPOINT, id);
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    let fd = perf_event::perf_event_open(&attr, pid, cpu, None)
        .map_err(|e| AttachError::syscall(name, format!("perf_event_open {what}"), e))?;
    attach_perf_event(program, fd, options.cookie, Some(dynamic), &what)
}

/// Options of a uprobe.multi link.
#[derive(Debug, Clone, Default)]
pub struct UprobeMultiOptions {
    /// uretprobe.multi (on return).
    pub retprobe: bool,
    /// Only this process.
    pub pid: Option<i32>,
    /// One cookie per offset, or empty.
    pub cookies: Vec<u64>,
    /// One reference counter offset per offset, or empty.
    pub ref_ctr_offsets: Vec<u64>,
}

/// Attach to many file offsets of one binary with a single `uprobe_multi` link (Linux 6.6).
///
/// A program loaded as `uprobe.session` (expected attach type `BPF_TRACE_UPROBE_SESSION`)
/// is attached as a session (Linux 6.13): it runs on entry and, unless the entry run
/// returned non-zero, on return; `retprobe` is refused for it.
#[doc(alias = "uprobe.multi")]
#[doc(alias = "uprobe.session")]
pub fn attach_multi(
    program: &Program,
    path: &Path,
    offsets: &[u64],
    options: &UprobeMultiOptions,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Kprobe], "a KPROBE program")?;
    let name = program.name();
    let shown = path.to_string_lossy();
    for (what, len) in [
        ("cookies", options.cookies.len()),
        ("ref_ctr_offsets", options.ref_ctr_offsets.len()),
    ] {
        if len != 0 && len != offsets.len() {
            return Err(AttachError::target(
                name,
                &shown,
                format!("{len} {what} for {} offsets", offsets.len()),
            ));
        }
    }
    if offsets.is_empty() {
        return Err(AttachError::target(name, &shown, "no offsets to attach to"));
    }
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| AttachError::target(name, &shown, "contains a NUL byte"))?;
    // A uprobe.session program (loaded with BPF_TRACE_UPROBE_SESSION) runs on entry and
    // return through one link of its own attach type; the kernel refuses any other.
    let session = is_session(program);
    if session && options.retprobe {
        return Err(AttachError::target(
            name,
            &shown,
            "a uprobe.session program runs on entry and return already; retprobe does not apply",
        ));
    }
    let (attach_type, kind) = if session {
        (sys::uapi::BPF_TRACE_UPROBE_SESSION, "uprobe_session")
    } else {
        (sys::uapi::BPF_TRACE_UPROBE_MULTI, "uprobe_multi")
    };
    sys::attach::link_create_uprobe_multi(
        program.fd(),
        attach_type,
        &c_path,
        offsets,
        &options.ref_ctr_offsets,
        &options.cookies,
        options.pid.unwrap_or(0).max(0) as u32,
        options.retprobe,
    )
    .map(Link::bpf)
    .map_err(|source| {
        let refused = matches!(source.errno(), Some(libc::EINVAL | libc::EOPNOTSUPP));
        let hint = refused.then_some(if session {
            "or the program was not loaded with expected_attach_type BPF_TRACE_UPROBE_SESSION"
        } else {
            "or the program was not loaded with expected_attach_type BPF_TRACE_UPROBE_MULTI"
        });
        let requires = refused.then_some(if session {
            Feature::new("uprobe.session links", "6.13")
        } else {
            Feature::new("uprobe_multi links", "6.6")
        });
        AttachError::Syscall {
            requires,
            program: name.to_owned(),
            operation: format!("BPF_LINK_CREATE {kind} {shown} ({} offsets)", offsets.len()),
            source,
            hint,
        }
    })
}

/// `true` for a program loaded as a uprobe session (`SEC("uprobe.session/...")`).
fn is_session(program: &Program) -> bool {
    program.section().expected_attach_type == Some(AttachType::TraceUprobeSession)
}

/// Attach to every function of `binary` matching `pattern` (`*`/`?`) with one uprobe_multi link.
pub fn attach_multi_pattern(
    program: &Program,
    binary: &str,
    pattern: &str,
    options: &UprobeMultiOptions,
) -> Result<Link, AttachError> {
    let name = program.name();
    let path = resolve_binary(binary, options.pid)
        .ok_or_else(|| AttachError::target(name, binary, "no such file, library or executable"))?;
    let offsets = matching_function_offsets(&path, pattern)
        .map_err(|r| AttachError::target(name, pattern, r))?;
    if offsets.is_empty() {
        return Err(AttachError::target(
            name,
            pattern,
            format!("matches no function in {}", path.display()),
        ));
    }
    attach_multi(program, &path, &offsets, options)
}

fn read_elf(path: &Path) -> Result<Vec<u8>, String> {
    crate::sys::fdtrace::read(path, "uprobe binary")
        .map_err(|e| format!("reading {}: {e}", path.display()))
}

/// The file offset of virtual address `address` in an ELF image (through its PT_LOAD segments).
pub fn address_to_file_offset(file: &object::File<'_>, address: u64) -> Option<u64> {
    file.segments().find_map(|s| {
        let (offset, size) = s.file_range();
        (address >= s.address() && address < s.address() + size.max(s.size()).max(1))
            .then(|| address - s.address() + offset)
    })
}

/// The file offset of function `symbol` in the ELF file at `path` (`.symtab`, then `.dynsym`).
pub fn symbol_file_offset(path: &Path, symbol: &str) -> Result<u64, String> {
    let data = read_elf(path)?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{}: not an ELF file: {e}", path.display()))?;
    let found = file
        .symbols()
        .chain(file.dynamic_symbols())
        .find(|s| {
            !s.is_undefined()
                && s.address() != 0
                && s.name()
                    .is_ok_and(|n| n == symbol || n.split('@').next() == Some(symbol))
        })
        .ok_or_else(|| format!("no symbol '{symbol}' in {}", path.display()))?;
    address_to_file_offset(&file, found.address()).ok_or_else(|| {
        format!(
            "symbol '{symbol}' at {:#x} is in no loadable segment of {}",
            found.address(),
            path.display()
        )
    })
}

fn matching_function_offsets(path: &Path, pattern: &str) -> Result<Vec<u64>, String> {
    let data = read_elf(path)?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{}: not an ELF file: {e}", path.display()))?;
    let mut out: Vec<u64> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == object::SymbolKind::Text && !s.is_undefined() && s.address() != 0)
        .filter(|s| {
            s.name()
                .is_ok_and(|n| super::kprobe::glob_match(pattern, n))
        })
        .filter_map(|s| address_to_file_offset(&file, s.address()))
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Find the file for `binary`: a path as is; else a library mapped by `pid`; else the ld.so
/// cache; else an executable on `$PATH`.
pub fn resolve_binary(binary: &str, pid: Option<i32>) -> Option<PathBuf> {
    if binary.contains('/') {
        let p = PathBuf::from(binary);
        return p.exists().then_some(p);
    }
    if let Some(pid) = pid.filter(|p| *p > 0) {
        if let Some(p) = library_in_maps(pid, binary) {
            return Some(p);
        }
    }
    if binary.contains(".so") {
        if let Some(p) = ld_so_cache_lookup(binary) {
            return Some(p);
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(binary))
            .find(|p| p.is_file())
    })
}

/// A file mapped by process `pid` whose name is `name` or starts with `name.`/`name-`.
/// (See [`proc_maps::library`](super::proc_maps::library).)
pub fn library_in_maps(pid: i32, name: &str) -> Option<PathBuf> {
    super::proc_maps::with_process(pid, |m| super::proc_maps::library(m, name))
}

/// `FLAG_ELF_LIBC6` with this architecture's `FLAG_*_LIB64` bits, as ldconfig writes them.
fn ld_cache_flags() -> i32 {
    match std::env::consts::ARCH {
        "x86_64" => 0x0303,
        "aarch64" => 0x0a03,
        "riscv64" => 0x1003,
        _ => 0x0003,
    }
}

/// Look `name` (e.g. `libc.so.6`) up in `/etc/ld.so.cache` (the glibc 1.1 format).
pub fn ld_so_cache_lookup(name: &str) -> Option<PathBuf> {
    let data = crate::sys::fdtrace::read("/etc/ld.so.cache", "ld.so.cache").ok()?;
    parse_ld_so_cache(&data, ld_cache_flags())
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, path)| PathBuf::from(path))
}

/// Every `(library name, path)` of a glibc `ld.so.cache` whose flags equal `flags`.
pub fn parse_ld_so_cache(data: &[u8], flags: i32) -> Vec<(String, String)> {
    const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
    const HEADER: usize = 48;
    const ENTRY: usize = 24;
    let Some(start) = data.windows(MAGIC.len()).position(|w| w == MAGIC) else {
        return Vec::new();
    };
    let u32_at = |off: usize| -> Option<u32> {
        data.get(off..off + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let string_at = |off: usize| -> Option<String> {
        let rest = data.get(off..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let Some(count) = u32_at(start + 20) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in 0..count as usize {
        let e = start + HEADER + i * ENTRY;
        let (Some(f), Some(key), Some(value)) = (u32_at(e), u32_at(e + 4), u32_at(e + 8)) else {
            break;
        };
        if f as i32 != flags {
            continue;
        }
        // String offsets of the 1.1 format count from the start of the new-format header.
        if let (Some(k), Some(v)) = (
            string_at(start + key as usize),
            string_at(start + value as usize),
        ) {
            out.push((k, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_ld_so_cache;

    /// A glibc 1.1 cache with two entries (one of another arch's flags) and its strings.
    fn cache() -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(b"glibc-ld.so.cache1.1");
        d.extend_from_slice(&2u32.to_ne_bytes()); // nlibs at 20
        d.resize(48, 0); // rest of the header
        let strings = 48 + 2 * 24;
        let names = [
            "libfoo.so.1\0",
            "/lib/libfoo.so.1\0",
            "libbar.so\0",
            "/lib32/libbar.so\0",
        ];
        let mut offs = Vec::new();
        let mut at = strings;
        for n in names {
            offs.push(at as u32);
            at += n.len();
        }
        for (flags, k, v) in [(0x0303i32, offs[0], offs[1]), (0x0003, offs[2], offs[3])] {
            d.extend_from_slice(&flags.to_ne_bytes());
            d.extend_from_slice(&k.to_ne_bytes());
            d.extend_from_slice(&v.to_ne_bytes());
            d.extend_from_slice(&[0; 12]); // osversion, hwcap
        }
        for n in names {
            d.extend_from_slice(n.as_bytes());
        }
        d
    }

    #[test]
    fn ld_so_cache_entries_of_the_requested_flags() {
        let entries = parse_ld_so_cache(&cache(), 0x0303);
        assert_eq!(
            entries,
            vec![("libfoo.so.1".to_owned(), "/lib/libfoo.so.1".to_owned())]
        );
        assert!(parse_ld_so_cache(b"not a cache", 0x0303).is_empty());
        let mut truncated = cache();
        truncated.truncate(60);
        assert!(parse_ld_so_cache(&truncated, 0x0303).is_empty());
    }
}
