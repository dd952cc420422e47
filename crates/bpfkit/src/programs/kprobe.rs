//! Kernel probes (`BPF_PROG_TYPE_KPROBE`): kprobe/kretprobe through the `kprobe` perf PMU
//! (Linux 4.17) or a tracefs `kprobe_events` entry, ksyscall (the arch's syscall wrapper), and
//! kprobe.multi links (Linux 5.18) with per-function cookies. A `kprobe.session` program
//! (Linux 6.10) goes through [`attach_multi`] too, with its own attach type
//! (`BPF_TRACE_KPROBE_SESSION`): it runs on entry and on return of each function.
//!
//! Kernels built without `CONFIG_KPROBES` have neither the PMU nor `kprobe_events`: attaching
//! fails with [`AttachError::Unsupported`] saying so.

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::features::Feature;
use crate::links::{DynamicEvent, Link};
use crate::loader::Program;
use crate::sys::{self, perf_event, tracefs, uapi};

use super::perf_attach::{attach_perf_event, expect_type};
use super::{AttachError, ProgramType};
use bpfkit_obj::object::AttachType;

/// Options of a kprobe or kretprobe.
#[derive(Debug, Clone, Default)]
pub struct KprobeOptions {
    /// A kretprobe (on return) instead of a kprobe (on entry).
    pub retprobe: bool,
    /// Byte offset into the function (kprobe only).
    pub offset: u64,
    /// kretprobe instances that may be active at once (tracefs `r<N>:`); forces the tracefs
    /// path, as the PMU has no such field.
    pub maxactive: Option<u32>,
    /// A BPF cookie (`bpf_get_attach_cookie`, Linux 5.15).
    pub cookie: Option<u64>,
}

const NO_KPROBES: &str = "the kernel has no kprobes: there is no kprobe PMU in \
     /sys/bus/event_source/devices and no kprobe_events in tracefs (CONFIG_KPROBES or \
     CONFIG_KPROBE_EVENTS is off)";

/// Whether the running kernel's BTF names `name` (an enumerator such as an attach type):
/// `true` when it cannot be read, so that only a kernel known to lack it is reported.
fn kernel_btf_names(name: &str) -> bool {
    let Ok(kernel) = crate::loader::KernelBtf::vmlinux() else {
        return true;
    };
    let Ok(btf) = kernel.parse() else {
        return true;
    };
    let strings = btf.string_section();
    let wanted = format!("\0{name}\0");
    strings
        .windows(wanted.len())
        .any(|w| w == wanted.as_bytes())
}

/// Whether the kernel can make kprobes at all (kprobe PMU or tracefs `kprobe_events`).
pub fn kprobes_available() -> bool {
    perf_event::dynamic_pmu_type("kprobe").is_some() || tracefs::has_control("kprobe_events")
}

