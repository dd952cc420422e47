//! The suite the VM runs: static musl test binaries (`cargo test --no-run --target
//! <arch>-unknown-linux-musl`, executables read from cargo's JSON messages) and the
//! fixtures they need, built on the host because the guest has no clang or cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::arch::Arch;
use crate::packages::{run, KernelRelease};
use crate::{io_err, repo_root, XtaskError};

/// Where a test target runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arches {
    /// Every guest architecture: its fixtures are architecture-neutral (XDP, tracepoints,
    /// CO-RE) or built per architecture.
    All,
    /// x86_64 only: its prebuilt fixtures use x86 `pt_regs` (kprobes, uprobes) or x86-only
    /// attach points.
    X86_64,
    /// aarch64 only: a suite whose x86_64 side the host covers.
    Aarch64,
}

/// A test target of the VM suite: `cargo test -p package --test test` built static, run in
/// each VM whose architecture and kernel it lists, with `skips` passed as `--skip`.
struct TestTarget {
    package: &'static str,
    test: &'static str,
    arches: Arches,
    /// The kernels it runs on (`ALL`: every one): a target whose code paths do not differ
    /// between two kernels runs on fewer of them, to keep the matrix's time down.
    kernels: &'static [KernelRelease],
    /// Tests skipped there: of a host-only fact or needing bpftool.
    skips: &'static [&'static str],
}

const ALL: &[KernelRelease] = &KernelRelease::ALL;

