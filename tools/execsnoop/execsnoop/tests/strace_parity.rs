//! `execsnoop -c` against `strace -f -e trace=execve` of the same command: the same execs in
//! the same order, each with the same path and result — `env` searching `PATH` for a
//! program that is nowhere makes one failed execve per directory. Needs strace (installed
//! by .ci/run).

use std::path::Path;
use std::process::{Command, Stdio};

/// An exec: the path given to execve, and its result (0 or -errno).
type Execs = Vec<(String, i64)>;

/// `env` runs `sh`, which runs `true` (a builtin: no exec) and then `env MISSING`.
const COMMAND: &[&str] = &[
    "env",
    "sh",
    "-c",
    "true; exec env no-such-program-execsnoop-parity",
];

fn ours() -> Execs {
    let out = Command::new(env!("CARGO_BIN_EXE_execsnoop"))
        .arg("--json")
        .arg("-c")
        .args(COMMAND)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("run execsnoop");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"));
            (
                v["args"][0].as_str().expect("args[0]").to_owned(),
                v["ret"].as_i64().expect("ret"),
            )
        })
        .collect()
}

fn strace() -> Execs {
    let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("execsnoop-strace-{}.txt", std::process::id()));
    Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=execve", "-o"])
        .arg(&log)
        .args(COMMAND)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("strace is installed (.ci/run installs it)");
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    text.lines()
        .filter(|l| l.contains("execve("))
        .map(|l| {
            // `PID execve("PATH", [...], ...) = 0` or `= -1 ENOENT (No such file ...)`.
            let path = l.split('"').nth(1).unwrap_or_else(|| panic!("{l}"));
            let (_, result) = l.rsplit_once(") = ").unwrap_or_else(|| panic!("{l}"));
            let ret = match result.strip_prefix("-1 ") {
                Some(errno) => match errno.split_whitespace().next() {
                    Some("ENOENT") => -i64::from(libc::ENOENT),
                    other => panic!("unexpected errno {other:?} in {l}"),
                },
                None => result.trim().parse().unwrap_or_else(|_| panic!("{l}")),
            };
            (path.to_owned(), ret)
        })
        .collect()
}

#[test]
fn execs_equal_strace_f_of_the_same_command() {
    let ours = ours();
    let theirs = strace();
    let failed = ours
        .iter()
        .filter(|(_, ret)| *ret == -i64::from(libc::ENOENT))
        .count();
    assert!(failed >= 1, "env's PATH search: {ours:?}");
    assert_eq!(
        ours.iter().filter(|(_, ret)| *ret == 0).count(),
        3,
        "{ours:?}"
    );
    assert_eq!(ours, theirs);
}
