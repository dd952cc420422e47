//! Attach points: what `tracepoint:syscalls:sys_enter_*` names, expanded against tracefs,
//! and the tracepoint record layouts from tracefs `format` files.

use std::path::Path;

use crate::diag::{Diagnostic, Span};

/// One concrete probe after wildcard expansion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// Runs once before anything else.
    Begin,
    /// Runs once at exit.
    End,
    /// A timer on one CPU, every `period_ns`.
    Interval {
        /// Period in nanoseconds.
        period_ns: u64,
    },
    /// A timer on every CPU: `profile:hz:99` (a frequency) or `profile:ms:10` (a period).
    Profile {
        /// Period in nanoseconds, or samples per second when `frequency`.
        sample: u64,
        /// `sample` is a frequency.
        frequency: bool,
    },
    /// `software:EVENT:COUNT` / `hardware:EVENT:COUNT`: a perf counter on every CPU whose
    /// program runs every `period` events.
    PerfCounter {
        /// `PERF_TYPE_SOFTWARE` or `PERF_TYPE_HARDWARE`.
        type_: u32,
        /// The event (`PERF_COUNT_SW_PAGE_FAULTS`, ...).
        config: u64,
        /// Events between two runs.
        period: u64,
    },
    /// `rawtracepoint:name`: the tracepoint's raw arguments as `arg0`..`argN`.
    RawTracepoint {
        /// Tracepoint name (`sys_enter`).
        name: String,
    },
    /// `tracepoint:category:name`.
    Tracepoint {
        /// Category (`syscalls`).
        category: String,
        /// Event (`sys_enter_openat`).
        name: String,
    },
    /// `kprobe:function` or `kretprobe:...`; several functions (a wildcard whose block does
    /// not ask which function fired) share one program, attached with one kprobe.multi link
    /// where the kernel has them, else one perf-event kprobe each.
    Kprobe {
        /// Kernel functions.
        functions: Vec<String>,
        /// A return probe.
        ret: bool,
    },
    /// `fentry:function` / `fexit:function` (also `kfunc`/`kretfunc`): a BPF trampoline,
    /// arguments typed by the kernel's BTF.
    Fentry {
        /// Kernel function.
        function: String,
        /// fexit.
        ret: bool,
    },
    /// `usdt:binary:[provider:]name`: one call site of a SystemTap SDT probe, a uprobe at
    /// its file offset; `arg0..` read as its note's argument specifications say.
    Usdt {
        /// The binary's resolved path.
        path: String,
        /// File offset of the call site.
        offset: u64,
        /// File offset of the probe's semaphore, 0 if none (raised while attached).
        semaphore: u64,
        /// Where each argument is (`None`: a specification not understood).
        args: Vec<Option<bpfkit::programs::usdt::UsdtArg>>,
    },
    /// `uprobe:binary:function` or `uretprobe:...`.
    Uprobe {
        /// Binary path as written.
        binary: String,
        /// Symbol.
        function: String,
        /// A return probe.
        ret: bool,
    },
}

/// A probe with the name bpftrace's `probe` builtin gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// What to attach.
    pub kind: ProbeKind,
    /// The full name (`tracepoint:syscalls:sys_enter_read`).
    pub name: String,
}