/// Attach to kernel function `function`.
///
/// ```no_run
/// # let object = bpfkit::loader::Loader::new().load_file("probes.bpf.o")?;
/// use bpfkit::programs::kprobe::{attach, KprobeOptions};
/// let program = object.program("on_unlink_return").unwrap();
/// let options = KprobeOptions { retprobe: true, ..Default::default() };
/// let link = attach(program, "do_unlinkat", &options)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "BPF_PROG_TYPE_KPROBE")]
#[doc(alias = "kretprobe")]
pub fn attach(
    program: &Program,
    function: &str,
    options: &KprobeOptions,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Kprobe], "a KPROBE program")?;
    let name = program.name();
    let what = format!(
        "{} {function}{}",
        if options.retprobe {
            "kretprobe"
        } else {
            "kprobe"
        },
        if options.offset != 0 {
            format!("+{:#x}", options.offset)
        } else {
            String::new()
        }
    );
    let c_function = CString::new(function)
        .map_err(|_| AttachError::target(name, function, "contains a NUL byte"))?;
    let pmu = perf_event::dynamic_pmu_type("kprobe");
    if let (Some(pmu_type), None) = (pmu, options.maxactive) {
        let mut attr = perf_event::PerfEventAttr::new(pmu_type, 0);
        if options.retprobe {
            let bit = perf_event::pmu_format_bit("kprobe", "retprobe").unwrap_or(0);
            attr.config |= 1 << bit;
        }
        attr.config1 = perf_event::c_str_addr(&c_function);
        attr.config2 = options.offset;
        attr.sample_period = 1;
        attr.wakeup_events = 1;
        let event = perf_event::perf_event_open(&attr, -1, 0, None).map_err(|source| {
            let hint = match source.errno() {
                Some(libc::ENOENT) => Some("no such kernel function, or it cannot be probed"),
                Some(libc::EINVAL) => Some("the function or offset cannot be probed"),
                _ => None,
            };
            AttachError::Syscall {
                requires: None,
                program: name.to_owned(),
                operation: format!("perf_event_open {what}"),
                source,
                hint,
            }
        })?;
        return attach_perf_event(program, event, options.cookie, None, &what);
    }
    if !tracefs::has_control("kprobe_events") {
        return Err(AttachError::unsupported(
            name,
            format!("{what}: {NO_KPROBES}"),
        ));
    }
    attach_tracefs(program, function, options, &what)
}

static EVENT_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A tracefs event name unique to this process and call (`bpfkit/<kind>_<pid>_<n>_<function>`).
pub(crate) fn dynamic_event_name(kind: &str, symbol: &str) -> String {
    let n = EVENT_COUNTER.fetch_add(1, Ordering::Relaxed);
    let clean: String = symbol
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(32)
        .collect();
    format!("{kind}_{}_{n}_{clean}", std::process::id())
}

fn attach_tracefs(
    program: &Program,
    function: &str,
    options: &KprobeOptions,
    what: &str,
) -> Result<Link, AttachError> {
    let name = program.name();
    let event = dynamic_event_name("kprobe", function);
    let probe = if options.retprobe {
        format!(
            "r{}",
            options.maxactive.map_or(String::new(), |m| m.to_string())
        )
    } else {
        "p".to_owned()
    };
    let line = format!("{probe}:bpfkit/{event} {function}+{}\n", options.offset);
    tracefs::write_control("kprobe_events", &line)
        .map_err(|e| AttachError::io(name, format!("add {what} in tracefs"), e))?;
    let dynamic = DynamicEvent {
        control: "kprobe_events",
        name: format!("bpfkit/{event}"),
    };
    let id = tracefs::tracepoint_id("bpfkit", &event)
        .map_err(|e| AttachError::io(name, format!("id of {what}"), e))?;
    let mut attr = perf_event::PerfEventAttr::new(perf_event::PERF_TYPE_TRACEPOINT, id);
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    let fd = perf_event::perf_event_open(&attr, -1, 0, None)
        .map_err(|e| AttachError::syscall(name, format!("perf_event_open {what}"), e))?;
    attach_perf_event(program, fd, options.cookie, Some(dynamic), what)
}

/// The syscall wrapper prefix of this architecture (`__x64_sys_`, `__arm64_sys_`).
pub fn syscall_prefix() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "__x64_sys_",
        "aarch64" => "__arm64_sys_",
        "x86" => "__ia32_sys_",
        "s390x" => "__s390x_sys_",
        "riscv64" => "__riscv_sys_",
        "powerpc64" => "sys_",
        _ => "__se_sys_",
    }
}

/// Attach to syscall `syscall` (`SEC("ksyscall/<name>")`): a kprobe on the arch's syscall
/// wrapper (`__x64_sys_<name>`), or on `sys_<name>` where the kernel has no wrappers.
#[doc(alias = "ksyscall")]
#[doc(alias = "kretsyscall")]
pub fn attach_syscall(
    program: &Program,
    syscall: &str,
    retprobe: bool,
) -> Result<Link, AttachError> {
    let prefixed = format!("{}{syscall}", syscall_prefix());
    let function = if kernel_has_symbol(&prefixed) {
        prefixed
    } else {
        format!("sys_{syscall}")
    };
    attach(
        program,
        &function,
        &KprobeOptions {
            retprobe,
            ..Default::default()
        },
    )
}

