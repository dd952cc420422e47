//! Running a compiled program: maps and programs created through `bpfkit`'s syscall layer,
//! probes attached (perf events for tracepoints, intervals and uprobes; `BEGIN`/`END` run
//! once with `BPF_PROG_TEST_RUN`), events read from a ring buffer and printed as bpftrace
//! prints them.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use bpfkit::maps::{MapData, MapError, MapParams, MapType, StackTraceMap};
use bpfkit::readers::RingBuf;
use bpfkit::sys::{self, perf_event, tracefs};
use bpfkit_obj::insn::{disassemble, Insn, Symbolizer};

use crate::codegen::{compile, CompileOptions, JOIN_BUF_REF, LOST_REF, RINGBUF_REF, STACK_MAP_REF};
use crate::format::{decode_args, format as format_printf};
use crate::output::{self, OutputFormat};
use crate::probes::ProbeKind;
use crate::types::{event, Compiled};

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-f`.
    pub format: OutputFormat,
    /// `-p PID`: uprobes only in this process; stop when it exits.
    pub pid: Option<i32>,
    /// `-c CMD`: start CMD once probes are attached, stop when it exits.
    pub command: Option<String>,
    /// `--dry-run`: print the instructions instead of loading.
    pub dry_run: bool,
    /// Positional parameters (`$1`, `str($2)`, `$#`).
    pub params: Vec<String>,
    /// `--token-path`: load through a BPF token from this bpffs (`None`: the automatic one,
    /// see [`bpfkit::token::TokenSource::Auto`]).
    pub token_path: Option<std::path::PathBuf>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The program text is wrong or outside the supported subset (already rendered with
    /// line, column and caret).
    #[error("{0}")]
    Compile(String),
    /// The kernel refused a map or program.
    #[error("{what}: {message}")]
    Kernel {
        /// What was being done.
        what: String,
        /// The error and, for program loads, the end of the verifier log.
        message: String,
    },
    /// Writing output or starting the command failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> TraceError {
    let what = what.into();
    move |source| TraceError::Io { what, source }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores to an atomic, which
        // is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The `-c` child, forked and held stopped before `exec` until probes are attached; killed
/// if dropped early. It stops itself with `SIGSTOP`, which takes effect after its `kill(2)`
/// has returned (before the attach), so a probe on syscalls sees none of the holding: the
/// child's first traced syscall is the `execve` of the command, as under `strace -f`. (A
/// child held in `read(2)` on a pipe would show one more `read`, returning after the attach.)
struct GatedChild {
    pid: libc::pid_t,
    held: bool,
    reaped: bool,
}

/// `program` itself when it has a slash, else the first executable match in `PATH` —
/// resolved before the fork so the child makes exactly one `execve` (execvp would try each
/// `PATH` entry, each a failed execve a syscall probe sees).
fn find_program(program: &str) -> Option<CString> {
    let executable = |path: &std::path::Path| {
        let c = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())).ok()?;
        // SAFETY: `c` is NUL-terminated; access only reads the path.
        (path.is_file() && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0).then_some(c)
    };
    if program.contains('/') {
        return executable(std::path::Path::new(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).find_map(|dir| executable(&dir.join(program)))
}

impl GatedChild {
    fn spawn(cmd: &str) -> Result<Self, TraceError> {
        let words: Vec<CString> = cmd
            .split_whitespace()
            .map(|w| CString::new(w).map_err(|_| std::io::Error::other("NUL byte in -c")))
            .collect::<Result<_, _>>()
            .map_err(io_err("-c"))?;
        let Some(first) = cmd.split_whitespace().next() else {
            return Err(io_err("-c")(std::io::Error::other("empty command")));
        };
        let program = find_program(first).ok_or_else(|| {
            io_err(format!("-c {first}"))(std::io::Error::other(
                "not found in PATH, or not executable",
            ))
        })?;
        let mut argv: Vec<*const libc::c_char> = words.iter().map(|w| w.as_ptr()).collect();
        argv.push(std::ptr::null());
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: fork(2); the child below only calls async-signal-safe functions (prctl,
        // getppid, getpid, kill, execv, _exit) on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io_err("fork")(std::io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: in the child: stop until the parent's SIGCONT (killed with the parent),
            // then exec; argv is a NULL-terminated array of live C strings.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                if libc::getppid() != parent {
                    libc::_exit(127);
                }
                libc::kill(libc::getpid(), libc::SIGSTOP);
                libc::execv(program.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
        }
        let mut child = Self {
            pid,
            held: true,
            reaped: false,
        };
        let mut status = 0;
        let ret = loop {
            // SAFETY: waitpid on our own child with a live status out-parameter.
            let ret = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
            if ret >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break ret;
            }
        };
        if ret != pid {
            // Drop kills and reaps it.
            return Err(io_err("-c: waitpid")(std::io::Error::last_os_error()));
        }
        if !libc::WIFSTOPPED(status) {
            child.reaped = true;
            child.held = false;
            return Err(io_err("-c")(std::io::Error::other(
                "the child ended before it could be held",
            )));
        }
        Ok(child)
    }

    fn pid(&self) -> u32 {
        self.pid as u32
    }

    fn release(&mut self) {
        if std::mem::take(&mut self.held) {
            // SAFETY: continuing our own stopped child.
            unsafe { libc::kill(self.pid, libc::SIGCONT) };
        }
    }

    fn exited(&mut self) -> bool {
        if !self.reaped {
            let mut status = 0;
            // SAFETY: waitpid on our own child with a live status out-parameter.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            self.reaped = r == self.pid || r < 0;
        }
        self.reaped
    }
}