/// The VM suite, in the order it runs. What a kernel lacks is probed by the tests, which
/// print `SKIP <test>: <reason>`; a kernel is left out here only to save matrix time.
const TEST_TARGETS: &[TestTarget] = &[
    // Rust tracepoint program and the C kprobe/fentry/LSM fixture (built per architecture).
    TestTarget {
        package: "bpfkit",
        test: "vm_rust_tracepoint",
        arches: Arches::All,
        kernels: ALL,
        skips: &[],
    },
    TestTarget {
        package: "bpfkit",
        test: "vm_tracing",
        arches: Arches::All,
        kernels: ALL,
        skips: &[],
    },
    // The readers: ring buffer (5.8), perf buffer, user ring buffer (6.1; SKIPs on 5.10).
    // The ring and perf buffer suites are the slowest under TCG (a million records; 76 s and
    // 46 s on x86_64 5.10): they run once, on the oldest kernel and the weakly ordered
    // architecture; the host's `cargo test` covers x86_64 on 6.18.
    TestTarget {
        package: "bpfkit",
        test: "readers_ring_buf",
        arches: Arches::Aarch64,
        kernels: &[KernelRelease::V5_10],
        skips: &[],
    },
    TestTarget {
        package: "bpfkit",
        test: "readers_perf_buffer",
        arches: Arches::Aarch64,
        kernels: &[KernelRelease::V5_10],
        skips: &[],
    },
    TestTarget {
        package: "bpfkit",
        test: "readers_user_ring_buf",
        arches: Arches::All,
        kernels: ALL,
        skips: &[],
    },
    TestTarget {
        package: "bpfkit-obj",
        test: "relo_verifier",
        arches: Arches::All,
        kernels: ALL,
        skips: &[],
    },
    // FLOAT/DECL_TAG/TYPE_TAG/ENUM64 sanitized exactly where the kernel's probes say so
    // (all four on 5.10), read back from the kernel's copy of the BTF.
    TestTarget {
        package: "bpfkit",
        test: "btf_kinds_kernel",
        arches: Arches::All,
        kernels: ALL,
        skips: &[],
    },
    // A 1 MiB map under a 64 KiB RLIMIT_MEMLOCK: raised where the kernel charges BPF memory
    // to it (5.10), left alone where memcg accounts it (5.11+).
    TestTarget {
        package: "bpfkit",
        test: "memlock_kernel",
        arches: Arches::All,
        kernels: ALL,
        skips: &[],
    },
    // CO-RE chains from Rust and C built against the host's types, read on each kernel.
    TestTarget {
        package: "bpfkit",
        test: "vm_core_chains",
        arches: Arches::All,
        kernels: ALL,
        skips: &[],
    },
    // uprobe.multi with cookies: asserts on 6.12, SKIPs before (the BTF lacks the attach type).
    TestTarget {
        package: "bpfkit",
        test: "vm_uprobe_multi",
        arches: Arches::X86_64,
        kernels: ALL,
        skips: &[],
    },
    // kprobe.session (own attach type, session cookie): asserts on 6.12, SKIPs before.
    TestTarget {
        package: "bpfkit",
        test: "vm_kprobe_session",
        arches: Arches::X86_64,
        kernels: ALL,
        skips: &[],
    },
    // netkit pair (peer in a thread's unshared netns), primary and peer hooks: asserts on
    // 6.12 (CONFIG_NETKIT=y), SKIPs before (no netkit).
    TestTarget {
        package: "bpfkit",
        test: "vm_netkit",
        arches: Arches::X86_64,
        kernels: ALL,
        skips: &[],
    },
    // XDP (link or netlink) and tc (tcx where probed, else cls_bpf, whose own error is
    // reported when it fails) on the guest's loopback.
    TestTarget {
        package: "bpfkit",
        test: "vm_net_fallbacks",
        arches: Arches::All,
        kernels: ALL,
        skips: &[],
    },
    // tools/execguard: the BPF LSM denies a listed exec (EPERM), reports it, audits, denies
    // by cgroup; 5.10, 6.1 and 6.12 have `bpf` in their LSM list.
    TestTarget {
        package: "execguard",
        test: "vm_execguard",
        arches: Arches::X86_64,
        kernels: ALL,
        skips: &[],
    },
    // lsm_cgroup/socket_create on a test cgroup: EPERM inside, allowed outside, counted;
    // link, auto and BPF_PROG_ATTACH, detached on drop (BPF LSM: 6.1 and 6.12).
    TestTarget {
        package: "bpfkit",
        test: "vm_lsm_cgroup",
        arches: Arches::X86_64,
        kernels: &[KernelRelease::V6_1, KernelRelease::V6_12],
        skips: &[],
    },
    // XDP offload to a netdevsim device (loaded for it with prog_ifindex, HW mode by link
    // and netlink, refused unbound or in another mode): the run builds netdevsim into the
    // 6.1 package (Debian has none; `crate::netdevsim`), SKIPs with the reason if it fails.
    TestTarget {
        package: "bpfkit",
        test: "attach_xdp_offload",
        arches: Arches::X86_64,
        kernels: &[KernelRelease::V6_1],
        skips: &[],
    },
    // Every errno injected into every attach step through the syscall seam (no kernel
    // objects made): the kprobe cases need the kprobe PMU the host lacks, and their code
    // paths do not differ between kernels, so one kernel runs them.
    TestTarget {
        package: "bpfkit",
        test: "faults_seam",
        arches: Arches::X86_64,
        kernels: &[KernelRelease::V6_12],
        skips: &[],
    },
    TestTarget {
        package: "bpfkit",
        test: "attach_tracing",
        arches: Arches::X86_64,
        kernels: ALL,
        skips: &[
            // Counts cpu-clock samples against CPU time: TCG's clock is too coarse.
            "perf_event_samples_arrive_from_the_cpu_clock",
            // Checks the link with bpftool, which the guest lacks.
            "tracepoint_sys_enter_openat_counts_exactly_the_opens_of_a_child",
        ],
    },
];

/// Whether `name` is a test target of the suite (`--only NAME`).
pub fn is_test_target(name: &str) -> bool {
    TEST_TARGETS.iter().any(|t| t.test == name)
}

impl Arches {
    fn include(self, arch: Arch) -> bool {
        match self {
            Arches::All => true,
            Arches::X86_64 => arch == Arch::X86_64,
            Arches::Aarch64 => arch == Arch::Aarch64,
        }
    }
}

impl TestTarget {
    fn runs_on(&self, arch: Arch, release: KernelRelease) -> bool {
        self.arches.include(arch) && self.kernels.contains(&release)
    }
}

/// C fixtures (`crates/bpfkit/tests/fixtures/<name>.bpf.c`) shipped prebuilt.
const C_FIXTURES: &[&str] = &["vm_tracing"];

/// C fixtures of `crates/bpfkit/tests/fixtures` shipped prebuilt only with the test target
/// that loads them: `(test, fixture)`.
const TEST_C_FIXTURES: &[(&str, &str)] = &[("faults_seam", "attach_kinds")];

