//! syscount's kernel-side filters on workloads the test starts: `--comm` and `--cgroup`
//! count only the matching process (exact getppid counts), and the tool exits on
//! SIGINT with nothing left behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use tool_common::child::{cgroup2_mount, RunCgroup};
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

#[test]
fn cgroup_filter_counts_only_processes_in_the_cgroup() {
    if cgroup2_mount().is_none() {
        println!("SKIP no cgroup v2 mount");
        return;
    }
    // <cgroup2>/bpfkit-syscount-<pid>, removed on drop (its processes have exited by then).
    let cgroup = RunCgroup::create("syscount").expect("create the test cgroup");
    let binary = workload("cgroup-workload");
    let snoop = start(&["--cgroup", cgroup.path().to_str().unwrap()]);
    // Outside the cgroup: not counted.
    run(&binary, 500);
    // Inside: the shell moves itself in, then execs the workload.
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs && exec {} 700 0",
            cgroup.path().display(),
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
