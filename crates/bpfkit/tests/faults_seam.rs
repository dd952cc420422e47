//! Fault injection through `sys::seam` with no kernel involved (no privileges, a few
//! seconds): every call is answered by the test (an errno, or a `/dev/null` fd standing in for
//! the kernel object, or an ack for an rtnetlink request).
//!
//! - Attach paths other than tracepoints (kprobe and uprobe through their PMUs, raw
//!   tracepoint, fentry, cgroup by link and by `BPF_PROG_ATTACH`, XDP by link and by netlink,
//!   tc by tcx and by netlink): each step fails with each of EPERM, EINVAL, E2BIG, ENOSPC,
//!   ENOMEM, EAGAIN and EINTR (once, and every time). The result is the documented fallback
//!   (EINVAL of a link kind the kernel lacks), a retry (EINTR once), or an error whose report
//!   names the step and the errno; no fd is left open, and a clean attach works after.
//!   The kprobe cases need the kprobe PMU (the host has none: SKIP); the kernel matrix runs
//!   this test in its x86_64 6.12 VM (`BPFKIT_VM=1`), where they must run.
//! - Feature probes: each probe's calls fail with each errno; the answer is "could not tell"
//!   (not cached, asked again once per question) or "not supported" (cached, never a wrong
//!   "supported"), and loading takes the fallback or names the feature and first kernel.
//!
//! - The kernel BTF file: its open and its mapping fail with each errno (a refused mapping
//!   falls back to reading; a refused open names the file and errno).
//!
//! Each group prints its table (step, errno, outcome).

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command as Process;

use bpfkit::features::{self, Probe, Support};
use bpfkit::links::Link;
use bpfkit::loader::{Loader, Object};
use bpfkit::maps::MapType;
use bpfkit::programs::cgroup::{self, CgroupAttachMethod, CgroupOptions};
use bpfkit::programs::kprobe::{self, KprobeOptions};
use bpfkit::programs::tc::{self, TcAttachMethod, TcHook, TcOptions};
use bpfkit::programs::uprobe::{self, UprobeOptions};
use bpfkit::programs::xdp::{self, XdpAttachMethod, XdpMode, XdpOptions};
use bpfkit::programs::{raw_tracepoint, tracing, AttachError, ProgramType};
use bpfkit::sys::seam::{self, Call, PerfIoctl, Reply};
use bpfkit::sys::Command;
use bpfkit::Report;
use common::fake::{fake_kernel, ERRNOS};
use common::FdCheck;

/// The step a call is, as error reports name it.
fn step(call: &Call) -> &'static str {
    match call {
        Call::Bpf(c) => c.name(),
        Call::PerfEventOpen { .. } => "perf_event_open",
        Call::PerfIoctl(PerfIoctl::SetBpf) => "PERF_EVENT_IOC_SET_BPF",
        Call::PerfIoctl(PerfIoctl::Enable) => "PERF_EVENT_IOC_ENABLE",
        Call::PerfIoctl(PerfIoctl::Disable) => "PERF_EVENT_IOC_DISABLE",
        Call::Netlink { request } => request,
        _ => "other",
    }
}

/// The bytes of `tests/fixtures/<name>.bpf.c` compiled by clang-19 (in a temporary
/// directory, removed after), or of `<name>.bpf.o` from `$BPFKIT_PREBUILT_FIXTURES` where it is
/// set (the kernel matrix's VM, which has no clang; xtask ships the object).
fn fixture_bytes(name: &str) -> Vec<u8> {
    if let Some(dir) = std::env::var_os(bpfkit_test_support::PREBUILT_FIXTURES_ENV) {
        let path = Path::new(&dir).join(format!("{name}.bpf.o"));
        return std::fs::read(&path)
            .unwrap_or_else(|e| panic!("prebuilt fixture {}: {e}", path.display()));
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{name}.bpf.c"));
    // One directory per call: the tests run in parallel and each removes its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("bpfkit-faults-seam-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join(format!("{name}.bpf.o"));
    let multiarch = format!("-I/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let status = Process::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", &multiarch, "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .expect("clang-19 runs");
    let elf = std::fs::read(&out);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "compiling {}", src.display());
    elf.expect("read the fixture object")
}

/// The `attach_kinds` fixture loaded against the fake kernel.
fn load_fixture() -> Object {
    let elf = fixture_bytes("attach_kinds");
    seam::with_override(fake_kernel, || Loader::new().load(&elf, "attach_kinds"))
        .unwrap_or_else(|e| panic!("load against the fake kernel: {}", Report(&e)))
}

/// An attach of one program of the fixture.
type AttachFn = dyn Fn(&Object) -> Result<Link, AttachError>;

/// One attach path: how to attach, and the link kind a clean attach makes.
struct Case {
    name: &'static str,
    attach: Box<AttachFn>,
    /// The link kind of a clean attach.
    kind: &'static str,
    /// Steps faulted with each errno (the first call of each, and every call).
    steps: &'static [&'static str],
    /// Steps failing with their errno at every call of every run (to drive a fallback path).
    fixed: &'static [(&'static str, i32)],
    /// Steps whose EINVAL (a link kind the kernel lacks) falls back, with the kind of link
    /// the fallback makes.
    einval_falls_back: &'static [(&'static str, &'static str)],
    /// Steps of the detach on drop only: their failure is logged, the attach succeeded, and
    /// every fd is closed all the same.
    detach_steps: &'static [&'static str],
}