/// Whether `/proc/kallsyms` lists `symbol`.
pub fn kernel_has_symbol(symbol: &str) -> bool {
    crate::sys::fdtrace::read_to_string("/proc/kallsyms", "proc file").is_ok_and(|text| {
        text.lines()
            .any(|l| l.split_whitespace().nth(2) == Some(symbol))
    })
}

/// Kernel text symbols matching `pattern` (`*` and `?` globs), from `/proc/kallsyms`, without
/// module suffixes and without duplicates.
pub fn kernel_functions_matching(pattern: &str) -> std::io::Result<Vec<String>> {
    let text = crate::sys::fdtrace::read_to_string("/proc/kallsyms", "proc file")?;
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let _addr = parts.next()?;
            let kind = parts.next()?;
            let sym = parts.next()?;
            (matches!(kind, "t" | "T") && glob_match(pattern, sym)).then(|| sym.to_owned())
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// `*`/`?` glob matching as libbpf's `glob_match`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Options of a kprobe.multi link.
#[derive(Debug, Clone, Default)]
pub struct KprobeMultiOptions {
    /// kretprobe.multi (on return).
    pub retprobe: bool,
    /// One cookie per function, or empty.
    pub cookies: Vec<u64>,
}

/// Attach to many kernel functions with one `BPF_LINK_TYPE_KPROBE_MULTI` link (Linux 5.18).
///
/// A program loaded as `kprobe.session` (expected attach type `BPF_TRACE_KPROBE_SESSION`)
/// is attached as a session (Linux 6.10): it runs on entry and, unless the entry run
/// returned non-zero, on return; `retprobe` is refused for it.
#[doc(alias = "kprobe.multi")]
#[doc(alias = "kprobe.session")]
pub fn attach_multi(
    program: &Program,
    functions: &[&str],
    options: &KprobeMultiOptions,
) -> Result<Link, AttachError> {
    expect_type(program, &[ProgramType::Kprobe], "a KPROBE program")?;
    let name = program.name();
    if functions.is_empty() {
        return Err(AttachError::target(name, "", "no functions to attach to"));
    }
    if !options.cookies.is_empty() && options.cookies.len() != functions.len() {
        return Err(AttachError::target(
            name,
            &functions.join(","),
            format!(
                "{} cookies for {} functions",
                options.cookies.len(),
                functions.len()
            ),
        ));
    }
    let c_names: Vec<CString> = functions
        .iter()
        .map(|f| CString::new(*f).map_err(|_| AttachError::target(name, f, "contains a NUL byte")))
        .collect::<Result<_, _>>()?;
    let pointers: Vec<u64> = c_names.iter().map(|c| c.as_ptr() as u64).collect();
    // A kprobe.session program (loaded with BPF_TRACE_KPROBE_SESSION) runs on entry and
    // return through one link of its own attach type; the kernel refuses any other.
    let session = program.section().expected_attach_type == Some(AttachType::TraceKprobeSession);
    if session && options.retprobe {
        return Err(AttachError::target(
            name,
            &functions.join(","),
            "a kprobe.session program runs on entry and return already; retprobe does not apply",
        ));
    }
    let (attach_type, kind) = if session {
        (sys::uapi::BPF_TRACE_KPROBE_SESSION, "kprobe_session")
    } else {
        (uapi::BPF_TRACE_KPROBE_MULTI, "kprobe_multi")
    };
    let mut attr = sys::link_create_attr(program.fd(), 0, attach_type, 0);
    attr.anon_1.kprobe_multi.flags = if options.retprobe {
        uapi::BPF_F_KPROBE_MULTI_RETURN
    } else {
        0
    };
    attr.anon_1.kprobe_multi.cnt = pointers.len() as u32;
    attr.anon_1.kprobe_multi.syms = pointers.as_ptr() as u64;
    if !options.cookies.is_empty() {
        attr.anon_1.kprobe_multi.cookies = options.cookies.as_ptr() as u64;
    }
    // SAFETY: `pointers` (and the C strings they point to) and `cookies` outlive the call and
    // hold `cnt` entries.
    unsafe { sys::link_create(attr) }
        .map(Link::bpf)
        .map_err(|source| {
            let refused = matches!(source.errno(), Some(libc::EOPNOTSUPP | libc::EINVAL));
            let requires = if refused && session {
                Some(Feature::new("kprobe.session links (CONFIG_FPROBE)", "6.10"))
            } else if source.errno() == Some(libc::EOPNOTSUPP)
                || (refused && !kernel_btf_names("BPF_TRACE_KPROBE_MULTI"))
            {
                // EOPNOTSUPP: no CONFIG_FPROBE; EINVAL from a kernel whose BTF does not
                // know the attach type (before 5.18).
                Some(Feature::new("kprobe.multi links (CONFIG_FPROBE)", "5.18"))
            } else {
                None
            };
            let hint = match source.errno() {
                Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) if !kprobes_available() => {
                    Some(NO_KPROBES)
                }
                Some(libc::EOPNOTSUPP) | Some(libc::EINVAL) if session => Some(
                    "or the program was not loaded with expected_attach_type BPF_TRACE_KPROBE_SESSION",
                ),
                Some(libc::EOPNOTSUPP) => Some("and a kernel with kprobes"),
                Some(libc::ESRCH) | Some(libc::ENOENT) => {
                    Some("a function is not in the kernel or cannot be probed")
                }
                _ => None,
            };
            AttachError::Syscall {
                requires,
                program: name.to_owned(),
                operation: format!("BPF_LINK_CREATE {kind} ({} functions)", functions.len()),
                source,
                hint,
            }
        })
}