/// `testdata/c` fixtures the host-suite tests load, prebuilt (for the host's
/// architecture) by bpfkit-test-support and found in the guest through
/// `$BPFKIT_PREBUILT_FIXTURES`: `(name, where)`. Architecture-neutral ones (XDP, tracepoint
/// context, CO-RE) go to every guest.
const HOST_FIXTURES: &[(&str, Arches)] = &[
    ("event_records", Arches::All),
    ("readers_extra", Arches::All),
    ("readers_user", Arches::All),
    ("core_chains", Arches::All),
    ("btf_kinds", Arches::All),
    ("attach_counters", Arches::X86_64),
    ("prog_tracing", Arches::X86_64),
    ("prog_trampoline", Arches::X86_64),
    ("attach_multi", Arches::X86_64),
    ("kprobe_session", Arches::X86_64),
    ("lsm_cgroup", Arches::X86_64),
    ("net_counters", Arches::All),
    ("xdp_offload", Arches::X86_64),
];

/// Rust eBPF crates (`xtask/ebpf/<name>`) shipped prebuilt, built once (little-endian BPF).
const RUST_FIXTURES: &[&str] = &["vm-execs"];

/// `testdata/rust-ebpf` crates run in the x86_64 VM by `minimal-loader` (they define
/// `record_execve` and `EVENTS` as it expects), checking that they verify on 6.1 too.
const RUST_TESTDATA_X86_64: &[&str] = &["execve-events"];

/// Tools (`tools/<name>`) shipped to the aarch64 VM as static musl binaries (profile
/// `min-size`).
const TOOLS_AARCH64: &[&str] = &["syscount", "opensnoop"];

/// The guest script (`/bin/tools-check.sh`) that runs them: each traces a busybox `cat` of
/// a missing file and must report its failed openat with the aarch64 number and names
/// (openat is 56 there). Shipped as a file so its quoting reaches the guest's shell as is.
const TOOLS_CHECK: &str = r#"set -u
failed=0
/bin/syscount --json --failures --top 0 -c /bin/busybox cat /nonexistent-vm-marker > /tmp/syscount.json
cat /tmp/syscount.json
grep -q -F '{"syscall":"openat","nr":56,"errno":"ENOENT","errno_value":2,"count":1}' /tmp/syscount.json || { echo "syscount: no openat ENOENT row"; failed=1; }
/bin/opensnoop --json -c /bin/busybox cat /nonexistent-vm-marker > /tmp/opensnoop.json
cat /tmp/opensnoop.json
grep -q '"fd":null,"errno":"ENOENT","errno_value":2,.*"path":"/nonexistent-vm-marker"' /tmp/opensnoop.json || { echo "opensnoop: no failed open of the marker"; failed=1; }
exit $failed
"#;