/// The outcome table.
#[derive(Default)]
struct Table {
    rows: BTreeMap<(String, String), Vec<String>>,
}

impl Table {
    fn add(&mut self, case: &str, step: &str, errno: &str, outcome: String) {
        self.rows
            .entry((format!("{case}: {step}"), errno.to_string()))
            .or_default()
            .push(outcome);
    }

    fn print(&self, title: &str) {
        println!("| {title} step | errno | outcome |");
        println!("|---|---|---|");
        for ((step, errno), outcomes) in &self.rows {
            println!("| {step} | {errno} | {} |", outcomes.join("; "));
        }
    }
}

/// Run `attach` with the fake kernel, the steps of `fixed` failing every time, and the
/// `nth` call of `target` (and every later one with `always`) failing with `errno`; the link
/// is dropped inside the override (its detach calls are answered too). Returns the kind of
/// link made (or the error report) and the calls made.
fn run(
    case: &Case,
    object: &Object,
    target: &str,
    errno: i32,
    always: bool,
) -> (Result<&'static str, String>, Vec<Call>) {
    let calls = RefCell::new(Vec::new());
    let mut seen = 0;
    let result = seam::with_override(
        |call| {
            calls.borrow_mut().push(*call);
            let name = step(call);
            if let Some((_, e)) = case.fixed.iter().find(|(s, _)| *s == name) {
                return Reply::Errno(*e);
            }
            if name == target {
                seen += 1;
                if seen == 1 || always {
                    return Reply::Errno(errno);
                }
            }
            fake_kernel(call)
        },
        || {
            let result = (case.attach)(object);
            result.map(|link| {
                let kind = link.kind();
                drop(link);
                kind
            })
        },
    );
    let result = result.map_err(|e| {
        let report = Report(&e).to_string();
        assert_chain_does_not_repeat(&e);
        report
    });
    (result, calls.into_inner())
}

/// No error of the chain repeats its source's text: each part is printed once by `Report`.
fn assert_chain_does_not_repeat(err: &(dyn std::error::Error + 'static)) {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(source) = e.source() {
            let (outer, inner) = (e.to_string(), source.to_string());
            assert!(
                !outer.contains(&inner),
                "'{outer}' repeats its source '{inner}'"
            );
        }
        next = e.source();
    }
}