/// Expands one attach point as written into concrete probes.
pub fn expand(point: &str, span: Span) -> Result<Vec<Probe>, Diagnostic> {
    if point == "BEGIN" || point == "END" {
        let kind = if point == "BEGIN" {
            ProbeKind::Begin
        } else {
            ProbeKind::End
        };
        return Ok(vec![Probe {
            kind,
            name: point.to_string(),
        }]);
    }
    let (provider, rest) = point.split_once(':').ok_or_else(|| {
        Diagnostic::new(
            span,
            format!("unknown probe '{point}': expected BEGIN, END or provider:target"),
        )
    })?;
    if let Some(kernel) = KernelProvider::of(provider) {
        return kernel.expand(rest, span);
    }
    match provider {
        "tracepoint" | "t" => {
            let (category, name) = rest.split_once(':').ok_or_else(|| {
                Diagnostic::new(
                    span,
                    "expected tracepoint:<category>:<name> (e.g. tracepoint:syscalls:sys_enter_read)",
                )
            })?;
            let found = list_tracepoints(category, name).map_err(|e| Diagnostic::new(span, e))?;
            if found.is_empty() {
                return Err(Diagnostic::new(
                    span,
                    format!("no tracepoint matches '{category}:{name}'"),
                ));
            }
            Ok(found
                .into_iter()
                .map(|(category, name)| Probe {
                    name: format!("tracepoint:{category}:{name}"),
                    kind: ProbeKind::Tracepoint { category, name },
                })
                .collect())
        }
        "interval" | "i" => {
            let (unit, n) = rest.split_once(':').ok_or_else(|| {
                Diagnostic::new(span, "expected interval:<unit>:<count> (e.g. interval:s:1)")
            })?;
            let n: u64 = n.parse().map_err(|_| {
                Diagnostic::new(span, format!("expected a number of {unit}, found '{n}'"))
            })?;
            let period_ns = match unit {
                "s" => n.checked_mul(1_000_000_000),
                "ms" => n.checked_mul(1_000_000),
                "us" => n.checked_mul(1_000),
                "hz" if n > 0 => Some(1_000_000_000 / n),
                _ => None,
            }
            .filter(|&p| p > 0)
            .ok_or_else(|| {
                Diagnostic::new(
                    span,
                    format!("bad interval '{unit}:{n}': expected a unit s, ms, us or hz and a count > 0"),
                )
            })?;
            Ok(vec![Probe {
                kind: ProbeKind::Interval { period_ns },
                name: format!("interval:{unit}:{n}"),
            }])
        }
        "rawtracepoint" | "rt" => {
            let name = rest.rsplit(':').next().unwrap_or(rest);
            if name.is_empty() || name.contains(['*', '?']) {
                return Err(Diagnostic::unsupported(span, "rawtracepoint wildcards"));
            }
            Ok(vec![Probe {
                kind: ProbeKind::RawTracepoint {
                    name: name.to_string(),
                },
                name: format!("rawtracepoint:{name}"),
            }])
        }
        "profile" | "p" => {
            let (unit, n) = rest.split_once(':').ok_or_else(|| {
                Diagnostic::new(span, "expected profile:<unit>:<count> (e.g. profile:hz:99)")
            })?;
            let n: u64 = n.parse().map_err(|_| {
                Diagnostic::new(span, format!("expected a number of {unit}, found '{n}'"))
            })?;
            let (sample, frequency) = match unit {
                "hz" => (Some(n), true),
                "s" => (n.checked_mul(1_000_000_000), false),
                "ms" => (n.checked_mul(1_000_000), false),
                "us" => (n.checked_mul(1_000), false),
                _ => (None, false),
            };
            let sample = sample.filter(|&s| s > 0).ok_or_else(|| {
                Diagnostic::new(
                    span,
                    format!(
                        "bad profile '{unit}:{n}': expected a unit hz, s, ms or us and a count > 0"
                    ),
                )
            })?;
            Ok(vec![Probe {
                kind: ProbeKind::Profile { sample, frequency },
                name: format!("profile:{unit}:{n}"),
            }])
        }
        "uprobe" | "u" | "uretprobe" | "ur" => {
            let ret = provider.starts_with("ur");
            let (binary, function) = rest
                .rsplit_once(':')
                .ok_or_else(|| Diagnostic::new(span, "expected uprobe:<binary>:<function>"))?;
            if binary.is_empty() || function.is_empty() || function.contains(['*', '?', '+']) {
                return Err(Diagnostic::unsupported(
                    span,
                    "uprobe wildcards, offsets and probes without a binary",
                ));
            }
            let long = if ret { "uretprobe" } else { "uprobe" };
            // `probe` names the file as bpftrace does (`uprobe:libc:read` is
            // `uprobe:/lib/x86_64-linux-gnu/libc.so.6:read`); as written if not found (the
            // attach reports it).
            let shown = bpfkit::programs::uprobe::resolve_binary(binary, None)
                .or_else(|| crate::runtime::library_by_short_name(binary))
                .map_or_else(|| binary.to_string(), |p| p.display().to_string());
            Ok(vec![Probe {
                kind: ProbeKind::Uprobe {
                    binary: binary.to_string(),
                    function: function.to_string(),
                    ret,
                },
                name: format!("{long}:{shown}:{function}"),
            }])
        }
        "usdt" | "U" => usdt(rest, span),
        "software" | "s" | "hardware" | "h" => perf_counter(provider, rest, span),
        "watchpoint" | "w" | "asyncwatchpoint" | "iter" | "it" => Err(Diagnostic::unsupported(
            span,
            format!("'{provider}' probes"),
        )),
        _ => Err(Diagnostic::new(
            span,
            format!("unknown probe provider '{provider}'"),
        )),
    }
}

