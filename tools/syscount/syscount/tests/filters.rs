//! syscount's kernel-side filters on workloads the test starts: `--comm` and `--cgroup`
//! count only the matching process (exact getppid counts), and the tool exits on
//! SIGINT with nothing left behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use tool_common::testing::{self, Running};

fn workload(name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workload.c");
    testing::compile_c(source, env!("CARGO_TARGET_TMPDIR"), name)
}

/// A running `syscount --json --top 0 EXTRA`, attached.
fn start(extra: &[&str]) -> Running {
    let mut args = vec!["--json", "--top", "0", "--duration", "30"];
    args.extend_from_slice(extra);
    testing::start(env!("CARGO_BIN_EXE_syscount"), &args)
}

/// SIGINT, then the JSON rows printed.
fn stop(running: Running) -> Vec<serde_json::Value> {
    testing::json_lines(&testing::stop(running))
}

fn getppid_count(rows: &[serde_json::Value]) -> Option<u64> {
    rows.iter()
        .find(|r| r["syscall"] == "getppid")
        .map(|r| r["count"].as_u64().unwrap())
}

fn run(binary: &Path, getppids: u32) {
    let status = Command::new(binary)
        .args([&getppids.to_string(), "0"])
        .status()
        .expect("run workload");
    assert!(status.success());
}

#[test]
fn comm_filter_counts_only_that_command() {
    let ours = workload("comm-ours");
    let other = workload("comm-other");
    let snoop = start(&["--comm", "comm-ours"]);
    run(&ours, 300);
    run(&other, 500);
    let rows = stop(snoop);
    assert_eq!(getppid_count(&rows), Some(300), "{rows:?}");
}

/// The cgroup v2 mount point, from /proc/self/mounts.
fn cgroup2_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (_, dir, fs) = (f.next()?, f.next()?, f.next()?);
        (fs == "cgroup2").then(|| PathBuf::from(dir))
    })
}

/// A cgroup made for the test, removed on drop (its processes have exited by then).
struct TestCgroup(PathBuf);

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn cgroup_filter_counts_only_processes_in_the_cgroup() {
    let Some(root) = cgroup2_root() else {
        println!("SKIP no cgroup v2 mount");
        return;
    };
    let cgroup = TestCgroup(root.join(format!("bpfkit-syscount-{}", std::process::id())));
    std::fs::create_dir(&cgroup.0).expect("create the test cgroup");
    let binary = workload("cgroup-workload");
    let snoop = start(&["--cgroup", cgroup.0.to_str().unwrap()]);
    // Outside the cgroup: not counted.
    run(&binary, 500);
    // Inside: the shell moves itself in, then execs the workload.
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs && exec {} 700 0",
            cgroup.0.display(),
            binary.display()
        ))
        .status()
        .expect("run sh");
    assert!(status.success());
    let rows = stop(snoop);
    assert_eq!(getppid_count(&rows), Some(700), "{rows:?}");
}

#[test]
fn bad_options_are_clear_errors() {
    for (args, message) in [
        (&["--cgroup", "/"][..], "not a cgroup v2 directory"),
        (
            &["--comm", "a-much-too-long-name"][..],
            "longer than the 15 bytes",
        ),
        (
            &["--duration", "0"][..],
            "--duration must be a positive number",
        ),
        (
            &["--failures", "--errno", "ENOTANERRNO"][..],
            "not an errno name or number",
        ),
        (&["-c", "no-such-program-xyz"][..], "not found in PATH"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_syscount"))
            .args(args)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