fn check_case(case: &Case, object: &Object, table: &mut Table) {
    let fds = common::fd_count();
    let (clean, clean_calls) = run(case, object, "none", 0, false);
    assert_eq!(
        clean.as_deref(),
        Ok(case.kind),
        "{}: clean attach",
        case.name
    );
    for target in case.steps {
        assert!(
            clean_calls.iter().any(|c| step(c) == *target),
            "{}: {target} is not a step of a clean attach ({clean_calls:?})",
            case.name
        );
    }
    for target in case.steps {
        for (errno, errno_name) in ERRNOS {
            let what = format!("{} {target} {errno_name}", case.name);
            let errno_text = std::io::Error::from_raw_os_error(errno).to_string();
            let fallback = case
                .einval_falls_back
                .iter()
                .find(|(s, _)| s == target)
                .map(|(_, kind)| *kind);
            for always in [false, true] {
                let (result, calls) = run(case, object, target, errno, always);
                let made = calls.iter().filter(|c| step(c) == *target).count();
                let outcome = match (&result, errno, fallback) {
                    // EINTR once: the call is made again and the attach succeeds as if clean.
                    (Ok(kind), libc::EINTR, _) if !always => {
                        assert_eq!(*kind, case.kind, "{what}: EINTR retried");
                        let clean = clean_calls.iter().filter(|c| step(c) == *target).count();
                        assert_eq!(made, clean + 1, "{what}: one retry");
                        "ok (retried)".to_string()
                    }
                    (Ok(kind), libc::EINVAL, Some(fallback)) => {
                        assert_eq!(*kind, fallback, "{what}: the fallback");
                        format!("ok: fallback to {kind}")
                    }
                    (Ok(kind), _, _) => panic!("{what} (always: {always}): attached as {kind}"),
                    (Err(report), _, _) => {
                        assert!(
                            errno != libc::EINTR || always,
                            "{what}: EINTR once is retried: {report}"
                        );
                        assert!(
                            !(errno == libc::EINVAL && fallback.is_some() && !always),
                            "{what}: EINVAL falls back: {report}"
                        );
                        assert!(
                            report.contains(&errno_text),
                            "{what}: the error does not carry the errno: {report}"
                        );
                        assert!(
                            report.contains(target.split_whitespace().next().unwrap_or(target)),
                            "{what}: the error does not name {target}: {report}"
                        );
                        if errno == libc::EINTR {
                            // Every call of the step: made 1 + EINTR_RETRIES times.
                            assert_eq!(
                                made % (1 + seam::EINTR_RETRIES as usize),
                                0,
                                "{what}: EINTR repeats ({made} calls)"
                            );
                        }
                        format!("error: {report}")
                    }
                };
                table.add(
                    case.name,
                    target,
                    errno_name,
                    format!("{}: {outcome}", if always { "always" } else { "once" }),
                );
                assert_eq!(common::fd_count(), fds, "{what}: fds left open");
            }
            // After the fault, the same attach works.
            let (again, _) = run(case, object, "none", 0, false);
            assert_eq!(again.as_deref(), Ok(case.kind), "{what}: attach after");
        }
    }
    for target in case.detach_steps {
        assert!(
            clean_calls.iter().any(|c| step(c) == *target),
            "{}: {target} is not a step of a clean detach ({clean_calls:?})",
            case.name
        );
        for (errno, errno_name) in ERRNOS {
            for always in [false, true] {
                let what = format!("{} detach {target} {errno_name}", case.name);
                let (result, calls) = run(case, object, target, errno, always);
                assert_eq!(result.as_deref(), Ok(case.kind), "{what}");
                let made = calls.iter().filter(|c| step(c) == *target).count();
                let clean = clean_calls.iter().filter(|c| step(c) == *target).count();
                if errno == libc::EINTR && always {
                    // Each call made (a failed one may make the drop skip a later one) is
                    // repeated EINTR_RETRIES times.
                    assert!(made > 0, "{what}");
                    assert_eq!(made % (1 + seam::EINTR_RETRIES as usize), 0, "{what}");
                } else if errno == libc::EINTR {
                    assert_eq!(made, clean + 1, "{what}: EINTR retried once");
                }
                assert_eq!(common::fd_count(), fds, "{what}: fds left open");
                table.add(
                    case.name,
                    &format!("{target} (detach on drop)"),
                    errno_name,
                    match (errno, always) {
                        (libc::EINTR, false) => "once: attached; the detach retried".to_string(),
                        (_, false) => "once: attached; the detach error logged, fds closed".into(),
                        (_, true) => "always: attached; the detach error logged, fds closed".into(),
                    },
                );
            }
        }
    }
    assert_eq!(common::fd_count(), fds, "{}: fds left open", case.name);
}

fn program<'a>(object: &'a Object, name: &str) -> &'a bpfkit::loader::Program {
    object
        .program(name)
        .unwrap_or_else(|| panic!("program {name}"))
}