impl Drop for GatedChild {
    fn drop(&mut self) {
        let held = std::mem::take(&mut self.held);
        if !self.exited() {
            // SAFETY: signalling and reaping our own, not yet reaped, child (a held one
            // cannot act on SIGTERM while stopped: it gets SIGKILL).
            unsafe {
                libc::kill(self.pid, if held { libc::SIGKILL } else { libc::SIGTERM });
                let mut status = 0;
                libc::waitpid(self.pid, &mut status, 0);
            }
        }
    }
}

/// Names map references in `--dry-run` output.
struct MapNames<'a>(&'a Compiled);

impl Symbolizer for MapNames<'_> {
    fn imm64_name(&self, first: &Insn, _second: &Insn, imm: u64) -> Option<String> {
        if first.src_reg == bpfkit_obj::insn::opcode::BPF_PSEUDO_FUNC {
            return Some(format!("callback[pc+{}]", first.imm));
        }
        if first.src_reg != bpfkit_obj::insn::opcode::BPF_PSEUDO_MAP_FD {
            return None;
        }
        let idx = imm as u32;
        if idx == RINGBUF_REF {
            return Some("map[events]".into());
        }
        if idx == JOIN_BUF_REF {
            return Some("map[join_buf]".into());
        }
        if idx == STACK_MAP_REF {
            return Some("map[stacks]".into());
        }
        if idx == LOST_REF {
            return Some("map[lost]".into());
        }
        self.0
            .maps
            .get(idx as usize)
            .map(|m| format!("map[{}]", m.name))
    }
}

/// `--dry-run`: each probe's instructions in the verifier's syntax.
pub fn dry_run(compiled: &Compiled) -> String {
    let mut out = String::new();
    for p in &compiled.programs {
        out.push_str(&format!("{}:\n", p.probe.name));
        match disassemble(&p.insns, &MapNames(compiled)) {
            Ok(text) => out.push_str(&text),
            Err(e) => out.push_str(&format!("  <{e}>\n")),
        }
    }
    out
}

struct Loaded {
    maps: Vec<MapData>,
    ring: MapData,
    /// Kept open for the programs that reference it.
    #[allow(dead_code)]
    join: MapData,
    /// The stack trace map of `kstack`/`ustack`, when a program uses it.
    stacks: Option<StackTraceMap<MapData>>,
    /// One u64: records the ring buffer refused.
    lost: MapData,
    progs: Vec<OwnedFd>,
    /// Each program's final instructions, to load a wildcard kprobe again for per-function
    /// perf events when the kernel has no kprobe.multi links.
    raw: Vec<Vec<u64>>,
    /// The BTF `func_info` of callback programs refer to (`for` over a map).
    func_btf: Option<OwnedFd>,
    /// Each program's `func_info` records (empty without callbacks).
    func_infos: Vec<Vec<u8>>,
}

/// `bpf_func_info` records: the main program at 0, then each callback.
fn func_info_records(main: u32, callback: u32, subprogs: &[usize]) -> Vec<u8> {
    let mut out = vec![];
    for (off, id) in
        std::iter::once((0, main)).chain(subprogs.iter().map(|&s| (s as u32, callback)))
    {
        out.extend_from_slice(&off.to_ne_bytes());
        out.extend_from_slice(&id.to_ne_bytes());
    }
    out
}

const RINGBUF_SIZE: u32 = 1 << 20;

/// Bytes of a file `cat()` prints at most (bpftrace's default `cat_bytes_max`).
const CAT_BYTES_MAX: u64 = 10240;

/// The first `max` bytes of the file at `path`.
fn read_head(path: &str, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut out = vec![];
    std::fs::File::open(path)?.take(max).read_to_end(&mut out)?;
    Ok(out)
}

fn object_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(15)
        .collect()
}

fn program_type(kind: &ProbeKind) -> u32 {
    use sys::uapi::*;
    match kind {
        // BEGIN and END run by BPF_PROG_TEST_RUN.
        ProbeKind::Begin | ProbeKind::End | ProbeKind::RawTracepoint { .. } => {
            BPF_PROG_TYPE_RAW_TRACEPOINT
        }
        ProbeKind::Tracepoint { .. } => BPF_PROG_TYPE_TRACEPOINT,
        ProbeKind::Interval { .. } | ProbeKind::Profile { .. } | ProbeKind::PerfCounter { .. } => {
            BPF_PROG_TYPE_PERF_EVENT
        }
        ProbeKind::Uprobe { .. } | ProbeKind::Kprobe { .. } | ProbeKind::Usdt { .. } => {
            BPF_PROG_TYPE_KPROBE
        }
        ProbeKind::Fentry { .. } => BPF_PROG_TYPE_TRACING,
    }
}

/// What a program is loaded with besides its instructions: the expected attach type and
/// the BTF id of the function it attaches to.
fn load_target(kind: &ProbeKind) -> Result<(u32, u32), String> {
    Ok(match kind {
        ProbeKind::Kprobe { functions, .. } if functions.len() > 1 => {
            (sys::uapi::BPF_TRACE_KPROBE_MULTI, 0)
        }
        ProbeKind::Fentry { function, ret } => {
            let f = crate::kbtf::KernelBtf::shared()?.function(function)?;
            let t = if *ret {
                sys::uapi::BPF_TRACE_FEXIT
            } else {
                sys::uapi::BPF_TRACE_FENTRY
            };
            (t, f.btf_id)
        }
        _ => (0, 0),
    })
}