/// The guest script (`/bin/trace-check.sh`) that runs `bpfkit trace` (shipped as
/// `/bin/bpfkit`, static musl; for aarch64 the `min-size` build) against a busybox `cat` of a
/// missing marker path three times: the answers are known (3 opens of the marker, each
/// failing with ENOENT). A tracepoint one-liner, kprobe/kretprobe, a kprobe wildcard (one
/// program: a kprobe.multi link where the kernel has fprobe, seen in the tracer's fdinfo,
/// else one perf link per function; one program per function when the block uses `func`),
/// fentry/fexit with BTF arguments (SKIP where the kernel has no trampolines: arm64 before
/// 6.4), a map `for` in a kprobe and a kstack map value (biostacks.bt's pattern).
const TRACE_CHECK: &str = r#"set -u
failed=0
W='/bin/busybox cat /vm-trace-marker /vm-trace-marker /vm-trace-marker'
run() { # name expected script
  /bin/bpfkit trace -c "$W" "$3" > /tmp/trace.out 2>&1
  if grep -q -F -- "$2" /tmp/trace.out; then echo "trace: $1: ok"
  elif grep -q "no BPF trampolines" /tmp/trace.out; then echo "trace: $1: SKIP the kernel has no BPF trampolines"; else
    echo "trace: $1: FAILED, expected '$2' in:"; cat /tmp/trace.out; failed=1; fi
}
run tracepoint '@[/vm-trace-marker]: 3' 'tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[str(args->filename)] = count(); }'
run kprobe '@[/vm-trace-marker]: 3' 'kprobe:do_sys_openat2 /pid == cpid/ { @[str(arg1)] = count(); }'
run kretprobe '@[-2]: 3' 'kretprobe:do_sys_openat2 /pid == cpid/ { @[retval] = count(); }'
run kprobe-wildcard '@: 3' 'kprobe:*sys_openat /pid == cpid/ { @ = count(); }'
run kprobe-func 'sys_openat]: 3' 'kprobe:*sys_openat /pid == cpid/ { @[func] = count(); }'
run fentry '@[/vm-trace-marker, 3]: 3' 'fentry:do_sys_openat2 /pid == cpid/ { @[str(args->filename), args->dfd + 103] = count(); }'
run fexit '@[-2]: 3' 'fexit:do_sys_openat2 /pid == cpid/ { @[retval] = count(); }'
# A map `for` in a kprobe (bpf_for_each_map_elem, a callback reading arg1 through the
# saved context): the running total after the third open.
run for-map-kprobe '@total: 3' 'kprobe:do_sys_openat2 /pid == cpid/ { @[str(arg1)] = count(); $n = 0; for ($kv : @) { $n += $kv.1 + (arg1 & 0); } @total = $n; }'
# biostacks.bt's pattern: a kstack stored as a map value, used as a key at the return.
run kstack-value '    do_sys_openat2+' 'kprobe:do_sys_openat2 /pid == cpid/ { @s[tid] = kstack(1); @t[tid] = 1; } kretprobe:do_sys_openat2 /pid == cpid && @t[tid]/ { @k[@s[tid]] = count(); delete(@s[tid]); delete(@t[tid]); }'
# One kprobe.multi link where the kernel has fprobe (6.12), else (6.1) a perf event per function.
if grep -q ' fprobe_register$' /proc/kallsyms; then
  link=kprobe_multi; count() { cat /proc/$1/fdinfo/* 2>/dev/null | grep -c "link_type:.kprobe_multi"; }
else
  link=perf_event; count() { ls -l /proc/$1/fd 2>/dev/null | grep -c "perf_event"; }
fi
/bin/bpfkit trace 'kprobe:*sys_openat { @ = count(); }' > /tmp/trace.out 2>&1 &
n=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  sleep 1
  n=$(count $!)
  [ "$n" -ge 1 ] && break
done
kill -INT $!
wait
if [ "$n" -ge 1 ]; then echo "trace: kprobe wildcard: $n $link fd(s): ok"; else
  echo "trace: kprobe wildcard: FAILED, no $link fd:"; cat /tmp/trace.out; failed=1; fi
exit $failed
"#;

/// Tool binaries shipped to the x86_64 VM as `/bin/<bin>` for their VM tests to run:
/// `(package, binary)`.
const TOOLS_X86_64: &[(&str, &str)] = &[("execguard", "execguard")];

/// A test that runs one of our tools beside the same libbpf-tools program on one workload
/// (the host cannot: libbpf-tools' program needs kprobes). The x86_64 guest gets the host's
/// libbpf-tools binary with its interpreter and libraries ([`crate::libbpf_tools`]) and
/// names it to the test in `$BPFKIT_LIBBPF_TOOLS_<PROGRAM>`; our tool ships as
/// `/bin/<bin>` (static musl). An arm64 guest, or a host without libbpf-tools, reports the
/// SKIP reason in the test's matrix cell instead.
struct SideBySide {
    package: &'static str,
    test: &'static str,
    /// libbpf-tools' program, and our tool's binary of `package`.
    program: &'static str,
    bin: &'static str,
    kernels: &'static [KernelRelease],
}

/// The side-by-side tests of the VM suite.
const SIDE_BY_SIDE: &[SideBySide] = &[
    // tools/tcpconnect (tracepoint sock/inet_sock_set_state) and libbpf-tools' tcpconnect
    // (kprobes on tcp_v4_connect/tcp_v6_connect): the same connects and counts.
    SideBySide {
        package: "tcpconnect",
        test: "vm_tcpconnect_libbpf_tools",
        program: "tcpconnect",
        bin: "tcpconnect",
        kernels: ALL,
    },
];

/// `testdata/rust-ebpf` crates shipped prebuilt to every VM for its tests
/// (`/fixtures/<name>.bpf.o`): core-chains (built against the host kernel's generated
/// types, `vm_core_chains`), lsm-cgroup (`vm_lsm_cgroup`).
const RUST_TESTDATA_FILES: &[&str] = &["core-chains", "lsm-cgroup"];

/// What goes into the initramfs besides busybox and modules.
#[derive(Debug, Default)]
pub struct Suite {
    /// Host file → path inside the guest.
    pub files: Vec<(PathBuf, String)>,
    /// Guest commands, run in order by `/init`; each one's exit status counts.
    pub commands: Vec<SuiteCommand>,
}

/// One command of the suite: a cell of the kernel matrix.
#[derive(Debug)]
pub struct SuiteCommand {
    /// Its name in the matrix (a test target's name, `minimal-loader <object>`, ...).
    pub name: String,
    /// The guest command line.
    pub line: String,
}

impl Suite {
    fn command(&mut self, name: impl Into<String>, line: impl Into<String>) {
        self.commands.push(SuiteCommand {
            name: name.into(),
            line: line.into(),
        });
    }
}

/// Builds the test binaries and fixtures for `arch` and the tests chosen for `release`;
/// with `only`, the fixtures and that test target alone (none of the other commands).
pub fn build(
    arch: Arch,
    release: KernelRelease,
    cache: &Path,
    only: Option<&str>,
) -> Result<Suite, XtaskError> {
    let mut suite = Suite::default();
    let fixtures = cache.join("fixtures");
    std::fs::create_dir_all(&fixtures).map_err(io_err("create", &fixtures))?;
    for name in C_FIXTURES {
        let object = build_c_fixture(arch, name, &fixtures)?;
        suite
            .files
            .push((object, format!("/fixtures/{name}.bpf.o")));
    }
    for name in RUST_FIXTURES {
        let object = build_rust_fixture("xtask/ebpf", name, cache)?;
        suite
            .files
            .push((object, format!("/fixtures/{name}.bpf.o")));
    }
    let tests: Vec<&TestTarget> = TEST_TARGETS
        .iter()
        .filter(|t| t.runs_on(arch, release) && only.is_none_or(|name| name == t.test))
        .collect();
    for &(test, name) in TEST_C_FIXTURES {
        if tests.iter().any(|t| t.test == test) {
            let object = build_c_fixture(arch, name, &fixtures)?;
            suite
                .files
                .push((object, format!("/fixtures/{name}.bpf.o")));
        }
    }
    for &(name, arches) in HOST_FIXTURES {
        if !arches.include(arch) {
            continue;
        }
        let object = bpfkit_test_support::try_fixture(name).map_err(|e| XtaskError::Command {
            command: format!("bpfkit_test_support::fixture({name})"),
            detail: e,
        })?;
        suite
            .files
            .push((object, format!("/fixtures/{name}.bpf.o")));
    }
    for name in RUST_TESTDATA_FILES {
        let object = build_rust_fixture("testdata/rust-ebpf", name, cache)?;
        suite
            .files
            .push((object, format!("/fixtures/{name}.bpf.o")));
    }
    if arch == Arch::X86_64 {
        // Each tool goes with the test target of its package.
        for &(package, bin) in TOOLS_X86_64 {
            if only.is_none() || tests.iter().any(|t| t.package == package) {
                let exe = tool_binary(arch, package, bin)?;
                suite.files.push((exe, format!("/bin/{bin}")));
            }
        }
    }
    if only.is_some() {
        return add_tests(arch, &tests, Vec::new(), suite);
    }
    // The size benchmark's loader, as shipped: stripped, static, profile min-size.
    let loader = minimal_loader(arch)?;
    let size = std::fs::metadata(&loader)
        .map_err(io_err("stat", &loader))?
        .len();
    eprintln!(
        "xtask: minimal-loader for {} (profile min-size, static musl, stripped): {size} bytes",
        arch.triple()
    );
    suite.files.push((loader, "/bin/minimal-loader".to_owned()));
    suite.command(
        "minimal-loader vm-execs",
        "/bin/minimal-loader /fixtures/vm-execs.bpf.o",
    );
    if arch == Arch::Aarch64 {
        for (name, exe) in tools(arch, TOOLS_AARCH64)? {
            suite.files.push((exe, format!("/bin/{name}")));
        }
        let check = cache.join("tools-check.sh");
        std::fs::write(&check, TOOLS_CHECK).map_err(io_err("write", &check))?;
        suite.files.push((check, "/bin/tools-check.sh".to_owned()));
        suite.command("syscount+opensnoop", "sh /bin/tools-check.sh");
    }
    if arch == Arch::X86_64 {
        for name in RUST_TESTDATA_X86_64 {
            let object = build_rust_fixture("testdata/rust-ebpf", name, cache)?;
            let guest = format!("/fixtures/{name}.bpf.o");
            suite.command(
                format!("minimal-loader {name}"),
                format!("/bin/minimal-loader {guest}"),
            );
            suite.files.push((object, guest));
        }
    }
    // The `bpfkit trace` checks on the kernels they were written against (kprobes on 6.1,
    // kprobe.multi on 6.12, the static aarch64 binary on arm64 6.1).
    if matches!(
        (arch, release),
        (Arch::X86_64, KernelRelease::V6_1 | KernelRelease::V6_12)
            | (Arch::Aarch64, KernelRelease::V6_1)
    ) {
        trace_checks(arch, cache, &mut suite)?;
    }
    // Side-by-side tests: `(package, test, env prefix)` of those that run; the others SKIP here.
    let mut side_by_side = Vec::new();
    for sbs in SIDE_BY_SIDE.iter().filter(|s| s.kernels.contains(&release)) {
        let shipped = match arch {
            Arch::X86_64 => crate::libbpf_tools::ship(sbs.program),
            Arch::Aarch64 => Err(format!(
                "libbpf-tools' {} comes from the x86_64 host; the arm64 guest cannot run it",
                sbs.program
            )),
        };
        match shipped {
            Ok(shipped) => {
                eprintln!(
                    "xtask: libbpf-tools {} for {}: {} files ({})",
                    sbs.program,
                    sbs.test,
                    shipped.files.len(),
                    shipped
                        .files
                        .iter()
                        .map(|(_, g)| g.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                suite.files.extend(shipped.files);
                let exe = tool_binary(arch, sbs.package, sbs.bin)?;
                suite.files.push((exe, format!("/bin/{}", sbs.bin)));
                let env = format!(
                    "env BPFKIT_LIBBPF_TOOLS_{}={}",
                    sbs.program.to_uppercase(),
                    shipped.program.display()
                );
                side_by_side.push((sbs.package, sbs.test, env));
            }
            Err(reason) => {
                eprintln!("xtask: {}: SKIP {reason}", sbs.test);
                suite.command(sbs.test, skip_line(sbs.test, &reason));
            }
        }
    }
    add_tests(arch, &tests, side_by_side, suite)
}

/// Builds `tests` and the side-by-side tests (`(package, test, env prefix)`) static and adds
/// each with its command line.
fn add_tests(
    arch: Arch,
    tests: &[&TestTarget],
    side_by_side: Vec<(&str, &str, String)>,
    mut suite: Suite,
) -> Result<Suite, XtaskError> {
    let mut targets: Vec<(&str, &str)> = tests.iter().map(|t| (t.package, t.test)).collect();
    targets.extend(
        side_by_side
            .iter()
            .map(|(package, test, _)| (*package, *test)),
    );
    let executables = test_executables(arch, &targets)?;
    for target in tests {
        let Some((_, executable)) = executables.iter().find(|(name, _)| name == target.test) else {
            continue;
        };
        let guest = format!("/tests/{}", target.test);
        let mut command = format!("{guest} --test-threads=1 --nocapture");
        for skip in target.skips {
            command.push_str(&format!(" --skip {skip}"));
        }
        suite.command(target.test, command);
        suite.files.push((executable.clone(), guest));
    }
    for (_, test, env) in side_by_side {
        let Some((_, executable)) = executables.iter().find(|(name, _)| name == test) else {
            continue;
        };
        let guest = format!("/tests/{test}");
        suite.command(test, format!("{env} {guest} --test-threads=1 --nocapture"));
        suite.files.push((executable.clone(), guest));
    }
    Ok(suite)
}

/// The guest command that stands for `test` where it cannot run: it prints `SKIP <test>:
/// <reason>`, which the matrix shows as the cell `skip` with the reason below the table.
fn skip_line(test: &str, reason: &str) -> String {
    format!("echo 'SKIP {test}: {}'", reason.replace('\'', r"'\''"))
}

/// Only the `bpfkit trace` checks (`--only trace`).
pub fn build_trace_only(arch: Arch, cache: &Path) -> Result<Suite, XtaskError> {
    let mut suite = Suite::default();
    trace_checks(arch, cache, &mut suite)?;
    Ok(suite)
}

/// Ships `/bin/bpfkit` and [`TRACE_CHECK`] and runs it.
fn trace_checks(arch: Arch, cache: &Path, suite: &mut Suite) -> Result<(), XtaskError> {
    let exe = match arch {
        // The binary the size goal is about.
        Arch::Aarch64 => {
            let stdout = run(&mut cargo_for(
                arch,
                &[
                    "build",
                    "--profile",
                    "min-size",
                    "-p",
                    "bpfkit-cli",
                    "--bin",
                    "bpfkit",
                ],
            ))?;
            executables(&stdout, false)
                .into_iter()
                .find(|(name, _)| name == "bpfkit")
                .map(|(_, exe)| exe)
                .ok_or_else(|| XtaskError::Missing("cargo built no bpfkit executable".into()))?
        }
        Arch::X86_64 => tool_binary(arch, "bpfkit-cli", "bpfkit")?,
    };
    suite.files.push((exe, "/bin/bpfkit".to_owned()));
    let check = cache.join("trace-check.sh");
    std::fs::write(&check, TRACE_CHECK).map_err(io_err("write", &check))?;
    suite.files.push((check, "/bin/trace-check.sh".to_owned()));
    suite.command("bpfkit trace", "sh /bin/trace-check.sh");
    Ok(())
}

/// `clang-19 -O2 -g -target bpf` of a C fixture for `arch`'s `__TARGET_ARCH_*`.
fn build_c_fixture(arch: Arch, name: &str, out_dir: &Path) -> Result<PathBuf, XtaskError> {
    let src = repo_root().join(format!("crates/bpfkit/tests/fixtures/{name}.bpf.c"));
    let out = out_dir.join(format!("{name}.bpf.o"));
    let multiarch = run(Command::new("gcc").arg("-print-multiarch"))?;
    run(Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-Wall", "-Werror"])
        .arg(format!("-I/usr/include/{}", multiarch.trim()))
        .arg(format!("-D__TARGET_ARCH_{}", arch.bpf_target_arch()))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&out))?;
    Ok(out)
}

/// A Rust eBPF crate built through bpfkit-build's default route (little-endian BPF: the same
/// object serves both guests).
fn build_rust_fixture(dir: &str, name: &str, cache: &Path) -> Result<PathBuf, XtaskError> {
    let objects = bpfkit_build::EbpfBuild::new(repo_root().join(dir).join(name))
        .target_dir(cache.parent().unwrap_or(cache).join("rust-ebpf"))
        .quiet(true)
        .build()
        .map_err(|e| XtaskError::Command {
            command: format!("bpfkit-build of {dir}/{name}"),
            detail: e.to_string(),
        })?;
    let wanted = name.replace('-', "_");
    objects
        .into_iter()
        .find(|o| o.name == name || o.name == wanted)
        .map(|o| o.path)
        .ok_or_else(|| XtaskError::Missing(format!("bpfkit-build made no object named {name}")))
}

/// `cargo <subcommand> --message-format=json --target <arch's musl triple>`.
fn cargo_for(arch: Arch, subcommand: &[&str]) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(repo_root())
        .args(subcommand)
        .args(["--message-format=json-render-diagnostics", "--target"])
        .arg(arch.triple());
    if arch == Arch::Aarch64 {
        // rustup's own lld links static musl binaries for aarch64 with nothing else installed.
        cmd.args([
            "--config",
            "target.aarch64-unknown-linux-musl.linker=\"rust-lld\"",
        ]);
    }
    cmd.stderr(Stdio::inherit());
    cmd
}

/// `(target name, executable)` of every compiler-artifact message in cargo's JSON `stdout`
/// whose profile is (or is not) a test profile.
fn executables(stdout: &str, test_profile: bool) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    for line in stdout.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["profile"]["test"] != test_profile {
            continue;
        }
        let (Some(name), Some(exe)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) else {
            continue;
        };
        found.push((name.to_owned(), PathBuf::from(exe)));
    }
    found
}

/// `tools/minimal-loader` built with profile `min-size` for `arch`.
fn minimal_loader(arch: Arch) -> Result<PathBuf, XtaskError> {
    let mut cmd = cargo_for(
        arch,
        &["build", "-p", "minimal-loader", "--profile", "min-size"],
    );
    let stdout = run(&mut cmd)?;
    executables(&stdout, false)
        .into_iter()
        .find(|(name, _)| name == "minimal-loader")
        .map(|(_, exe)| exe)
        .ok_or_else(|| XtaskError::Missing("cargo built no minimal-loader executable".into()))
}

/// The tools `names` built with profile `min-size` (static musl, stripped) for `arch`:
/// `(name, executable)`.
fn tools(arch: Arch, names: &[&str]) -> Result<Vec<(String, PathBuf)>, XtaskError> {
    let mut args = vec!["build", "--profile", "min-size"];
    for name in names {
        args.extend(["-p", name]);
    }
    let stdout = run(&mut cargo_for(arch, &args))?;
    let found: Vec<(String, PathBuf)> = executables(&stdout, false)
        .into_iter()
        .filter(|(name, _)| names.contains(&name.as_str()))
        .collect();
    for name in names {
        if !found.iter().any(|(n, _)| n == name) {
            return Err(XtaskError::Missing(format!(
                "cargo built no {name} executable"
            )));
        }
    }
    Ok(found)
}

/// The `bin` binary of `package` built (dev profile, static musl) for `arch`.
fn tool_binary(arch: Arch, package: &str, bin: &str) -> Result<PathBuf, XtaskError> {
    let mut cmd = cargo_for(arch, &["build", "-p", package, "--bin", bin]);
    let stdout = run(&mut cmd)?;
    executables(&stdout, false)
        .into_iter()
        .find(|(name, _)| name == bin)
        .map(|(_, exe)| exe)
        .ok_or_else(|| XtaskError::Missing(format!("cargo built no {bin} executable")))
}

/// `cargo test --no-run` of `tests` for `arch`'s musl target: `(test target name,
/// executable)` from cargo's compiler-artifact messages.
fn test_executables(
    arch: Arch,
    tests: &[(&str, &str)],
) -> Result<Vec<(String, PathBuf)>, XtaskError> {
    let mut cmd = cargo_for(arch, &["test", "--no-run"]);
    for (package, test) in tests {
        cmd.args(["-p", package, "--test", test]);
    }
    let found = executables(&run(&mut cmd)?, true);
    for (_, test) in tests {
        if !found.iter().any(|(name, _)| name == test) {
            return Err(XtaskError::Missing(format!(
                "cargo built no test executable '{test}'"
            )));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::initramfs::{SUITE_END_MARKER, SUITE_START_MARKER};
    use crate::matrix::{self, Outcome};

    #[test]
    fn a_side_by_side_test_that_cannot_run_is_a_skip_cell_with_its_reason() {
        let reason = "the host's x86_64 tcpconnect cannot run in the arm64 guest";
        let line = skip_line("vm_t", reason);
        assert_eq!(
            line,
            r"echo 'SKIP vm_t: the host'\''s x86_64 tcpconnect cannot run in the arm64 guest'"
        );
        // The guest's shell prints the echo's argument, between `/init`'s markers.
        let out = Command::new("sh").args(["-c", &line]).output().unwrap();
        let console: Vec<String> = [
            format!("=== {line}"),
            format!("{SUITE_START_MARKER} vm_t"),
            String::from_utf8(out.stdout).unwrap(),
            format!("{SUITE_END_MARKER} 0 vm_t"),
        ]
        .into();
        let command = SuiteCommand {
            name: "vm_t".to_owned(),
            line,
        };
        let results = matrix::parse(&console, &[command]);
        assert_eq!(results[0].outcome, Outcome::Pass);
        assert_eq!(results[0].cell(), "skip");
        assert_eq!(results[0].skips, [format!("vm_t: {reason}")]);
    }
}