#[test]
fn attach_faults_without_a_kernel() {
    let fds = FdCheck::start();
    features::forget_cached();
    let object = load_fixture();
    let mut cases = Vec::new();
    let kprobe_pmu = bpfkit::sys::perf_event::dynamic_pmu_type("kprobe").is_some();
    // The kernel matrix runs this test for its kprobe cases: every Debian kernel it boots
    // has the kprobe PMU (CONFIG_KPROBE_EVENTS, 4.17+), so there they run or the test fails.
    let in_vm = std::env::var_os("BPFKIT_VM").is_some_and(|v| v == "1");
    assert!(
        kprobe_pmu || !in_vm,
        "BPFKIT_VM=1 but no kprobe PMU in /sys/bus/event_source/devices: the kprobe fault \
         cases would not run"
    );
    if kprobe_pmu {
        cases.push(Case {
            name: "kprobe",
            attach: Box::new(|o| {
                kprobe::attach(
                    program(o, "on_kprobe"),
                    "do_unlinkat",
                    &KprobeOptions::default(),
                )
            }),
            kind: "bpf",
            steps: &[
                "perf_event_open",
                "BPF_LINK_CREATE",
                "PERF_EVENT_IOC_ENABLE",
            ],
            fixed: &[],
            einval_falls_back: &[("BPF_LINK_CREATE", "perf_event")],
            detach_steps: &[],
        });
        cases.push(Case {
            name: "kprobe (ioctl fallback)",
            attach: Box::new(|o| {
                kprobe::attach(
                    program(o, "on_kprobe"),
                    "do_unlinkat",
                    &KprobeOptions::default(),
                )
            }),
            kind: "perf_event",
            steps: &["PERF_EVENT_IOC_SET_BPF", "PERF_EVENT_IOC_ENABLE"],
            fixed: &[("BPF_LINK_CREATE", libc::EINVAL)],
            einval_falls_back: &[],
            detach_steps: &[],
        });
    } else if !kprobe::kprobes_available() {
        // Neither the PMU nor tracefs kprobe_events: the attach says so, opening nothing.
        let err = seam::with_override(fake_kernel, || {
            kprobe::attach(
                program(&object, "on_kprobe"),
                "do_unlinkat",
                &KprobeOptions::default(),
            )
        })
        .expect_err("no kprobes");
        let report = Report(&err).to_string();
        assert!(report.contains("CONFIG_KPROBES"), "{report}");
        println!("SKIP kprobe fault cases: no kprobe PMU; attaching reports: {report}");
    } else {
        println!(
            "SKIP kprobe fault cases: no kprobe PMU (the tracefs kprobe_events path needs the \
             kernel)"
        );
    }
    if bpfkit::sys::perf_event::dynamic_pmu_type("uprobe").is_some() {
        cases.push(Case {
            name: "uprobe",
            attach: Box::new(|o| {
                let exe = std::env::current_exe().expect("own executable");
                uprobe::attach_offset(
                    program(o, "on_uprobe"),
                    &exe,
                    0x1000,
                    &UprobeOptions::default(),
                )
            }),
            kind: "bpf",
            steps: &[
                "perf_event_open",
                "BPF_LINK_CREATE",
                "PERF_EVENT_IOC_ENABLE",
            ],
            fixed: &[],
            einval_falls_back: &[("BPF_LINK_CREATE", "perf_event")],
            detach_steps: &[],
        });
        cases.push(Case {
            name: "uprobe (ioctl fallback)",
            attach: Box::new(|o| {
                let exe = std::env::current_exe().expect("own executable");
                uprobe::attach_offset(
                    program(o, "on_uprobe"),
                    &exe,
                    0x1000,
                    &UprobeOptions::default(),
                )
            }),
            kind: "perf_event",
            steps: &["PERF_EVENT_IOC_SET_BPF", "PERF_EVENT_IOC_ENABLE"],
            fixed: &[("BPF_LINK_CREATE", libc::EINVAL)],
            einval_falls_back: &[],
            detach_steps: &["PERF_EVENT_IOC_DISABLE"],
        });
    } else {
        println!("SKIP uprobe cases: no uprobe PMU in /sys/bus/event_source/devices");
    }
    cases.push(Case {
        name: "raw_tracepoint",
        attach: Box::new(|o| raw_tracepoint::attach(program(o, "on_raw_tp"), "sys_enter")),
        kind: "bpf",
        steps: &["BPF_RAW_TRACEPOINT_OPEN"],
        fixed: &[],
        einval_falls_back: &[],
        detach_steps: &[],
    });
    cases.push(Case {
        name: "fentry",
        attach: Box::new(|o| tracing::attach(program(o, "on_fentry"))),
        kind: "bpf",
        steps: &["BPF_LINK_CREATE"],
        fixed: &[],
        // Before 5.19 tracing links come from BPF_RAW_TRACEPOINT_OPEN.
        einval_falls_back: &[("BPF_LINK_CREATE", "bpf")],
        detach_steps: &[],
    });
    cases.push(Case {
        name: "fentry (raw tracepoint fallback)",
        attach: Box::new(|o| tracing::attach(program(o, "on_fentry"))),
        kind: "bpf",
        steps: &["BPF_RAW_TRACEPOINT_OPEN"],
        fixed: &[("BPF_LINK_CREATE", libc::EINVAL)],
        einval_falls_back: &[],
        detach_steps: &[],
    });
    let cgroup_dir = std::env::temp_dir();
    let dir = std::fs::File::open(&cgroup_dir).expect("a directory fd");
    let dir = std::sync::Arc::new(dir);
    let link_dir = dir.clone();
    cases.push(Case {
        name: "cgroup link",
        attach: Box::new(move |o| {
            cgroup::attach(
                program(o, "on_connect4"),
                &*link_dir,
                &CgroupOptions::default(),
            )
        }),
        kind: "bpf",
        steps: &["BPF_LINK_CREATE"],
        fixed: &[],
        einval_falls_back: &[],
        detach_steps: &[],
    });
    let attach_dir = dir.clone();
    cases.push(Case {
        name: "cgroup prog_attach",
        attach: Box::new(move |o| {
            cgroup::attach(
                program(o, "on_connect4"),
                &*attach_dir,
                &CgroupOptions {
                    method: CgroupAttachMethod::ProgAttach,
                    ..Default::default()
                },
            )
        }),
        kind: "prog_attach",
        steps: &["BPF_PROG_ATTACH"],
        fixed: &[],
        einval_falls_back: &[],
        detach_steps: &["BPF_PROG_DETACH"],
    });
    let xdp_options = |method| XdpOptions {
        mode: XdpMode::Generic,
        method,
        replace_existing: false,
    };
    cases.push(Case {
        name: "xdp",
        attach: Box::new(move |o| {
            xdp::attach(
                program(o, "on_xdp"),
                "lo",
                &xdp_options(XdpAttachMethod::Auto),
            )
        }),
        kind: "bpf",
        steps: &["BPF_LINK_CREATE"],
        fixed: &[],
        einval_falls_back: &[("BPF_LINK_CREATE", "xdp_netlink")],
        detach_steps: &[],
    });
    cases.push(Case {
        name: "xdp netlink",
        attach: Box::new(move |o| {
            xdp::attach(
                program(o, "on_xdp"),
                "lo",
                &xdp_options(XdpAttachMethod::Netlink),
            )
        }),
        kind: "xdp_netlink",
        steps: &["socket(AF_NETLINK, NETLINK_ROUTE)", "RTM_SETLINK IFLA_XDP"],
        fixed: &[],
        einval_falls_back: &[],
        detach_steps: &[],
    });
    let tc_options = |method| TcOptions {
        method,
        ..TcOptions::default()
    };
    cases.push(Case {
        name: "tc",
        attach: Box::new(move |o| {
            tc::attach(
                program(o, "on_tc"),
                "lo",
                TcHook::Ingress,
                &tc_options(TcAttachMethod::Auto),
            )
        }),
        kind: "bpf",
        steps: &["BPF_LINK_CREATE"],
        fixed: &[],
        einval_falls_back: &[("BPF_LINK_CREATE", "tc_netlink")],
        detach_steps: &[],
    });
    cases.push(Case {
        name: "tc netlink",
        attach: Box::new(move |o| {
            tc::attach(
                program(o, "on_tc"),
                "lo",
                TcHook::Ingress,
                &tc_options(TcAttachMethod::Netlink),
            )
        }),
        kind: "tc_netlink",
        steps: &[
            "socket(AF_NETLINK, NETLINK_ROUTE)",
            "RTM_NEWQDISC clsact",
            "RTM_NEWTFILTER bpf",
        ],
        fixed: &[],
        einval_falls_back: &[],
        detach_steps: &[
            "RTM_DELTFILTER bpf",
            "RTM_GETTFILTER dump",
            "RTM_DELQDISC clsact",
        ],
    });
    let mut table = Table::default();
    for case in &cases {
        check_case(case, &object, &mut table);
    }
    table.print("attach (no kernel)");
    drop(cases);
    drop(dir);
    drop(object);
    features::forget_cached();
    fds.assert_no_leak();
}