/// The statement whose code holds the instruction the verifier stopped at (the last
/// `N: (..)` line of its log).
fn rejected_span(p: &crate::types::CompiledProgram, log: &str) -> Option<crate::diag::Span> {
    let insn: usize = log.lines().rev().find_map(|l| {
        let (n, rest) = l.split_once(": ")?;
        rest.starts_with('(').then(|| n.trim().parse().ok())?
    })?;
    p.spans
        .iter()
        .take_while(|(at, _)| *at <= insn)
        .last()
        .map(|(_, span)| *span)
}

fn load(
    compiled: &Compiled,
    source: &str,
    file: &str,
    token_path: Option<&std::path::Path>,
) -> Result<Loaded, TraceError> {
    let map_error = |what: String| {
        move |e: MapError| TraceError::Kernel {
            what,
            message: bpfkit::Report(&e).to_string(),
        }
    };
    let source_of_token = match token_path {
        Some(path) => bpfkit::token::TokenSource::Path(path.to_owned()),
        None => bpfkit::token::TokenSource::Auto,
    };
    let token = source_of_token.resolve().map_err(|e| TraceError::Kernel {
        what: "create a BPF token".into(),
        message: bpfkit::Report(&e).to_string(),
    })?;
    let token_fd = token.as_deref().map(|t| t.as_fd());
    // BTF for keys and values makes `bpftool map dump` readable; maps go without it on
    // kernels that refuse it.
    let btf = crate::map_btf::build(&compiled.maps).and_then(|b| {
        sys::btf_load_with_token(&b.bytes, token_fd)
            .ok()
            .map(|fd| (fd, b.ids))
    });
    let mut maps = vec![];
    for (i, m) in compiled.maps.iter().enumerate() {
        let name = format!("AT_{}", m.name.trim_start_matches('@'));
        let mut params = MapParams::new(
            &name,
            MapType::Hash,
            m.key_size() as u32,
            m.kind.value_size() as u32,
            m.max_entries(),
        );
        params.btf = btf
            .as_ref()
            .map(|(fd, ids)| (fd.as_fd(), ids[i].0, ids[i].1));
        params.token = token_fd;
        let map = match MapData::create(&params) {
            Ok(map) => map,
            Err(_) if params.btf.is_some() => {
                params.btf = None;
                MapData::create(&params).map_err(map_error(format!("create map {}", m.name)))?
            }
            Err(e) => return Err(map_error(format!("create map {}", m.name))(e)),
        };
        maps.push(map);
    }
    // The runtime's own maps: event ring buffer, join() scratch, kstack/ustack stacks and
    // the lost-records counter.
    let create = |name: &str, map_type, key_size, value_size, max_entries, what: &str| {
        let mut params = MapParams::new(name, map_type, key_size, value_size, max_entries);
        params.token = token_fd;
        MapData::create(&params).map_err(map_error(what.into()))
    };
    let ring = create(
        "events",
        MapType::Ringbuf,
        0,
        0,
        RINGBUF_SIZE,
        "create the event ring buffer",
    )?;
    let join = create(
        "join_buf",
        MapType::PercpuArray,
        4,
        crate::types::JOIN_RECORD,
        1,
        "create the join() buffer",
    )?;
    let stacks = if compiled
        .programs
        .iter()
        .any(|p| p.map_refs.iter().any(|&(_, i)| i == STACK_MAP_REF))
    {
        let map = create(
            "stacks",
            MapType::StackTrace,
            4,
            8 * crate::symbols::MAX_FRAMES,
            4096,
            "create the kstack map",
        )?;
        Some(StackTraceMap::new(map).map_err(map_error("the kstack map".into()))?)
    } else {
        None
    };
    let lost = create(
        "lost",
        MapType::Array,
        4,
        8,
        1,
        "create the lost-events counter",
    )?;
    // Programs with callbacks (`for` over a map) need BTF func_info for them.
    let func_btf = if compiled.programs.iter().any(|p| !p.subprogs.is_empty()) {
        let needs = "'for' over a map needs bpf_for_each_map_elem (Linux 5.13)";
        if let bpfkit::features::Support::Unsupported = bpfkit::features::helper_support(
            bpfkit::programs::ProgramType::RawTracepoint,
            sys::uapi::BPF_FUNC_for_each_map_elem,
        ) {
            return Err(TraceError::Kernel {
                what: "load".into(),
                message: format!("{needs}, which this kernel does not have"),
            });
        }
        let (bytes, main, callback) = crate::map_btf::func_btf().ok_or(TraceError::Kernel {
            what: "load".into(),
            message: "could not encode the callbacks' BTF".into(),
        })?;
        let fd = sys::btf_load_with_token(&bytes, token_fd).map_err(|e| TraceError::Kernel {
            what: format!("load the callbacks' BTF ({needs} and BTF)"),
            message: format!("{}: {}", e.source, e.verifier_log.trim()),
        })?;
        Some((fd, main, callback))
    } else {
        None
    };
    let mut progs = vec![];
    let mut raws = vec![];
    let mut func_infos = vec![];
    for p in &compiled.programs {
        let mut insns = p.insns.clone();
        for &(slot, idx) in &p.map_refs {
            let map = if idx == RINGBUF_REF {
                Some(&ring)
            } else if idx == JOIN_BUF_REF {
                Some(&join)
            } else if idx == LOST_REF {
                Some(&lost)
            } else if idx == STACK_MAP_REF {
                stacks.as_ref().map(StackTraceMap::map)
            } else {
                maps.get(idx as usize)
            };
            insns[slot].imm = map.map_or(-1, |m| m.as_fd().as_raw_fd());
        }
        let raw: Vec<u64> = insns
            .iter()
            .map(|i| u64::from_ne_bytes(i.to_bytes()))
            .collect();
        let (expected_attach_type, attach_btf_id) =
            load_target(&p.probe.kind).map_err(|message| TraceError::Kernel {
                what: format!("probe {}", p.probe.name),
                message,
            })?;
        let func_info = match (&func_btf, p.subprogs.is_empty()) {
            (Some((_, main, callback)), false) => func_info_records(*main, *callback, &p.subprogs),
            _ => vec![],
        };
        let (fd, _) = sys::prog_load(&sys::ProgLoadAttr {
            prog_type: program_type(&p.probe.kind),
            insns: &raw,
            license: c"GPL",
            name: &object_name(&p.probe.name),
            expected_attach_type,
            attach_btf_id,
            token_fd,
            prog_btf_fd: match func_info.is_empty() {
                false => func_btf.as_ref().map(|(fd, ..)| fd.as_fd()),
                true => None,
            },
            func_info: &func_info,
            func_info_rec_size: 8,
            ..Default::default()
        })
        .map_err(|e| {
            let log: Vec<&str> = e.verifier_log.lines().collect();
            let tail = log[log.len().saturating_sub(12)..].join("\n");
            let at = rejected_span(p, &e.verifier_log).map_or_else(String::new, |span| {
                crate::diag::Diagnostic::new(
                    span,
                    format!("the kernel's verifier rejected this ({})", e.source),
                )
                .render(file, source)
            });
            TraceError::Kernel {
                what: format!("the kernel rejected the program for probe {}", p.probe.name),
                message: format!("{}\n{at}verifier log (end):\n{tail}", e.source),
            }
        })?;
        progs.push(fd);
        raws.push(raw);
        func_infos.push(func_info);
    }
    Ok(Loaded {
        maps,
        ring,
        join,
        stacks,
        lost,
        progs,
        raw: raws,
        func_btf: func_btf.map(|(fd, ..)| fd),
        func_infos,
    })
}