/// A provider of kernel-function probes: `kprobe`/`kretprobe` (alias `k`/`kr`) or the BPF
/// trampolines `fentry`/`fexit` (aliases `kfunc`/`kretfunc`, `f`/`fr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelProvider {
    /// A BPF trampoline (fentry/fexit) rather than a kprobe.
    pub trampoline: bool,
    /// On return (kretprobe, fexit).
    pub ret: bool,
}

impl KernelProvider {
    /// The kernel-function provider `provider` names, if it is one.
    pub fn of(provider: &str) -> Option<Self> {
        let (trampoline, ret) = match provider {
            "kprobe" | "k" => (false, false),
            "kretprobe" | "kr" => (false, true),
            "fentry" | "kfunc" | "f" => (true, false),
            "fexit" | "kretfunc" | "fr" => (true, true),
            _ => return None,
        };
        Some(Self { trampoline, ret })
    }

    /// The provider's full name as bpftrace prints probe names (`kretprobe`, `fentry`).
    pub fn long_name(self) -> &'static str {
        match (self.trampoline, self.ret) {
            (false, false) => "kprobe",
            (false, true) => "kretprobe",
            (true, false) => "fentry",
            (true, true) => "fexit",
        }
    }

    /// The kernel functions matching a glob that this provider can attach to: kprobes'
    /// [`traceable_functions`], trampolines' functions of the kernel's BTF; sorted.
    pub fn functions_matching(self, pattern: &str) -> Result<Vec<String>, String> {
        if self.trampoline {
            Ok(crate::kbtf::KernelBtf::shared()?.functions_matching(pattern))
        } else {
            traceable_functions(pattern)
        }
    }

    /// `PROVIDER:[module:]function`, the function possibly a glob: one probe per function
    /// (`kprobe:module:function` names the module; the function is what counts).
    fn expand(self, rest: &str, span: Span) -> Result<Vec<Probe>, Diagnostic> {
        let long = self.long_name();
        let function = rest.rsplit(':').next().unwrap_or(rest);
        if !self.trampoline && (function.is_empty() || function.contains('+')) {
            return Err(Diagnostic::unsupported(
                span,
                "kprobe offsets (function+offset)",
            ));
        }
        if function.is_empty() {
            return Err(Diagnostic::new(span, format!("expected {long}:<function>")));
        }
        let functions = if function.contains(['*', '?']) {
            let found = self
                .functions_matching(function)
                .map_err(|e| Diagnostic::new(span, e))?;
            if found.is_empty() {
                let what = if self.trampoline {
                    "no kernel function in BTF"
                } else {
                    "no kernel function"
                };
                return Err(Diagnostic::new(
                    span,
                    format!("{what} matches '{function}'"),
                ));
            }
            found
        } else {
            vec![function.to_string()]
        };
        let ret = self.ret;
        Ok(functions
            .into_iter()
            .map(|f| Probe {
                name: format!("{long}:{f}"),
                kind: if self.trampoline {
                    ProbeKind::Fentry { function: f, ret }
                } else {
                    ProbeKind::Kprobe {
                        functions: vec![f],
                        ret,
                    }
                },
            })
            .collect())
    }
}