/// Every probe of `features::Probe`.
const PROBES: [Probe; 17] = [
    Probe::MmapableMaps,
    Probe::GlobalData,
    Probe::MapFreeze,
    Probe::BatchOps,
    Probe::Btf,
    Probe::BtfFunc,
    Probe::BtfDatasec,
    Probe::BtfFloat,
    Probe::BtfDeclTag,
    Probe::BtfTypeTag,
    Probe::BtfEnum64,
    Probe::BpfCookie,
    Probe::Token,
    Probe::BpfLink,
    Probe::PerfEventLink,
    Probe::TcxLink,
    Probe::NetkitLink,
];

/// A probe question: one of the `Probe`s, a map type, a program type or a helper.
#[derive(Clone, Copy, Debug)]
enum Question {
    Probe(Probe),
    Map(MapType),
    Prog(ProgramType),
    Helper(ProgramType, u32),
}

impl Question {
    fn ask(self) -> Support {
        match self {
            Self::Probe(p) => features::support(p),
            Self::Map(m) => features::map_type_support(m),
            Self::Prog(p) => features::program_type_support(p),
            Self::Helper(p, h) => features::helper_support(p, h),
        }
    }
}

/// The kernel of [`fake_kernel`] as the probes need it: a command probed with a bad fd
/// (`BPF_TOKEN_CREATE`) answers EBADF, as a kernel with the command does.
fn fake_probe_kernel(call: &Call) -> Reply {
    match call {
        Call::Bpf(Command::TokenCreate) => Reply::Errno(libc::EBADF),
        _ => fake_kernel(call),
    }
}

/// Ask `question` with every call of step `target` failing with `errno` (none: `"none"`),
/// the others answered by the fake kernel; the answer and the calls made.
fn ask(question: Question, target: &str, errno: i32) -> (Support, Vec<Call>) {
    let calls = RefCell::new(Vec::new());
    let support = seam::with_override(
        |call| {
            if !matches!(call, Call::Open { .. }) {
                calls.borrow_mut().push(*call);
            }
            if step(call) == target {
                Reply::Errno(errno)
            } else {
                fake_probe_kernel(call)
            }
        },
        || question.ask(),
    );
    (support, calls.into_inner())
}