/// Attach to every kernel function matching `pattern` (`SEC("kprobe.multi/<pattern>")`).
pub fn attach_multi_pattern(
    program: &Program,
    pattern: &str,
    retprobe: bool,
) -> Result<Link, AttachError> {
    let functions = if pattern.contains(['*', '?']) {
        kernel_functions_matching(pattern)
            .map_err(|e| AttachError::io(program.name(), "read /proc/kallsyms", e))?
    } else {
        vec![pattern.to_owned()]
    };
    if functions.is_empty() {
        return Err(AttachError::target(
            program.name(),
            pattern,
            "matches no kernel function",
        ));
    }
    let refs: Vec<&str> = functions.iter().map(String::as_str).collect();
    attach_multi(
        program,
        &refs,
        &KprobeMultiOptions {
            retprobe,
            cookies: Vec::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_libbpf() {
        assert!(glob_match("do_*", "do_unlinkat"));
        assert!(glob_match("*unlink*", "do_unlinkat"));
        assert!(glob_match("vfs_?ead", "vfs_read"));
        assert!(!glob_match("vfs_?ead", "vfs_write"));
        assert!(!glob_match("do_*", "sys_do"));
        assert!(glob_match("*", ""));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn syscall_prefix_names_the_arch_wrapper() {
        let prefix = syscall_prefix();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(prefix, "__x64_sys_");
        } else if cfg!(target_arch = "aarch64") {
            assert_eq!(prefix, "__arm64_sys_");
        }
    }

    #[test]
    fn dynamic_event_names_are_unique_and_tracefs_safe() {
        let a = dynamic_event_name("kprobe", "do.unlink+0x10");
        let b = dynamic_event_name("kprobe", "do.unlink+0x10");
        assert_ne!(a, b);
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{a}"
        );
    }
}
