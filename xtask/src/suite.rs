//! The suite the VM runs: static musl test binaries (`cargo test --no-run --target
//! <arch>-unknown-linux-musl`, executables read from cargo's JSON messages) and the
//! fixtures they need, built on the host because the guest has no clang or cargo.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::arch::Arch;
use crate::packages::run;
use crate::{io_err, repo_root, XtaskError};

/// Test targets run in every VM: `(package, test target)`.
const TESTS: &[(&str, &str)] = &[("bpfkit", "vm_rust_tracepoint"), ("bpfkit", "vm_tracing")];

/// Host-suite test targets that need only the kernel and the binary (no clang, bpftool or
/// corpus), run in the x86_64 VM as a second kernel version: `(package, test target,
/// tests skipped there)`. Skipped are tests of a host-only fact or needing bpftool.
const HOST_TESTS_X86_64: &[(&str, &str, &[&str])] = &[
    ("bpfkit", "readers_ring_buf", &[]),
    ("bpfkit", "readers_perf_buffer", &[]),
    ("bpfkit", "readers_user_ring_buf", &[]),
    ("bpfkit-obj", "relo_verifier", &[]),
    // uprobe.multi with cookies: asserts on 6.12, SKIPs on 6.1 (its BTF lacks the attach type).
    ("bpfkit", "vm_uprobe_multi", &[]),
    // kprobe.session (own attach type, session cookie): asserts on 6.12, SKIPs on 6.1.
    ("bpfkit", "vm_kprobe_session", &[]),
    // netkit pair (peer in a thread's unshared netns), primary and peer hooks: asserts on
    // 6.12 (CONFIG_NETKIT=y), SKIPs on 6.1 (no netkit).
    ("bpfkit", "vm_netkit", &[]),
    // tools/execguard: the BPF LSM denies a listed exec (EPERM), reports it, audits, denies
    // by cgroup; both 6.1 and 6.12 have `bpf` in their LSM list.
    ("execguard", "vm_execguard", &[]),
    // lsm_cgroup/socket_create on a test cgroup: EPERM inside, allowed outside, counted;
    // link, auto and BPF_PROG_ATTACH, detached on drop (6.1 and 6.12).
    ("bpfkit", "vm_lsm_cgroup", &[]),
    // CO-RE chains from Rust and C built against the host's types, read on 6.1/6.12.
    ("bpfkit", "vm_core_chains", &[]),
    (
        "bpfkit",
        "attach_tracing",
        &[
            // Counts cpu-clock samples against CPU time: TCG's clock is too coarse.
            "perf_event_samples_arrive_from_the_cpu_clock",
            // Checks the link with bpftool, which the guest lacks.
            "tracepoint_sys_enter_openat_counts_exactly_the_opens_of_a_child",
        ],
    ),
];

/// C fixtures (`crates/bpfkit/tests/fixtures/<name>.bpf.c`) shipped prebuilt.
const C_FIXTURES: &[&str] = &["vm_tracing"];

/// `testdata/c` fixtures the host-suite tests load, prebuilt by bpfkit-test-support and
/// found in the guest through `$BPFKIT_PREBUILT_FIXTURES`.
const HOST_FIXTURES_X86_64: &[&str] = &[
    "event_records",
    "readers_extra",
    "attach_counters",
    "prog_tracing",
    "prog_trampoline",
    "attach_multi",
    "kprobe_session",
    "net_counters",
    "core_chains",
    "lsm_cgroup",
];

/// Rust eBPF crates (`xtask/ebpf/<name>`) shipped prebuilt, built once for bpfel.
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

/// Tool binaries shipped to the x86_64 VM as `/bin/<bin>` for their VM tests to run:
/// `(package, binary)`.
const TOOLS_X86_64: &[(&str, &str)] = &[("execguard", "execguard")];

/// `testdata/rust-ebpf` crates shipped prebuilt to the x86_64 VM for its tests
/// (`/fixtures/<name>.bpf.o`), built against the host kernel's generated types.
const RUST_TESTDATA_FILES_X86_64: &[&str] = &["core-chains"];

/// What goes into the initramfs besides busybox and modules.
#[derive(Debug, Default)]
pub struct Suite {
    /// Host file → path inside the guest.
    pub files: Vec<(PathBuf, String)>,
    /// Guest command lines, run in order by `/init`; each one's exit status counts.
    pub commands: Vec<String>,
}

/// Builds the test binaries and fixtures for `arch`.
pub fn build(arch: Arch, cache: &Path) -> Result<Suite, XtaskError> {
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
    let mut tests: Vec<(&str, &str, &[&str])> =
        TESTS.iter().map(|&(p, t)| (p, t, &[][..])).collect();
    if arch == Arch::X86_64 {
        tests.extend_from_slice(HOST_TESTS_X86_64);
        for name in HOST_FIXTURES_X86_64 {
            let object =
                bpfkit_test_support::try_fixture(name).map_err(|e| XtaskError::Command {
                    command: format!("bpfkit_test_support::fixture({name})"),
                    detail: e,
                })?;
            suite
                .files
                .push((object, format!("/fixtures/{name}.bpf.o")));
        }
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
    suite
        .commands
        .push("/bin/minimal-loader /fixtures/vm-execs.bpf.o".to_owned());
    if arch == Arch::Aarch64 {
        for (name, exe) in tools(arch, TOOLS_AARCH64)? {
            suite.files.push((exe, format!("/bin/{name}")));
        }
        let check = cache.join("tools-check.sh");
        std::fs::write(&check, TOOLS_CHECK).map_err(io_err("write", &check))?;
        suite.files.push((check, "/bin/tools-check.sh".to_owned()));
        suite.commands.push("sh /bin/tools-check.sh".to_owned());
    }
    if arch == Arch::X86_64 {
        for name in RUST_TESTDATA_X86_64 {
            let object = build_rust_fixture("testdata/rust-ebpf", name, cache)?;
            let guest = format!("/fixtures/{name}.bpf.o");
            suite.commands.push(format!("/bin/minimal-loader {guest}"));
            suite.files.push((object, guest));
        }
        for name in RUST_TESTDATA_FILES_X86_64 {
            let object = build_rust_fixture("testdata/rust-ebpf", name, cache)?;
            suite
                .files
                .push((object, format!("/fixtures/{name}.bpf.o")));
        }
    }
    if arch == Arch::X86_64 {
        for &(package, bin) in TOOLS_X86_64 {
            let exe = tool_binary(arch, package, bin)?;
            suite.files.push((exe, format!("/bin/{bin}")));
        }
    }
    let targets: Vec<(&str, &str)> = tests.iter().map(|&(p, t, _)| (p, t)).collect();
    for (name, executable) in test_executables(arch, &targets)? {
        let guest = format!("/tests/{name}");
        let mut command = format!("{guest} --test-threads=1 --nocapture");
        for (_, _, skips) in tests.iter().filter(|(_, t, _)| *t == name) {
            for skip in skips.iter() {
                command.push_str(&format!(" --skip {skip}"));
            }
        }
        suite.commands.push(command);
        suite.files.push((executable, guest));
    }
    Ok(suite)
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

/// A Rust eBPF crate built through bpfkit-build (bpfel: the same object serves both
/// little-endian guests).
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