/// `usdt:binary:[provider:]name` (globs in provider and name): one probe per call site.
fn usdt(rest: &str, span: Span) -> Result<Vec<Probe>, Diagnostic> {
    use bpfkit::programs::{uprobe, usdt};
    let parts: Vec<&str> = rest.split(':').collect();
    let (binary, provider, name) = match parts[..] {
        [b, p, n] => (b, p, n),
        [b, n] => (b, "*", n),
        _ => {
            return Err(Diagnostic::new(
                span,
                "expected usdt:<binary>:[<provider>:]<name>",
            ))
        }
    };
    let path = uprobe::resolve_binary(binary, None)
        .ok_or_else(|| Diagnostic::new(span, format!("no such file: {binary}")))?;
    let data = std::fs::read(&path)
        .map_err(|e| Diagnostic::new(span, format!("read {}: {e}", path.display())))?;
    let notes = usdt::parse_notes(&data)
        .map_err(|e| Diagnostic::new(span, format!("{}: {e}", path.display())))?;
    let file = object::File::parse(&*data)
        .map_err(|e| Diagnostic::new(span, format!("{}: {e}", path.display())))?;
    let shown = path.display().to_string();
    let mut out = vec![];
    for n in notes
        .iter()
        .filter(|n| glob(provider, &n.provider) && glob(name, &n.name))
    {
        let offset = uprobe::address_to_file_offset(&file, n.address).ok_or_else(|| {
            Diagnostic::new(
                span,
                format!(
                    "{}:{}: call site {:#x} is in no loaded segment",
                    n.provider, n.name, n.address
                ),
            )
        })?;
        let semaphore = match n.semaphore {
            0 => 0,
            a => uprobe::address_to_file_offset(&file, a).unwrap_or(0),
        };
        out.push(Probe {
            name: format!("usdt:{shown}:{}:{}", n.provider, n.name),
            kind: ProbeKind::Usdt {
                path: shown.clone(),
                offset,
                semaphore,
                args: n.args.split_whitespace().map(usdt::parse_arg).collect(),
            },
        });
    }
    if out.is_empty() {
        return Err(Diagnostic::new(
            span,
            format!("{shown} has no USDT probe matching '{provider}:{name}'"),
        ));
    }
    Ok(out)
}

/// Shell-style match with `*` and `?` (bytes), linear in time whatever the stars: bpfkit's
/// kprobe glob, so `-l`, wildcard probes and bpfkit's own kprobe.multi patterns agree.
pub use bpfkit::programs::kprobe::glob_match as glob;

fn events_dir() -> Result<std::path::PathBuf, String> {
    Ok(bpfkit::sys::tracefs::tracefs_dir()?.join("events"))
}

fn sorted_dirs(dir: &Path) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    out.sort();
    Ok(out)
}

/// bpftrace's software events: (name, alias, `PERF_COUNT_SW_*`, default count).
const SOFTWARE_EVENTS: &[(&str, &str, u64, u64)] = &[
    ("cpu-clock", "cpu", 0, 1_000_000),
    ("task-clock", "", 1, 1_000_000),
    ("page-faults", "faults", 2, 100),
    ("context-switches", "cs", 3, 1000),
    ("cpu-migrations", "", 4, 1),
    ("minor-faults", "", 5, 100),
    ("major-faults", "", 6, 1),
    ("alignment-faults", "", 7, 1),
    ("emulation-faults", "", 8, 1),
    ("dummy", "", 9, 1),
    ("bpf-output", "", 10, 1),
];