/// The probe answer an errno must give: "could not tell" for privilege, resource and
/// interruption errnos, "not supported" for the kernel not knowing the request.
fn expected_answer(errno: i32) -> Support {
    match errno {
        libc::EINVAL | libc::E2BIG => Support::Unsupported,
        errno => Support::Unknown { errno },
    }
}

#[test]
fn feature_probe_faults() {
    let fds = FdCheck::start();
    let mut questions: Vec<Question> = PROBES.iter().map(|p| Question::Probe(*p)).collect();
    questions.extend([
        Question::Map(MapType::Ringbuf),
        Question::Map(MapType::HashOfMaps),
        Question::Map(MapType::TaskStorage),
        Question::Prog(ProgramType::Syscall),
        Question::Prog(ProgramType::Tracing),
        Question::Helper(ProgramType::Kprobe, 1),
    ]);
    println!("| probe | step | EPERM | EINVAL | E2BIG | ENOSPC | ENOMEM | EAGAIN | EINTR |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for question in questions {
        features::forget_cached();
        let (clean, clean_calls) = ask(question, "none", 0);
        assert_eq!(
            clean,
            Support::Supported,
            "{question:?}: the fake kernel has it"
        );
        assert!(!clean_calls.is_empty(), "{question:?}: no kernel call");
        // Asked again: cached, no call.
        let (again, calls) = ask(question, "none", 0);
        assert_eq!(
            (again, calls.len()),
            (Support::Supported, 0),
            "{question:?}"
        );
        let mut steps: Vec<&str> = clean_calls.iter().map(step).collect();
        steps.dedup();
        steps.sort_unstable();
        steps.dedup();
        for target in steps {
            let mut row = format!("| {question:?} | {target} |");
            for (errno, errno_name) in ERRNOS {
                let what = format!("{question:?} {target} {errno_name}");
                features::forget_cached();
                let (answer, calls) = ask(question, target, errno);
                // Never a wrong "supported", and the errno decides between "no" and "could
                // not tell".
                assert_eq!(answer, expected_answer(errno), "{what}");
                // No retry storm: the retries are bounded (EINTR, EAGAIN, a growing verifier
                // log, the RLIMIT_MEMLOCK retry of an EPERM).
                assert!(calls.len() <= 64, "{what}: {} calls", calls.len());
                // Asked again with the kernel answering: a definite answer is cached, "could
                // not tell" is asked again once (then answered and cached).
                let (later, later_calls) = ask(question, "none", 0);
                match answer {
                    Support::Unsupported => {
                        assert_eq!(
                            (later, later_calls.len()),
                            (Support::Unsupported, 0),
                            "{what}"
                        )
                    }
                    _ => {
                        assert_eq!(later, Support::Supported, "{what}: asked again");
                        assert_eq!(later_calls, clean_calls, "{what}: asked again, once");
                    }
                }
                let shown = match answer {
                    Support::Unsupported => "no (cached)".to_string(),
                    Support::Unknown { .. } => "unknown".to_string(),
                    Support::Supported => unreachable!(),
                };
                row.push_str(&format!(" {shown}, {} calls |", calls.len()));
            }
            println!("{row}");
        }
    }
    features::forget_cached();
    fds.assert_no_leak();
}

