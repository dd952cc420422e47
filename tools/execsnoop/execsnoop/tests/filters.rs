//! execsnoop's `--comm`, `--cgroup` and `-c CMD`, filtered in the kernel: execs by a
//! process that does not match never reach the ring buffer, so they are not printed.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tool_common::child::{cgroup2_mount, RunCgroup};
use tool_common::testing::{self, Running};

fn marker(what: &str) -> String {
    format!("bpfkit-{what}-{}", std::process::id())
}

/// Execs whose arguments include `arg`.
fn with_arg<'a>(events: &'a [serde_json::Value], arg: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|e| {
            e["args"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == arg))
        })
        .collect()
}

/// `execsnoop --json EXTRA`, attached ("execsnoop: tracing execs (…)" on stderr).
fn start(extra: &[&str]) -> Running {
    let mut args = vec!["--json", "--duration", "60"];
    args.extend_from_slice(extra);
    testing::start(env!("CARGO_BIN_EXE_execsnoop"), &args)
}

/// `sh` copied under another name, so its execs come from a process of that command name.
fn renamed_shell(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::copy("/bin/sh", &path).expect("copy /bin/sh");
    path
}

fn run_sh(shell: &Path, script: &str) {
    let status = Command::new(shell)
        .args(["-c", script])
        .status()
        .expect("run the shell");
    assert!(status.success(), "{script}: {status}");
}

#[test]
fn comm_filter_reports_only_execs_by_that_command() {
    let ours = renamed_shell("bpfkit-comm-a");
    let other = renamed_shell("bpfkit-comm-b");
    let (keep, drop) = (marker("comm-keep"), marker("comm-drop"));
    let snoop = start(&["--comm", "bpfkit-comm-a"]);
    run_sh(&ours, &format!("exec /bin/true {keep}"));
    run_sh(&other, &format!("exec /bin/true {drop}"));
    let events = testing::json_lines(&testing::stop(snoop));
    let kept = with_arg(&events, &keep);
    assert_eq!(kept.len(), 1, "{events:?}");
    assert_eq!(kept[0]["comm"], "true", "the command name after the exec");
    assert!(with_arg(&events, &drop).is_empty(), "{events:?}");
    // The test's own exec of the shells (comm: this test binary) is filtered out too.
    assert!(
        events.iter().all(|e| e["args"][0] == "/bin/true"),
        "only bpfkit-comm-a's exec: {events:?}"
    );
}

#[test]
fn cgroup_filter_reports_only_execs_in_the_cgroup() {
    if cgroup2_mount().is_none() {
        println!("SKIP no cgroup v2 mount");
        return;
    }
    // <cgroup2>/bpfkit-execsnoop-<pid>, removed on drop (its processes have exited by then).
    let cgroup = RunCgroup::create("execsnoop").expect("create the test cgroup");
    let (inside, outside) = (marker("cg-in"), marker("cg-out"));
    let snoop = start(&["--cgroup", cgroup.path().to_str().unwrap()]);
    run_sh(Path::new("/bin/sh"), &format!("exec /bin/true {outside}"));
    run_sh(
        Path::new("/bin/sh"),
        &format!(
            "echo $$ > {}/cgroup.procs && exec /bin/true {inside}",
            cgroup.path().display()
        ),
    );
    let events = testing::json_lines(&testing::stop(snoop));
    assert_eq!(with_arg(&events, &inside).len(), 1, "{events:?}");
    assert!(with_arg(&events, &outside).is_empty(), "{events:?}");
    assert_eq!(
        events.len(),
        1,
        "nothing else runs in the cgroup: {events:?}"
    );
}

/// execsnoop EXTRA --json -c /bin/sh -c SCRIPT: its events, once it stopped by itself.
fn snoop_command(extra: &[&str], script: &str) -> Vec<serde_json::Value> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_execsnoop"))
        .args(extra)
        .args(["--json", "-c", "/bin/sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn execsnoop");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("execsnoop: tracing execs"), "{line:?}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "execsnoop stops by itself when the command ends: {status}"
    );
    testing::json_lines(&out)
}

#[test]
fn command_and_what_it_starts_are_traced_and_end_the_run() {
    let last = marker("cmd-last");
    let script = format!("/bin/sleep 0; exec /bin/true {last}");
    let events = snoop_command(&[], &script);
    // The held child's exec of sh, sleep in a child of sh (its own cgroup holds both), then
    // sh's exec of true.
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(
        events[0]["args"],
        serde_json::json!(["/bin/sh", "-c", script])
    );
    assert_eq!(events[1]["args"], serde_json::json!(["/bin/sleep", "0"]));
    assert_eq!(events[1]["ppid"], events[0]["pid"], "{events:?}");
    assert_ne!(events[1]["pid"], events[0]["pid"], "{events:?}");
    assert_eq!(with_arg(&events, &last).len(), 1);
    assert_eq!(events[0]["pid"], events[2]["pid"]);
}

#[test]
fn with_cgroup_the_command_is_traced_alone() {
    let Some(root) = cgroup2_mount() else {
        println!("SKIP cgroup2 is not mounted");
        return;
    };
    let last = marker("cmd-alone-last");
    let script = format!("/bin/sleep 0; exec /bin/true {last}");
    // The root cgroup lets everything through: left is the pid filter.
    let events = snoop_command(&["--cgroup", root.to_str().unwrap()], &script);
    // The held child's exec of sh, then sh's exec of true: one pid.
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(with_arg(&events, &last).len(), 1);
    assert_eq!(events[0]["pid"], events[1]["pid"]);
    // sleep ran in a child of sh (another pid): filtered out in the kernel.
    assert!(
        events.iter().all(|e| e["args"][0] != "/bin/sleep"),
        "{events:?}"
    );
}