/// bpftrace's hardware events: (name, alias, `PERF_COUNT_HW_*`, default count).
const HARDWARE_EVENTS: &[(&str, &str, u64, u64)] = &[
    ("cpu-cycles", "cycles", 0, 1_000_000),
    ("instructions", "", 1, 1_000_000),
    ("cache-references", "", 2, 1_000_000),
    ("cache-misses", "", 3, 1_000_000),
    ("branch-instructions", "branches", 4, 100_000),
    ("branch-misses", "", 5, 100_000),
    ("bus-cycles", "", 6, 100_000),
    ("frontend-stalls", "", 7, 1_000_000),
    ("backend-stalls", "", 8, 1_000_000),
    ("ref-cycles", "", 9, 1_000_000),
];

/// `-l software:GLOB` / `-l hardware:GLOB`: `software:page-faults:` for each event whose
/// name or alias matches (`None` for other providers).
pub fn list_perf_counters(provider: &str, pattern: &str) -> Option<Vec<String>> {
    let (long, events) = match provider {
        "software" | "s" => ("software", SOFTWARE_EVENTS),
        "hardware" | "h" => ("hardware", HARDWARE_EVENTS),
        _ => return None,
    };
    let event = pattern.split(':').next().unwrap_or("*");
    Some(
        events
            .iter()
            .filter(|(name, alias, _, _)| {
                glob(event, name) || (!alias.is_empty() && glob(event, alias))
            })
            .map(|(name, _, _, _)| format!("{long}:{name}:"))
            .collect(),
    )
}

/// `software:EVENT[:COUNT]` / `hardware:EVENT[:COUNT]` (`provider` as written, `rest`
/// after its colon).
fn perf_counter(provider: &str, rest: &str, span: Span) -> Result<Vec<Probe>, Diagnostic> {
    let (long, type_, events) = if provider.starts_with('s') {
        ("software", 1, SOFTWARE_EVENTS)
    } else {
        ("hardware", 0, HARDWARE_EVENTS)
    };
    let (event, count) = match rest.split_once(':') {
        Some((e, c)) => (e, Some(c)),
        None => (rest, None),
    };
    let Some(&(_, _, config, default)) = events
        .iter()
        .find(|(name, alias, _, _)| *name == event || (!alias.is_empty() && *alias == event))
    else {
        let names: Vec<&str> = events.iter().map(|e| e.0).collect();
        return Err(Diagnostic::new(
            span,
            format!(
                "unknown {long} event '{event}': expected one of {}",
                names.join(", ")
            ),
        ));
    };
    let period = match count {
        None => default,
        Some(c) => c.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
            Diagnostic::new(
                span,
                format!("bad {long} count '{c}': expected a count > 0"),
            )
        })?,
    };
    Ok(vec![Probe {
        kind: ProbeKind::PerfCounter {
            type_,
            config,
            period,
        },
        name: format!("{long}:{event}:{period}"),
    }])
}

/// Tracepoints whose category and name match the globs, sorted. The `ftrace` category
/// (ftrace's own record formats, which no perf event can open) is left out, as bpftrace's
/// `-l` leaves it out.
pub fn list_tracepoints(category: &str, name: &str) -> Result<Vec<(String, String)>, String> {
    let events = events_dir()?;
    let mut out = vec![];
    for cat in sorted_dirs(&events)? {
        if !glob(category, &cat) || cat == "ftrace" {
            continue;
        }
        for ev in sorted_dirs(&events.join(&cat))? {
            if glob(name, &ev) {
                out.push((cat.clone(), ev));
            }
        }
    }
    Ok(out)
}

