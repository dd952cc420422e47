//! Runs `opensnoop` (as root, against the running kernel) on a workload it starts with
//! `-c` (`opens.c`): five opens of marker paths in a fresh directory, with known flags,
//! modes, fds and errnos; checks each event exactly, `--failed`, and text columns.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn workload() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/opens.c");
            tool_common::testing::compile_c(source, env!("CARGO_TARGET_TMPDIR"), "opens-workload")
        })
        .clone()
}

/// A fresh directory with a file `exists`, removed on drop.
struct Markers(PathBuf);

impl Markers {
    fn new(test: &str) -> Markers {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("opensnoop-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("create marker dir");
        std::fs::write(dir.join("exists"), b"x").expect("create marker file");
        Markers(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Markers {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// opensnoop EXTRA -c WORKLOAD DIR: (stdout, the workload's fds).
fn opensnoop(extra: &[&str], markers: &Markers) -> (String, Vec<i64>) {
    let out = Command::new(env!("CARGO_BIN_EXE_opensnoop"))
        .args(extra)
        .arg("-c")
        .arg(workload())
        .arg(&markers.0)
        .output()
        .expect("run opensnoop");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "opensnoop failed: {stderr}");
    assert!(stderr.starts_with("opensnoop: tracing ("), "{stderr}");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    // The workload's own line (its stdout is ours) is the one made of three numbers.
    let fds = stdout
        .lines()
        .find_map(|l| {
            let n: Vec<i64> = l.split_whitespace().map_while(|w| w.parse().ok()).collect();
            (n.len() == 3 && l.split_whitespace().count() == 3).then_some(n)
        })
        .expect("the workload printed its fds");
    (stdout, fds)
}

fn events_for<'a>(events: &'a [Value], markers: &Markers) -> Vec<&'a Value> {
    let dir = markers.0.display().to_string();
    events
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with(&dir)))
        .collect()
}

fn json_events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

#[test]
fn every_open_has_its_path_flags_mode_and_fd_or_errno() {
    let markers = Markers::new("all");
    let (stdout, fds) = opensnoop(&["--json"], &markers);
    let events = json_events(&stdout);
    let ours = events_for(&events, &markers);
    let child_pid = ours.first().expect("events for the markers")["pid"].clone();
    let want = [
        (
            markers.path("exists"),
            libc::O_RDONLY | libc::O_CLOEXEC,
            0,
            Some(fds[0]),
            None,
        ),
        (
            markers.path("missing"),
            libc::O_RDONLY,
            0,
            None,
            Some(("ENOENT", libc::ENOENT)),
        ),
        (
            markers.path("created"),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            0o640,
            Some(fds[1]),
            None,
        ),
        (
            markers.0.display().to_string(),
            libc::O_WRONLY,
            0,
            None,
            Some(("EISDIR", libc::EISDIR)),
        ),
        (
            markers.path("exists"),
            libc::O_RDONLY | libc::O_NOFOLLOW,
            0,
            Some(fds[2]),
            None,
        ),
    ];
    assert_eq!(ours.len(), want.len(), "{ours:#?}");
    for (event, (path, flags, mode, fd, errno)) in ours.iter().zip(want) {
        assert_eq!(event["path"], path, "{event}");
        assert_eq!(event["flags"], flags, "{event}");
        assert_eq!(event["mode"], mode, "{event}");
        assert_eq!(event["fd"], fd.map_or(Value::Null, Value::from), "{event}");
        match errno {
            Some((name, value)) => {
                assert_eq!(event["errno"], name, "{event}");
                assert_eq!(event["errno_value"], value, "{event}");
            }
            None => assert_eq!(event["errno"], Value::Null, "{event}"),
        }
        assert_eq!(event["pid"], child_pid);
        assert_eq!(event["comm"], "opens-workload");
        // SAFETY: getuid has no memory effects.
        assert_eq!(event["uid"], unsafe { libc::getuid() });
    }
    assert_eq!(ours[2]["flags_text"], "O_WRONLY|O_CREAT|O_TRUNC");
    // -c traces only the child.
    assert!(events.iter().all(|e| e["pid"] == child_pid), "{events:#?}");
}

#[test]
fn failed_reports_only_failures() {
    let markers = Markers::new("failed");
    let (stdout, _) = opensnoop(&["--json", "--failed"], &markers);
    let events = json_events(&stdout);
    assert!(
        events
            .iter()
            .all(|e| e["fd"].is_null() && e["errno_value"].as_i64() > Some(0)),
        "{events:#?}"
    );
    let ours = events_for(&events, &markers);
    let paths: Vec<&Value> = ours.iter().map(|e| &e["path"]).collect();
    assert_eq!(
        paths,
        [
            &Value::from(markers.path("missing")),
            &Value::from(markers.0.display().to_string())
        ]
    );
    assert_eq!(ours[0]["errno"], "ENOENT");
    assert_eq!(ours[1]["errno"], "EISDIR");
}

#[test]
fn text_output_has_libbpf_tools_columns() {
    let markers = Markers::new("text");
    let (stdout, fds) = opensnoop(&[], &markers);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some("PID    COMM              FD ERR FLAGS    PATH")
    );
    let missing = markers.path("missing");
    let row: Vec<&str> = stdout
        .lines()
        .find(|l| l.ends_with(&missing))
        .expect("a row for the missing path")
        .split_whitespace()
        .collect();
    assert_eq!(
        &row[1..],
        [
            "opens-workload",
            "-1",
            &libc::ENOENT.to_string(),
            "00000000",
            &missing
        ]
    );
    let exists = markers.path("exists");
    let row: Vec<&str> = stdout
        .lines()
        .find(|l| l.ends_with(&exists))
        .expect("row")
        .split_whitespace()
        .collect();
    assert_eq!(row[2], fds[0].to_string());
    assert_eq!(row[4], format!("{:08o}", libc::O_CLOEXEC));
}

/// `-c sh -c '...'`: the opens of a program the shell forks (a grandchild of opensnoop) are
/// traced, from the run's own cgroup, which is gone after the run.
#[test]
fn opens_of_what_the_command_forks_are_traced() {
    let markers = Markers::new("tree");
    let missing = markers.path("grandchild-missing");
    let cgroup_file = markers.path("cgroup");
    let script = format!("cat {missing} 2>/dev/null; cat /proc/self/cgroup > {cgroup_file}");
    let out = Command::new(env!("CARGO_BIN_EXE_opensnoop"))
        .args(["--json", "-c", "sh", "-c", &script])
        .output()
        .expect("run opensnoop");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "opensnoop failed: {stderr}");
    let events = json_events(&String::from_utf8(out.stdout).expect("UTF-8"));
    let opens: Vec<&Value> = events_for(&events, &markers)
        .into_iter()
        .filter(|e| e["path"] == missing.as_str())
        .collect();
    assert_eq!(opens.len(), 1, "{events:?}");
    assert_eq!(opens[0]["comm"], "cat", "{:?}", opens[0]);
    assert_eq!(opens[0]["errno"], "ENOENT", "{:?}", opens[0]);
    assert_eq!(opens[0]["errno_value"], libc::ENOENT, "{:?}", opens[0]);
    let cgroup = std::fs::read_to_string(&cgroup_file).expect("the grandchild's cgroup");
    tool_common::testing::assert_run_cgroup_removed("opensnoop", &cgroup);
}
