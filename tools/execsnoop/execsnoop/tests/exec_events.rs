//! Runs the `execsnoop` binary (as root, against the running kernel), execs known commands
//! from the test and checks the JSON lines it prints, the `--pid` filter and that nothing
//! stays attached after it exits.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tool_common::testing::{self, json_lines, Running};

/// `execsnoop --json --duration 60 EXTRA`, once its two programs are attached.
fn start(extra: &[&str]) -> Running {
    let mut args = vec!["--json", "--duration", "60"];
    args.extend_from_slice(extra);
    let snoop = testing::start(env!("CARGO_BIN_EXE_execsnoop"), &args);
    assert_eq!(snoop.program_ids.len(), 2, "two program ids");
    snoop
}

/// Stop with SIGINT (as Ctrl-C does), check the exit and that both programs are gone;
/// returns the JSON events it printed.
fn stop(snoop: Running) -> Vec<serde_json::Value> {
    json_lines(&testing::stop(snoop))
}

fn marker() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("bpfkit-marker-{}-{nanos}", std::process::id())
}

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

#[test]
fn json_event_of_an_exec_has_its_pid_ppid_uid_ret_comm_and_args() {
    let snoop = start(&[]);
    let marker = marker();
    let child = Command::new("/bin/echo")
        .args([marker.as_str(), "a", "b c"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn echo");
    let child_pid = child.id();
    let mut child = child;
    assert!(child.wait().expect("wait echo").success());
    let missing = format!("/nonexistent/{marker}");
    assert!(Command::new(&missing).spawn().is_err());
    std::thread::sleep(Duration::from_millis(300));
    let events = stop(snoop);

    let ours = with_arg(&events, &marker);
    assert_eq!(ours.len(), 1, "one event for the marker in {ours:?}");
    let event = ours[0];
    assert_eq!(event["pid"], child_pid);
    assert_eq!(
        event["ppid"],
        std::process::id(),
        "ppid is the test process"
    );
    // SAFETY: getuid has no memory effects.
    assert_eq!(event["uid"], unsafe { libc::getuid() });
    assert_eq!(event["ret"], 0);
    assert_eq!(event["comm"], "echo");
    assert_eq!(
        event["args"],
        serde_json::json!(["/bin/echo", marker, "a", "b c"])
    );

    let failed = with_arg(&events, &missing);
    assert_eq!(failed.len(), 1, "one event for the failed exec");
    assert_eq!(failed[0]["ret"], -libc::ENOENT);
    assert_eq!(failed[0]["ppid"], std::process::id());
    assert_eq!(failed[0]["args"], serde_json::json!([missing]));
}

#[test]
fn pid_filter_reports_only_that_process() {
    // The shell waits on stdin, so its pid is known before it execs echo; `sleep` (another
    // pid, also a child of the shell) must be filtered out.
    let marker = marker();
    let mut shell = Command::new("/bin/sh")
        .args([
            "-c",
            &format!("read _; /bin/sleep 0; exec /bin/echo {marker} filtered-in"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sh");
    let shell_pid = shell.id();
    let snoop = start(&["--pid", &shell_pid.to_string()]);
    let other = Command::new("/bin/echo")
        .arg(&marker)
        .stdout(Stdio::null())
        .status()
        .expect("run echo");
    assert!(other.success());
    drop(shell.stdin.take());
    assert!(shell.wait().expect("wait sh").success());
    std::thread::sleep(Duration::from_millis(300));
    let events = stop(snoop);

    assert!(!events.is_empty(), "the shell's exec of echo is reported");
    for event in &events {
        assert_eq!(event["pid"], shell_pid, "only pid {shell_pid}: {event}");
    }
    let ours = with_arg(&events, &marker);
    assert_eq!(ours.len(), 1, "{events:?}");
    assert_eq!(ours[0]["comm"], "echo");
    assert_eq!(
        ours[0]["args"],
        serde_json::json!(["/bin/echo", marker, "filtered-in"])
    );
    assert_eq!(ours[0]["ppid"], std::process::id());
}

#[test]
fn uid_filter_reports_only_that_user() {
    use std::os::unix::process::CommandExt;
    let nobody = 65534;
    let snoop = start(&["--uid", &nobody.to_string()]);
    let marker = marker();
    let as_nobody = Command::new("/bin/echo")
        .args([marker.as_str(), "nobody"])
        .uid(nobody)
        .gid(nobody)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn echo as nobody");
    let nobody_pid = as_nobody.id();
    let mut as_nobody = as_nobody;
    assert!(as_nobody.wait().expect("wait").success());
    let as_root = Command::new("/bin/echo")
        .args([marker.as_str(), "root"])
        .stdout(Stdio::null())
        .status()
        .expect("run echo as root");
    assert!(as_root.success());
    std::thread::sleep(Duration::from_millis(300));
    let events = stop(snoop);

    for event in &events {
        assert_eq!(event["uid"], nobody, "only uid {nobody}: {event}");
    }
    let ours = with_arg(&events, &marker);
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0]["pid"], nobody_pid);
    assert_eq!(
        ours[0]["args"],
        serde_json::json!(["/bin/echo", marker, "nobody"])
    );
}

#[test]
fn text_output_has_a_header_and_a_line_per_exec_and_duration_ends_the_run() {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_execsnoop"))
        .args(["--duration", "1.5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn execsnoop");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("read stderr");
    assert!(line.starts_with("execsnoop: tracing execs"), "{line:?}");
    let marker = marker();
    let echo = Command::new("/bin/echo")
        .args([marker.as_str(), "x"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn echo");
    let echo_pid = echo.id();
    let mut echo = echo;
    assert!(echo.wait().expect("wait").success());
    // No signal: --duration alone must end the run.
    let out = child.wait_with_output().expect("wait execsnoop");
    assert!(out.status.success(), "{}", out.status);
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("PCOMM            PID     PPID    UID     RET ARGS")
    );
    let ours: Vec<&str> = lines.filter(|l| l.contains(&marker)).collect();
    assert_eq!(ours.len(), 1, "{text}");
    let fields: Vec<&str> = ours[0].split_whitespace().collect();
    // SAFETY: getuid has no memory effects.
    let uid = unsafe { libc::getuid() };
    assert_eq!(
        fields,
        [
            "echo",
            &echo_pid.to_string(),
            &std::process::id().to_string(),
            &uid.to_string(),
            "0",
            "/bin/echo",
            &marker,
            "x"
        ]
    );
}