/// A probe's hold on the kernel: dropping it detaches.
enum Attachment {
    /// A perf event with its program (bpf perf link or `PERF_EVENT_IOC_SET_BPF`).
    Perf(#[allow(dead_code)] bpfkit::links::Link),
    /// A BPF link or raw tracepoint fd (fentry/fexit, kprobe.multi, rawtracepoint).
    Fd(#[allow(dead_code)] OwnedFd),
}

/// One perf-event kprobe (the `kprobe` PMU, Linux 4.17).
fn kprobe_event(function: &str, ret: bool) -> Result<OwnedFd, String> {
    let pmu = perf_event::dynamic_pmu_type("kprobe")
        .ok_or("the kernel has no kprobe PMU (/sys/bus/event_source/devices/kprobe): no kprobes")?;
    let c_function = CString::new(function).map_err(|_| "contains a NUL byte".to_string())?;
    let mut attr = perf_event::PerfEventAttr::new(pmu, 0);
    if ret {
        attr.config |= 1 << perf_event::pmu_format_bit("kprobe", "retprobe").unwrap_or(0);
    }
    attr.config1 = perf_event::c_str_addr(&c_function);
    attr.sample_period = 1;
    attr.wakeup_events = 1;
    perf_event::perf_event_open(&attr, -1, 0, None).map_err(|e| match e.errno() {
        Some(libc::ENOENT) | Some(libc::EINVAL) => {
            format!("{e} (no such kernel function, or it cannot be probed)")
        }
        _ => e.to_string(),
    })
}

/// One kprobe.multi link for all of `functions` (Linux 5.18, CONFIG_FPROBE).
fn kprobe_multi_link(prog: &OwnedFd, functions: &[String], ret: bool) -> Result<OwnedFd, String> {
    let c_names: Vec<CString> = functions
        .iter()
        .map(|f| CString::new(f.as_str()).map_err(|_| format!("{f}: contains a NUL byte")))
        .collect::<Result<_, _>>()?;
    let pointers: Vec<u64> = c_names.iter().map(|c| c.as_ptr() as u64).collect();
    let mut attr = sys::link_create_attr(prog.as_fd(), 0, sys::uapi::BPF_TRACE_KPROBE_MULTI, 0);
    attr.anon_1.kprobe_multi.flags = if ret {
        sys::uapi::BPF_F_KPROBE_MULTI_RETURN
    } else {
        0
    };
    attr.anon_1.kprobe_multi.cnt = pointers.len() as u32;
    attr.anon_1.kprobe_multi.syms = pointers.as_ptr() as u64;
    // SAFETY: `pointers` and the C strings they point to outlive the call and hold `cnt`
    // entries.
    unsafe { sys::link_create(attr) }.map_err(|e| e.to_string())
}

fn attach(
    kind: &ProbeKind,
    name: &str,
    prog: &OwnedFd,
    raw: &[u64],
    func_info: (Option<BorrowedFd<'_>>, &[u8]),
    pid: Option<i32>,
) -> Result<Vec<Attachment>, TraceError> {
    let fail = |what: &str, e: String| TraceError::Kernel {
        what: format!("attach {name}: {what}"),
        message: e,
    };
    let perf = |event: OwnedFd, prog: &OwnedFd, what: &str| {
        bpfkit::programs::perf_event::attach_fd(prog.as_fd(), name, event, what)
            .map(Attachment::Perf)
            .map_err(|e| fail(what, bpfkit::Report(&e).to_string()))
    };
    let (attr, pid, cpu, _path) = match kind {
        ProbeKind::Begin | ProbeKind::End => return Ok(vec![]),
        ProbeKind::RawTracepoint { name: tp } => {
            let c = CString::new(tp.as_str())
                .map_err(|_| fail("name", "contains a NUL byte".into()))?;
            let link = sys::raw_tracepoint_open(Some(&c), prog.as_fd())
                .map_err(|e| fail("BPF_RAW_TRACEPOINT_OPEN", e.to_string()))?;
            return Ok(vec![Attachment::Fd(link)]);
        }
        ProbeKind::Fentry { .. } => {
            let link = sys::raw_tracepoint_open(None, prog.as_fd()).map_err(|e| {
                // ENOTSUPP: no BPF trampolines on this arch/kernel (arm64 before 6.4).
                let hint = if e.errno() == Some(524) {
                    " (the kernel has no BPF trampolines here: use kprobe/kretprobe)"
                } else {
                    ""
                };
                fail("BPF_RAW_TRACEPOINT_OPEN (trampoline)", format!("{e}{hint}"))
            })?;
            return Ok(vec![Attachment::Fd(link)]);
        }
        ProbeKind::Kprobe { functions, ret } => {
            if functions.len() > 1 {
                match kprobe_multi_link(prog, functions, *ret) {
                    Ok(link) => return Ok(vec![Attachment::Fd(link)]),
                    Err(e) => log::debug!("{name}: no kprobe.multi link ({e}), one kprobe each"),
                }
            }
            // Without kprobe.multi the program must be loaded without its attach type.
            let single;
            let prog = if functions.len() > 1 {
                single = sys::prog_load(&sys::ProgLoadAttr {
                    prog_type: program_type(kind),
                    insns: raw,
                    license: c"GPL",
                    name: &object_name(name),
                    prog_btf_fd: func_info.0,
                    func_info: func_info.1,
                    func_info_rec_size: 8,
                    ..Default::default()
                })
                .map_err(|e| fail("load for perf-event kprobes", e.source.to_string()))?
                .0;
                &single
            } else {
                prog
            };
            let mut out = vec![];
            for f in functions {
                let what = format!("kprobe {f}");
                let event = kprobe_event(f, *ret).map_err(|e| fail(&what, e))?;
                out.push(perf(event, prog, &what)?);
            }
            return Ok(out);
        }
        ProbeKind::Usdt {
            path,
            offset,
            semaphore,
            ..
        } => {
            let event = usdt_event(path, *offset, *semaphore, pid)
                .map_err(|e| fail("perf_event_open", e))?;
            return Ok(vec![perf(event, prog, name)?]);
        }
        ProbeKind::Profile { .. } | ProbeKind::PerfCounter { .. } => {
            let attr = if let ProbeKind::PerfCounter {
                type_,
                config,
                period,
            } = kind
            {
                let mut attr = perf_event::PerfEventAttr::new(*type_, *config);
                attr.sample_period = *period;
                attr
            } else {
                let mut attr = perf_event::PerfEventAttr::new(
                    perf_event::PERF_TYPE_SOFTWARE,
                    perf_event::PERF_COUNT_SW_CPU_CLOCK,
                );
                if let ProbeKind::Profile { sample, frequency } = kind {
                    attr.sample_period = *sample;
                    if *frequency {
                        attr.flags |= perf_event::ATTR_FLAG_FREQ;
                    }
                }
                attr
            };
            let cpus =
                bpfkit::cpus::online_cpus().map_err(|e| fail("online CPUs", e.to_string()))?;
            let mut events = vec![];
            for cpu in cpus {
                let event = perf_event::perf_event_open(&attr, -1, cpu as i32, None)
                    .map_err(|e| fail("perf_event_open", e.to_string()))?;
                events.push(perf(event, prog, &format!("{name} on CPU {cpu}"))?);
            }
            return Ok(events);
        }
        ProbeKind::Tracepoint { category, name } => {
            let id = tracefs::tracepoint_id(category, name)
                .map_err(|e| fail("tracepoint id", e.to_string()))?;
            let mut attr = perf_event::PerfEventAttr::new(perf_event::PERF_TYPE_TRACEPOINT, id);
            attr.sample_period = 1;
            attr.wakeup_events = 1;
            (attr, -1, 0, None)
        }
        ProbeKind::Interval { period_ns } => {
            let mut attr = perf_event::PerfEventAttr::new(
                perf_event::PERF_TYPE_SOFTWARE,
                perf_event::PERF_COUNT_SW_CPU_CLOCK,
            );
            attr.sample_period = *period_ns;
            (attr, -1, 0, None)
        }
        ProbeKind::Uprobe {
            binary,
            function,
            ret,
        } => {
            let path = bpfkit::programs::uprobe::resolve_binary(binary, pid)
                .or_else(|| library_by_short_name(binary))
                .ok_or_else(|| fail("find binary", format!("no such file: {binary}")))?;
            let offset = bpfkit::programs::uprobe::symbol_file_offset(&path, function)
                .map_err(|e| fail("find symbol", e))?;
            let pmu = perf_event::dynamic_pmu_type("uprobe")
                .ok_or_else(|| fail("uprobe PMU", "the kernel has no uprobe PMU".into()))?;
            let c_path = CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| fail("binary path", "contains a NUL byte".into()))?;
            let mut attr = perf_event::PerfEventAttr::new(pmu, 0);
            if *ret {
                attr.config |= 1 << perf_event::pmu_format_bit("uprobe", "retprobe").unwrap_or(0);
            }
            attr.config1 = perf_event::c_str_addr(&c_path);
            attr.config2 = offset;
            let (p, c) = match pid {
                Some(p) => (p, -1),
                None => (-1, 0),
            };
            (attr, p, c, Some(c_path))
        }
    };
    let event = perf_event::perf_event_open(&attr, pid, cpu, None)
        .map_err(|e| fail("perf_event_open", e.to_string()))?;
    Ok(vec![perf(event, prog, name)?])
}

/// The uprobe PMU event of a USDT call site; its semaphore is raised while the event lives
/// (the PMU's `ref_ctr_offset`, Linux 4.20).
fn usdt_event(
    path: &str,
    offset: u64,
    semaphore: u64,
    pid: Option<i32>,
) -> Result<OwnedFd, String> {
    let pmu = perf_event::dynamic_pmu_type("uprobe").ok_or("the kernel has no uprobe PMU")?;
    let c_path = CString::new(path).map_err(|_| "the path contains a NUL byte".to_string())?;
    let mut attr = perf_event::PerfEventAttr::new(pmu, 0);
    if semaphore != 0 {
        let shift = perf_event::pmu_format_bit("uprobe", "ref_ctr_offset")
            .ok_or("USDT semaphores need the uprobe PMU's ref_ctr_offset (Linux 4.20)")?;
        attr.config |= semaphore << shift;
    }
    attr.config1 = perf_event::c_str_addr(&c_path);
    attr.config2 = offset;
    let (p, c) = match pid {
        Some(p) => (p, -1),
        None => (-1, 0),
    };
    perf_event::perf_event_open(&attr, p, c, None).map_err(|e| e.to_string())
}

/// `libc` → the first `libc.so*` in the usual library directories, as bpftrace finds
/// `uprobe:libc:fn`.
pub(crate) fn library_by_short_name(name: &str) -> Option<std::path::PathBuf> {
    if name.contains('/') {
        return None;
    }
    let dirs = [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ];
    let prefix = format!("{name}.so");
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        let mut found: Vec<std::path::PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            // `libc.so` is often a linker script: only ELF files.
            .filter(|p| {
                let mut magic = [0u8; 4];
                std::fs::File::open(p)
                    .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                    .is_ok()
                    && magic == *b"\x7fELF"
            })
            .collect();
        found.sort();
        if let Some(p) = found.into_iter().next() {
            return Some(p);
        }
    }
    None
}

/// Every entry of one of the program's (non-per-CPU) hash maps; entries deleted while
/// iterating are skipped.
fn read_map(map: &MapData) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = vec![];
    let mut value = vec![0u8; map.value_size() as usize];
    for key in map.keys_bytes().map_while(Result::ok).take(1 << 22) {
        if let Ok(true) = map.lookup_bytes(&key, &mut value, 0) {
            out.push((key, value.clone()));
        }
    }
    out
}