/// What loading does with the probes' answers: a missing feature takes the fallback (global
/// data not mmapable) or is named in the error with its first kernel (a program type), and a
/// probe that could not tell names nothing.
#[test]
fn loading_follows_the_probe_answers() {
    let fds = FdCheck::start();
    let elf = fixture_bytes("attach_kinds");
    let load = |inject: &dyn Fn(&Call) -> Option<Reply>| {
        let calls = RefCell::new(Vec::new());
        let result = seam::with_override(
            |call| {
                calls.borrow_mut().push(*call);
                inject(call).unwrap_or_else(|| fake_probe_kernel(call))
            },
            || Loader::new().load(&elf, "attach_kinds"),
        );
        (result, calls.into_inner())
    };
    let data_flags = |object: &Object| {
        object
            .maps()
            .find(|(name, _)| name.ends_with(".bss"))
            .map(|(_, map)| map.map_flags())
            .unwrap_or_else(|| {
                let names: Vec<&str> = object.maps().map(|(n, _)| n).collect();
                panic!("no .data map in {names:?}")
            })
    };
    const MMAPABLE: u32 = 1 << 10;

    // The kernel has mmapable maps: global data is created mmapable.
    features::forget_cached();
    let (object, _) = load(&|_| None);
    let object = object.unwrap_or_else(|e| panic!("load: {}", Report(&e)));
    assert_eq!(data_flags(&object) & MMAPABLE, MMAPABLE);
    drop(object);

    // The probe says no (EINVAL, cached): global data is created without the flag, and the
    // load asks the kernel nothing more about it.
    features::forget_cached();
    let probe = |errno| {
        seam::with_override(
            |call| match call {
                Call::Bpf(Command::MapCreate) => Reply::Errno(errno),
                _ => fake_probe_kernel(call),
            },
            || features::support(Probe::MmapableMaps),
        )
    };
    assert_eq!(probe(libc::EINVAL), Support::Unsupported);
    let (object, calls) = load(&|_| None);
    let object = object.unwrap_or_else(|e| panic!("load: {}", Report(&e)));
    assert_eq!(data_flags(&object) & MMAPABLE, 0, "fallback: not mmapable");
    let map_creates = calls
        .iter()
        .filter(|c| **c == Call::Bpf(Command::MapCreate))
        .count();
    assert_eq!(map_creates, object.maps().count(), "no probe map: cached");
    drop(object);

    // The probe could not tell (EPERM): not cached; the load asks again and the kernel's
    // answer (yes) decides.
    features::forget_cached();
    assert_eq!(probe(libc::EPERM), Support::Unknown { errno: libc::EPERM });
    let (object, _) = load(&|_| None);
    let object = object.unwrap_or_else(|e| panic!("load: {}", Report(&e)));
    assert_eq!(data_flags(&object) & MMAPABLE, MMAPABLE);
    drop(object);

    // A program refused with EINVAL and no verifier log: with the program type known to be
    // missing (its probe got EINVAL too), the error names the type and its first kernel.
    features::forget_cached();
    let (result, _) =
        load(&|call| (*call == Call::Bpf(Command::ProgLoad)).then_some(Reply::Errno(libc::EINVAL)));
    let err = result.expect_err("every program load refused");
    let report = Report(&err).to_string();
    let feature = err
        .missing_feature()
        .unwrap_or_else(|| panic!("a missing feature: {report}"));
    assert!(feature.min_kernel().is_some(), "{report}");
    assert!(
        report.contains(&format!("requires Linux {}", feature.since)),
        "{report}"
    );
    println!("program type missing: {report}");
    // The same refusal with the probe unable to tell (EPERM): no feature is claimed missing.
    features::forget_cached();
    let loads = std::cell::Cell::new(0);
    let (result, _) = load(&|call| {
        (*call == Call::Bpf(Command::ProgLoad)).then(|| {
            loads.set(loads.get() + 1);
            // The object's program is loaded (then again with a verifier log); the probe's
            // load comes after.
            Reply::Errno(if loads.get() <= 2 {
                libc::EINVAL
            } else {
                libc::EPERM
            })
        })
    });
    let err = result.expect_err("the program load refused");
    assert!(
        err.missing_feature().is_none(),
        "no feature claimed: {}",
        Report(&err)
    );
    println!("probe could not tell: {}", Report(&err));
    features::forget_cached();
    fds.assert_no_leak();
}

/// tc's fallback to cls_bpf when tcx says EINVAL: with tcx known to be missing (its probe
/// said no), a failing netlink attach reports netlink's error; with tcx present, EINVAL was
/// tcx's answer and is what is reported.
#[test]
fn tc_fallback_error_follows_the_tcx_probe() {
    let fds = FdCheck::start();
    let object = load_fixture();
    let attach = |tcx_probe: i32| {
        features::forget_cached();
        // The probe's answer first (cached when definite).
        seam::with_override(
            |call| match call {
                Call::Bpf(Command::LinkCreate) => Reply::Errno(tcx_probe),
                _ => fake_probe_kernel(call),
            },
            || features::support(Probe::TcxLink),
        );
        seam::with_override(
            |call| match call {
                Call::Bpf(Command::LinkCreate) => Reply::Errno(libc::EINVAL),
                Call::Netlink {
                    request: "RTM_NEWTFILTER bpf",
                } => Reply::Errno(libc::EPERM),
                _ => fake_probe_kernel(call),
            },
            || {
                tc::attach(
                    program(&object, "on_tc"),
                    "lo",
                    TcHook::Ingress,
                    &TcOptions::default(),
                )
                .map(drop)
            },
        )
        .expect_err("both refused")
    };
    let without_tcx = Report(&attach(libc::EINVAL)).to_string();
    assert!(
        without_tcx.contains("RTM_NEWTFILTER bpf") && without_tcx.contains("not permitted"),
        "{without_tcx}"
    );
    let with_tcx = Report(&attach(libc::ENODEV)).to_string();
    assert!(
        with_tcx.contains("BPF_LINK_CREATE tcx") && with_tcx.contains("Invalid argument"),
        "{with_tcx}"
    );
    drop(object);
    features::forget_cached();
    fds.assert_no_leak();
}