/// Kernel functions matching a glob that kprobes can attach to: tracefs
/// `available_filter_functions` (module suffixes dropped) minus the kprobe blacklist, or
/// `/proc/kallsyms` text symbols where tracefs lacks the list; sorted, without duplicates.
pub fn traceable_functions(pattern: &str) -> Result<Vec<String>, String> {
    let listed = bpfkit::sys::tracefs::tracefs_dir()
        .ok()
        .and_then(|d| std::fs::read_to_string(d.join("available_filter_functions")).ok());
    let mut out: Vec<String> = match listed {
        Some(text) => text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|f| glob(pattern, f))
            .map(str::to_string)
            .collect(),
        None => bpfkit::programs::kprobe::kernel_functions_matching(pattern)
            .map_err(|e| format!("read /proc/kallsyms: {e}"))?,
    };
    // Functions kprobes refuse (`/sys/kernel/debug/kprobes/blacklist`: "start-end name").
    if let Ok(text) = std::fs::read_to_string("/sys/kernel/debug/kprobes/blacklist") {
        let banned: std::collections::HashSet<&str> = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        out.retain(|f| !banned.contains(f.as_str()));
    }
    // Compiler clones (`foo.isra.0`, `foo.cold`) only when the pattern names them.
    if !pattern.contains('.') {
        out.retain(|f| !f.contains('.'));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// One field of a tracepoint record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Name.
    pub name: String,
    /// The C type as tracefs spells it (`const char *`).
    pub c_type: String,
    /// Offset in the record.
    pub offset: u16,
    /// Size in bytes.
    pub size: u16,
    /// Bytes the record gives it (tracefs `size:`; 8 for every syscall argument): the
    /// integer type bpftrace gives the field, which `bswap` swaps.
    pub slot: u16,
    /// Whether bpftrace treats it as signed.
    pub signed: bool,
    /// What the field holds.
    pub kind: FieldKind,
    /// The declaration as tracefs writes it (`char prev_comm[16]`), which `-lv` lists.
    pub decl: String,
}

/// The shape of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// An integer (or a pointer, read as an integer).
    Int,
    /// A `char name[N]` array: a string in the record.
    CharArray,
    /// `__data_loc char[]`: a u32 with the string's offset (low 16 bits) in the record.
    DataLocStr,
    /// Anything else (struct arrays, ...).
    Other,
}

/// Parses a tracefs `format` file's field lines (common_* fields included).
pub fn parse_format(text: &str) -> Vec<Field> {
    let mut out = vec![];
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("field:") else {
            continue;
        };
        let mut parts = rest.split(';').map(str::trim);
        let Some(decl) = parts.next() else { continue };
        let mut offset = None;
        let mut size = None;
        let mut signed_flag = false;
        for p in parts {
            if let Some(v) = p.strip_prefix("offset:") {
                offset = v.parse().ok();
            } else if let Some(v) = p.strip_prefix("size:") {
                size = v.parse().ok();
            } else if let Some(v) = p.strip_prefix("signed:") {
                signed_flag = v == "1";
            }
        }
        let (Some(offset), Some(size)) = (offset, size) else {
            continue;
        };
        // "const char * filename", "char comm[16]", "__data_loc char[] name".
        let (c_type, name, array) = match decl.rfind([' ', '*']) {
            Some(i) => {
                let (t, n) = decl.split_at(i + 1);
                let (n, array) = match n.find('[') {
                    Some(j) => (&n[..j], true),
                    None => (n, false),
                };
                (t.trim().to_string(), n.trim().to_string(), array)
            }
            None => continue,
        };
        let kind = if c_type.starts_with("__data_loc") {
            if c_type.contains("char") {
                FieldKind::DataLocStr
            } else {
                FieldKind::Other
            }
        } else if array {
            if c_type == "char" || c_type.ends_with(" char") {
                FieldKind::CharArray
            } else {
                FieldKind::Other
            }
        } else {
            FieldKind::Int
        };
        // Syscall records keep every argument in 8 bytes, but bpftrace reads a field by its
        // C type (`int dfd` is 4 bytes, sign-extended; `umode_t mode` 2 bytes).
        let slot = size;
        let size = match (kind, c_type_size(&c_type)) {
            (FieldKind::Int, Some(n)) => n.min(size),
            _ => size,
        };
        let named_signed = !c_type.contains('*')
            && !c_type.contains("unsigned")
            && matches!(
                c_type.rsplit(' ').next().unwrap_or(""),
                "int" | "long" | "short" | "char" | "pid_t" | "s8" | "s16" | "s32" | "s64"
            );
        out.push(Field {
            name,
            c_type,
            offset,
            size,
            slot,
            signed: signed_flag || named_signed,
            kind,
            decl: decl.to_string(),
        });
    }
    out
}