struct Session<'a, W: Write> {
    compiled: &'a Compiled,
    loaded: &'a Loaded,
    out: W,
    format: OutputFormat,
    done: bool,
    /// Lost records already reported.
    lost_seen: u64,
}

impl<W: Write> Session<'_, W> {
    fn write(&mut self, s: &str) -> Result<(), TraceError> {
        self.out
            .write_all(s.as_bytes())
            .map_err(io_err("write output"))
    }

    fn map_text(&self, idx: usize) -> String {
        self.map_text_with(idx, 0, 0)
    }

    /// The stack trace map printed stacks are read from.
    fn stacks(&self) -> crate::symbols::Stacks<'_> {
        self.loaded.stacks.as_ref()
    }

    fn map_text_with(&self, idx: usize, top: usize, div: u64) -> String {
        let info = &self.compiled.maps[idx];
        let raw = read_map(&self.loaded.maps[idx]);
        output::map_top(info, &raw, self.format, top, div, self.stacks())
    }

    fn handle(&mut self, data: &[u8]) -> Result<(), TraceError> {
        if self.done {
            return Ok(());
        }
        let Some(id) = data
            .get(..8)
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
        else {
            return Ok(());
        };
        let (kind, index) = (id >> 32, (id & 0xffff_ffff) as usize);
        match kind {
            event::PRINTF => {
                if let Some(spec) = self.compiled.printfs.get(index) {
                    let args = decode_args(
                        &spec.args,
                        &data[8..],
                        self.stacks(),
                        &self.compiled.time_formats,
                    );
                    let text = output::printf(&format_printf(spec, &args), self.format);
                    self.write(&text)?;
                }
            }
            event::CAT => {
                if let Some(spec) = self.compiled.printfs.get(index) {
                    let args = decode_args(
                        &spec.args,
                        &data[8..],
                        self.stacks(),
                        &self.compiled.time_formats,
                    );
                    let path = format_printf(spec, &args);
                    let text = match read_head(&path, CAT_BYTES_MAX) {
                        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                        Err(e) => {
                            let e = e.to_string();
                            let e = e.split(" (os error").next().unwrap_or_default();
                            eprintln!("ERROR: failed to open file '{path}': {e}");
                            String::new()
                        }
                    };
                    let text = output::cat(&text, self.format);
                    self.write(&text)?;
                }
            }
            event::PRINT if index < self.compiled.maps.len() => {
                let word = |at: usize| {
                    data.get(at..at + 8)
                        .map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
                };
                let text = self.map_text_with(index, word(8) as usize, word(16));
                self.write(&text)?;
            }
            event::JOIN => {
                let delim = self
                    .compiled
                    .join_delims
                    .get(index)
                    .cloned()
                    .unwrap_or_default();
                let args: Vec<String> = data[8..]
                    .chunks(crate::types::STR_LEN as usize)
                    .map(crate::format::c_string)
                    .take_while(|a| !a.is_empty())
                    .collect();
                let text = output::join(&args.join(&delim), self.format);
                self.write(&text)?;
            }
            event::TIME => {
                if let Some(fmt) = self.compiled.time_formats.get(index) {
                    let text = output::time(&local_time(fmt), self.format);
                    self.write(&text)?;
                }
            }
            event::CLEAR | event::ZERO if index < self.compiled.maps.len() => {
                let map = &self.loaded.maps[index];
                for (k, v) in read_map(map) {
                    if kind == event::CLEAR {
                        let _ = map.delete_bytes(&k);
                    } else {
                        let _ = map.update_bytes(&k, &vec![0u8; v.len()], 0);
                    }
                }
            }
            event::EXIT => self.done = true,
            _ => {}
        }
        Ok(())
    }

    fn drain(&mut self, ring: &mut RingBuf) -> Result<(), TraceError> {
        let mut events = vec![];
        ring.consume(|d| events.push(d.to_vec()))
            .map_err(|e| TraceError::Kernel {
                what: "read events".into(),
                message: e.to_string(),
            })?;
        for e in events {
            self.handle(&e)?;
        }
        let mut count = [0u8; 8];
        if let Ok(true) = self
            .loaded
            .lost
            .lookup_bytes(&0u32.to_ne_bytes(), &mut count, 0)
        {
            let lost = u64::from_ne_bytes(count);
            if lost > self.lost_seen {
                let text = output::lost_events(lost - self.lost_seen, self.format);
                self.lost_seen = lost;
                self.write(&text)?;
            }
        }
        self.out.flush().map_err(io_err("flush output"))
    }
}

