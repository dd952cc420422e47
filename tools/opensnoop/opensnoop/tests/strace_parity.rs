//! `opensnoop -c` against `strace -f -e trace=open,openat,openat2` of the same shell
//! script: the same opens, each with the same path and the same outcome (a file
//! descriptor, or the same errno). Needs strace (installed by .ci/run).

use std::path::Path;
use std::process::{Command, Stdio};

/// Path and outcome (`fd` or the errno's name) of each open, sorted.
type Opens = Vec<(String, String)>;

const SCRIPT: &str =
    "cat /etc/hostname /nonexistent/opensnoop-parity >/dev/null 2>&1; ls / >/dev/null; true";

fn ours() -> Opens {
    let out = Command::new(env!("CARGO_BIN_EXE_opensnoop"))
        .args(["--json", "-c", "sh", "-c", SCRIPT])
        .stdin(Stdio::null())
        .output()
        .expect("run opensnoop");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut opens: Opens = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"));
            let outcome = match v["errno"].as_str() {
                Some(errno) => errno.to_owned(),
                None => "fd".to_owned(),
            };
            (v["path"].as_str().expect("path").to_owned(), outcome)
        })
        .collect();
    opens.sort();
    opens
}

fn strace() -> Opens {
    let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("opensnoop-strace-{}.txt", std::process::id()));
    let status = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
        .arg(&log)
        .args(["sh", "-c", SCRIPT])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("strace is installed (.ci/run installs it)");
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    let mut opens: Opens = text
        .lines()
        .filter(|l| l.contains("open"))
        .map(|l| {
            // `PID openat(AT_FDCWD, "PATH", FLAGS) = 3` or `= -1 ENOENT (No such file ...)`.
            let path = l.split('"').nth(1).unwrap_or_else(|| panic!("{l}"));
            let (_, result) = l.rsplit_once(") = ").unwrap_or_else(|| panic!("{l}"));
            let outcome = match result.strip_prefix("-1 ") {
                Some(errno) => errno.split_whitespace().next().unwrap().to_owned(),
                None => "fd".to_owned(),
            };
            (path.to_owned(), outcome)
        })
        .collect();
    opens.sort();
    opens
}

#[test]
fn opens_equal_strace_f_of_the_same_command() {
    let ours = ours();
    let theirs = strace();
    assert!(
        ours.contains(&("/nonexistent/opensnoop-parity".into(), "ENOENT".into())),
        "{ours:?}"
    );
    assert!(
        ours.contains(&("/etc/hostname".into(), "fd".into())),
        "{ours:?}"
    );
    assert_eq!(ours, theirs);
}