/// Size of the C integer types tracepoint formats use, where the name fixes it.
fn c_type_size(c_type: &str) -> Option<u16> {
    if c_type.contains('*') {
        return Some(8);
    }
    let base = c_type
        .trim_start_matches("const ")
        .trim_start_matches("volatile ")
        .trim();
    Some(match base {
        "char" | "unsigned char" | "signed char" | "u8" | "s8" | "__u8" | "__s8" | "bool" => 1,
        "short" | "unsigned short" | "short int" | "short unsigned int" | "u16" | "s16"
        | "__u16" | "__s16" | "umode_t" => 2,
        "int" | "unsigned int" | "signed int" | "unsigned" | "u32" | "s32" | "__u32" | "__s32"
        | "pid_t" | "uid_t" | "gid_t" | "qid_t" | "key_serial_t" | "clockid_t" | "mqd_t"
        | "rwf_t" | "key_t" | "timer_t" => 4,
        _ => return None,
    })
}

/// Reads the record layout of `category:name` from tracefs.
pub fn tracepoint_format(category: &str, name: &str) -> Result<Vec<Field>, String> {
    let path = events_dir()?.join(category).join(name).join("format");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    Ok(parse_format(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob("sys_enter_*", "sys_enter_read"));
        assert!(glob("*read", "sys_enter_read"));
        assert!(!glob("sys_exit_*", "sys_enter_read"));
        assert!(glob("sys_?nter_read", "sys_enter_read"));
        assert!(glob("*", ""));
        assert!(glob("**a**", "bab"));
        assert!(!glob("?", ""));
        assert!(!glob("a*b", "acbd"));
        assert!(glob("a*b*", "acbd"));
        assert!(glob("*_*_*", "sys_enter_read"));
        // Found by the trace_lang fuzz target (fuzz/regressions/trace_lang/): many stars made
        // the old recursive matcher take exponential time.
        let stars = "*".repeat(60);
        assert!(!glob(&format!("{stars}BE"), "sys_enter_openat"));
        assert!(glob(&format!("{stars}at"), "sys_enter_openat"));
    }

    #[test]
    fn format_fields_are_parsed() {
        let text = "name: x\nformat:\n\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\n\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:__data_loc char[] name;\toffset:40;\tsize:4;\tsigned:0;\n";
        let f = parse_format(text);
        assert_eq!(f.len(), 5);
        assert_eq!(
            (f[1].name.as_str(), f[1].size, f[1].signed),
            ("dfd", 4, true)
        );
        assert_eq!(
            (f[2].name.as_str(), f[2].kind),
            ("filename", FieldKind::Int)
        );
        assert_eq!(
            (f[3].name.as_str(), f[3].kind),
            ("comm", FieldKind::CharArray)
        );
        assert_eq!(
            (f[4].name.as_str(), f[4].kind),
            ("name", FieldKind::DataLocStr)
        );
    }

    #[test]
    fn software_and_hardware_probes_name_perf_counters() {
        let p = expand("software:faults:1", Span::default()).unwrap();
        assert_eq!(
            (p[0].name.as_str(), &p[0].kind),
            (
                "software:faults:1",
                &ProbeKind::PerfCounter {
                    type_: 1,
                    config: 2,
                    period: 1
                }
            )
        );
        // bpftrace's default counts where none is given.
        let p = expand("s:cs", Span::default()).unwrap();
        assert_eq!(p[0].name, "software:cs:1000");
        assert_eq!(
            p[0].kind,
            ProbeKind::PerfCounter {
                type_: 1,
                config: 3,
                period: 1000
            }
        );
        let p = expand("hardware:cache-misses:100", Span::default()).unwrap();
        assert_eq!(
            p[0].kind,
            ProbeKind::PerfCounter {
                type_: 0,
                config: 3,
                period: 100
            }
        );
        let e = expand("software:nope:1", Span::new(0, 14)).unwrap_err();
        assert!(
            e.message.starts_with("unknown software event 'nope'"),
            "{}",
            e.message
        );
        let e = expand("software:faults:0", Span::new(0, 14)).unwrap_err();
        assert!(e.message.contains("count > 0"), "{}", e.message);
    }

    /// `probe` in `uprobe:libc:read` names the library's file, as bpftrace's does
    /// (`uprobe:/lib/x86_64-linux-gnu/libc.so.6:read` on Debian amd64).
    #[test]
    fn uprobe_names_show_the_resolved_file() {
        let p = expand("uprobe:libc:read", Span::default()).unwrap();
        let Some(path) = crate::runtime::library_by_short_name("libc") else {
            println!("SKIP no libc.so in the usual library directories");
            return;
        };
        let resolved = bpfkit::programs::uprobe::resolve_binary("libc", None).unwrap_or(path);
        assert_eq!(p[0].name, format!("uprobe:{}:read", resolved.display()));
        assert!(p[0].name.starts_with("uprobe:/"), "{}", p[0].name);
        // Not found: as written (attaching reports the missing file).
        let p = expand("uretprobe:/no/such/bin:main", Span::default()).unwrap();
        assert_eq!(p[0].name, "uretprobe:/no/such/bin:main");
    }

    #[test]
    fn perf_counter_listings_match_names_and_aliases() {
        assert_eq!(
            list_perf_counters("software", "*faults").unwrap(),
            [
                "software:page-faults:",
                "software:minor-faults:",
                "software:major-faults:",
                "software:alignment-faults:",
                "software:emulation-faults:"
            ]
        );
        assert_eq!(
            list_perf_counters("h", "cycles").unwrap(),
            ["hardware:cpu-cycles:"]
        );
        assert_eq!(list_perf_counters("software", "*").unwrap().len(), 11);
        assert!(list_perf_counters("tracepoint", "*").is_none());
    }

    #[test]
    fn unsupported_providers_say_so() {
        let e = expand("watchpoint:0x1000:8:w", Span::new(0, 18)).unwrap_err();
        assert_eq!(e.message, "not supported yet: 'watchpoint' probes");
        let p = expand("kretprobe:do_sys_openat2", Span::default()).unwrap();
        assert_eq!(
            (p[0].name.as_str(), &p[0].kind),
            (
                "kretprobe:do_sys_openat2",
                &ProbeKind::Kprobe {
                    functions: vec!["do_sys_openat2".into()],
                    ret: true
                }
            )
        );
        let names: Vec<Option<&str>> = ["k", "kretprobe", "kfunc", "fr", "uprobe"]
            .iter()
            .map(|p| KernelProvider::of(p).map(KernelProvider::long_name))
            .collect();
        assert_eq!(
            names,
            [
                Some("kprobe"),
                Some("kretprobe"),
                Some("fentry"),
                Some("fexit"),
                None
            ]
        );
        let e = expand("kprobe:vfs_read+4", Span::default()).unwrap_err();
        assert_eq!(
            e.message,
            "not supported yet: kprobe offsets (function+offset)"
        );
        let e = expand("fexit:", Span::default()).unwrap_err();
        assert_eq!(e.message, "expected fexit:<function>");
        let p = expand("interval:ms:250", Span::default()).unwrap();
        assert_eq!(
            p[0].kind,
            ProbeKind::Interval {
                period_ns: 250_000_000
            }
        );
    }
}