/// pidfd_open(2), `None` where the kernel lacks it or the process is gone.
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative return is a new fd that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether `pid` still runs (a zombie has exited).
fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesized command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// The local time formatted by strftime(3), as bpftrace's `time()` prints it.
fn local_time(fmt: &str) -> String {
    let Ok(cfmt) = CString::new(fmt) else {
        return String::new();
    };
    // SAFETY: time(NULL); localtime_r and strftime write into live, correctly sized
    // out-parameters.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        let mut buf = [0u8; 256];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// `strftime(fmt, ns)`: `ns` nanoseconds since boot (`nsecs`) as local time, as bpftrace
/// prints it (boot time is the realtime clock minus `CLOCK_BOOTTIME`).
pub(crate) fn strftime_boot_ns(fmt: &str, ns: u64) -> String {
    let Ok(cfmt) = CString::new(fmt) else {
        return String::new();
    };
    let clock = |id| {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a live out-parameter.
        unsafe { libc::clock_gettime(id, &mut ts) };
        i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
    };
    let boot = clock(libc::CLOCK_REALTIME) - clock(libc::CLOCK_BOOTTIME);
    let secs = ((boot + i128::from(ns)) / 1_000_000_000) as libc::time_t;
    // SAFETY: localtime_r and strftime write into live, correctly sized out-parameters.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        let mut buf = [0u8; 256];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

fn run_once(prog: &OwnedFd, name: &str) -> Result<(), TraceError> {
    sys::prog_test_run(prog.as_fd(), sys::TestRunAttr::default()).map_err(|e| {
        TraceError::Kernel {
            what: format!("run {name} (BPF_PROG_TEST_RUN)"),
            message: e.to_string(),
        }
    })?;
    Ok(())
}

/// Compiles `source` and, unless `--dry-run`, runs it until `exit()`, Ctrl-C, or the end
/// of the `-c` command / `-p` process, writing bpftrace's output to `out`.
pub fn run(source: &str, file: &str, opts: &Options, out: impl Write) -> Result<(), TraceError> {
    let mut out = out;
    let program =
        crate::parser::parse(source).map_err(|d| TraceError::Compile(d.render(file, source)))?;
    // bpftrace refuses a -p process that is not running before it attaches anything.
    if let Some(pid) = opts.pid.filter(|_| !opts.dry_run) {
        if pid <= 0 || !process_alive(pid) {
            return Err(TraceError::Io {
                what: format!("-p {pid}: no such process"),
                source: std::io::Error::from_raw_os_error(libc::ESRCH),
            });
        }
    }
    let mut child = match (&opts.command, opts.dry_run) {
        (Some(cmd), false) => Some(GatedChild::spawn(cmd)?),
        _ => None,
    };
    let copts = CompileOptions {
        cpid: child
            .as_ref()
            .map(|c| c.pid())
            .or(opts.command.as_ref().map(|_| 0)),
        start_ns: monotonic_ns(),
        params: opts.params.clone(),
    };
    let compiled =
        compile(&program, &copts).map_err(|d| TraceError::Compile(d.render(file, source)))?;
    if opts.dry_run {
        out.write_all(dry_run(&compiled).as_bytes())
            .map_err(io_err("write output"))?;
        return Ok(());
    }
    let loaded = load(&compiled, source, file, opts.token_path.as_deref())?;
    let mut ring = RingBuf::new(&loaded.ring).map_err(|e| TraceError::Kernel {
        what: "map the event ring buffer".into(),
        message: e.to_string(),
    })?;
    let mut session = Session {
        compiled: &compiled,
        loaded: &loaded,
        out: &mut out,
        format: opts.format,
        done: false,
        lost_seen: 0,
    };
    session.write(&output::attached(compiled.programs.len(), opts.format))?;
    // BEGIN first (its output, typically a header, comes before any event), then the
    // probes, then the -c command.
    for (p, fd) in compiled.programs.iter().zip(&loaded.progs) {
        if p.probe.kind == ProbeKind::Begin {
            run_once(fd, "BEGIN")?;
        }
    }
    session.drain(&mut ring)?;
    let mut events = vec![];
    if !session.done {
        for (i, ((p, fd), raw)) in compiled
            .programs
            .iter()
            .zip(&loaded.progs)
            .zip(&loaded.raw)
            .enumerate()
        {
            let func_info = match loaded.func_infos[i].as_slice() {
                [] => (None, &[][..]),
                records => (loaded.func_btf.as_ref().map(|f| f.as_fd()), records),
            };
            match attach(&p.probe.kind, &p.probe.name, fd, raw, func_info, opts.pid) {
                Ok(e) => events.extend(e),
                // A library without one of several symbols: bpftrace warns and goes on.
                Err(e)
                    if matches!(p.probe.kind, ProbeKind::Uprobe { .. })
                        && compiled.programs.len() > 1
                        && e.to_string().contains(": find symbol:") =>
                {
                    eprintln!(
                        "WARNING: could not attach probe {}, skipping: {e}",
                        p.probe.name
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }
    STOP.store(false, Ordering::SeqCst);
    install_signal_handlers();
    if let Some(c) = child.as_mut() {
        c.release();
    }
    // A pidfd of the -c child or -p process turns readable when it exits, so the loop
    // wakes at once (Linux 5.3; without it the 100 ms timeout notices).
    let watched = child.as_ref().map(|c| c.pid() as i32).or(opts.pid);
    let pidfd = watched.and_then(pidfd_open);
    while !session.done && !STOP.load(Ordering::SeqCst) {
        let mut pfds = [
            libc::pollfd {
                fd: ring.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two live pollfds (a negative fd is ignored by poll).
        unsafe { libc::poll(pfds.as_mut_ptr(), 2, 100) };
        session.drain(&mut ring)?;
        if let Some(c) = child.as_mut() {
            if c.exited() {
                session.drain(&mut ring)?;
                break;
            }
        }
        if let Some(pid) = opts.pid {
            if !process_alive(pid) {
                session.drain(&mut ring)?;
                break;
            }
        }
    }
    // Detach, then skip what the probes sent after the end, then END.
    drop(events);
    session.done = true;
    session.drain(&mut ring)?;
    session.done = false;
    for (p, fd) in compiled.programs.iter().zip(&loaded.progs) {
        if p.probe.kind == ProbeKind::End {
            run_once(fd, "END")?;
        }
    }
    session.drain(&mut ring)?;
    session.write("\n\n")?;
    let by_name: BTreeMap<&str, usize> = compiled
        .maps
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();
    for (_, idx) in by_name {
        let text = session.map_text(idx);
        session.write(&text)?;
    }
    session.out.flush().map_err(io_err("flush output"))?;
    drop(child);
    Ok(())
}

/// `-lv PATTERN`: [`list`], each tracepoint followed by its fields as bpftrace lists them
/// (`    char prev_comm[16]`, one a line, the `common_` ones left out).
pub fn list_verbose(pattern: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    for name in list(pattern)? {
        let fields = match name
            .strip_prefix("tracepoint:")
            .and_then(|r| r.split_once(':'))
        {
            Some((cat, event)) => crate::probes::tracepoint_format(cat, event)?,
            None => vec![],
        };
        out.push(name);
        out.extend(
            fields
                .iter()
                .filter(|f| !f.name.starts_with("common_"))
                .map(|f| format!("    {}", f.decl)),
        );
    }
    Ok(out)
}

/// `-l PATTERN`: the tracepoints matching a glob like `tracepoint:syscalls:sys_enter_*`
/// (also `syscalls:*` or a bare `*open*` matched against the whole name); with a
/// `kprobe:`/`kretprobe:` or `fentry:`/`fexit:` prefix, the kernel functions matching;
/// with `software:`/`hardware:`, the perf counter events matching.
pub fn list(pattern: &str) -> Result<Vec<String>, String> {
    let pattern = if pattern.is_empty() { "*" } else { pattern };
    if let Some((provider, rest)) = pattern.split_once(':') {
        if let Some(events) = crate::probes::list_perf_counters(provider, rest) {
            return Ok(events);
        }
        let function = rest.rsplit(':').next().unwrap_or(rest);
        if let Some(kernel) = crate::probes::KernelProvider::of(provider) {
            let long = kernel.long_name();
            return Ok(kernel
                .functions_matching(function)?
                .into_iter()
                .map(|f| format!("{long}:{f}"))
                .collect());
        }
    }
    let (cat, name) = match pattern
        .strip_prefix("tracepoint:")
        .or_else(|| pattern.strip_prefix("t:"))
    {
        Some(rest) => rest.split_once(':').unwrap_or((rest, "*")),
        None => ("*", "*"),
    };
    let all = crate::probes::list_tracepoints(cat, name)?;
    Ok(all
        .into_iter()
        .map(|(c, n)| format!("tracepoint:{c}:{n}"))
        .filter(|full| {
            pattern.starts_with("tracepoint:")
                || pattern.starts_with("t:")
                || crate::probes::glob(pattern, full)
                || crate::probes::glob(&format!("tracepoint:{pattern}"), full)
        })
        .collect())
}