/// The kernel's BTF as the loader reads it (`KernelBtf::vmlinux`): its open (`Call::Open`,
/// kind `kernel BTF`) and its mapping (`Call::Mmap`) fail with each errno. A refused mapping
/// falls back to reading the file (the same bytes); a refused open is an error naming the
/// file and the errno (EINTR once is retried); nothing is left open. Unprivileged: the file
/// is world-readable.
#[test]
fn kernel_btf_open_and_mmap_faults() {
    use bpfkit::loader::KernelBtf;
    let fds = FdCheck::start();
    let path = "/sys/kernel/btf/vmlinux";
    if !Path::new(path).exists() {
        println!("SKIP kernel_btf_open_and_mmap_faults: no {path}");
        return;
    }
    // A clean read opens the file once, whether the kernel maps it (6.16+) or the loader
    // reads it through the same open file.
    let mut clean_opens = 0;
    let clean = seam::with_override(
        |call| {
            if *call == (Call::Open { what: "kernel BTF" }) {
                clean_opens += 1;
            }
            Reply::Kernel
        },
        KernelBtf::vmlinux,
    )
    .expect("kernel BTF");
    assert_eq!(clean_opens, 1, "vmlinux BTF is opened once");
    println!("| kernel BTF step | errno | outcome |");
    println!("|---|---|---|");
    for (errno, errno_name) in ERRNOS {
        for always in [false, true] {
            let when = if always { "always" } else { "once" };
            let mut mmaps = 0;
            let mapped = seam::with_override(
                |call| match call {
                    Call::Mmap { .. } => {
                        mmaps += 1;
                        if mmaps == 1 || always {
                            Reply::Errno(errno)
                        } else {
                            Reply::Kernel
                        }
                    }
                    _ => Reply::Kernel,
                },
                KernelBtf::vmlinux,
            )
            .unwrap_or_else(|e| panic!("mmap {errno_name} {when}: {e}"));
            assert!(
                mapped.bytes() == clean.bytes(),
                "mmap {errno_name} {when}: other bytes"
            );
            drop(mapped);
            let outcome = if errno == libc::EINTR && !always {
                assert_eq!(mmaps, 2, "mmap EINTR once: one retry");
                "ok (retried)"
            } else {
                "ok (read instead, same bytes)"
            };
            println!("| mmap | {errno_name} | {when}: {outcome} |");
            let mut opens = 0;
            let opened = seam::with_override(
                |call| match call {
                    Call::Open { what: "kernel BTF" } => {
                        opens += 1;
                        if opens == 1 || always {
                            Reply::Errno(errno)
                        } else {
                            Reply::Kernel
                        }
                    }
                    _ => Reply::Kernel,
                },
                KernelBtf::vmlinux,
            );
            let outcome = match opened {
                Ok(btf) => {
                    assert!(errno == libc::EINTR && !always, "open {errno_name} {when}");
                    assert_eq!(opens, clean_opens + 1, "one retry");
                    assert!(btf.bytes() == clean.bytes());
                    "ok (retried)".to_string()
                }
                Err(e) => {
                    let text = e.to_string();
                    let errno_text = std::io::Error::from_raw_os_error(errno).to_string();
                    assert!(
                        text.contains(path) && text.contains(&errno_text),
                        "open {errno_name} {when}: {text}"
                    );
                    format!("error: {text}")
                }
            };
            println!("| open | {errno_name} | {when}: {outcome} |");
        }
    }
    drop(clean);
    fds.assert_no_leak();
}

/// XDP's fallback to netlink when the link says EINVAL: if netlink fails too, the link's
/// EINVAL is what is reported (a kernel with XDP links refused the request itself), and
/// nothing is left open.
#[test]
fn xdp_fallback_error_is_the_links() {
    let fds = FdCheck::start();
    let object = load_fixture();
    let err = seam::with_override(
        |call| match call {
            Call::Bpf(Command::LinkCreate) => Reply::Errno(libc::EINVAL),
            Call::Netlink {
                request: "RTM_SETLINK IFLA_XDP",
            } => Reply::Errno(libc::EPERM),
            _ => fake_kernel(call),
        },
        || {
            xdp::attach(
                program(&object, "on_xdp"),
                "lo",
                &XdpOptions {
                    mode: XdpMode::Generic,
                    method: XdpAttachMethod::Auto,
                    replace_existing: false,
                },
            )
            .map(drop)
        },
    )
    .expect_err("both refused");
    let report = Report(&err).to_string();
    assert!(
        report.contains("BPF_LINK_CREATE xdp on lo") && report.contains("Invalid argument"),
        "{report}"
    );
    drop(object);
    fds.assert_no_leak();
}
