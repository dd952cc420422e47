//! Runs `syslat` (as root, against the running kernel) on a workload it starts with `-c`
//! (`workload.c`): 1000 getppid calls and 5 sleeps of 40 ms; the getppid histogram holds
//! exactly 1000 calls, the sleeps land in the 32768..65535 us slot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn workload() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workload.c");
            tool_common::testing::compile_c(source, env!("CARGO_TARGET_TMPDIR"), "syslat-workload")
        })
        .clone()
}

fn syslat(extra: &[&str], args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_syslat"))
        .args(extra)
        .arg("-c")
        .arg(workload())
        .args(args)
        .output()
        .expect("run syslat");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "syslat failed: {stderr}");
    assert!(stderr.starts_with("syslat: tracing ("), "{stderr}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn by_syscall(stdout: &str) -> Vec<Value> {
    tool_common::testing::json_lines(stdout)
}

fn find<'a>(rows: &'a [Value], name: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["syscall"] == name)
        .unwrap_or_else(|| panic!("no {name} in {rows:#?}"))
}

/// glibc's nanosleep is the clock_nanosleep syscall on current kernels' ABIs.
const SLEEP: &str = "clock_nanosleep";

#[test]
fn histograms_count_every_call_and_place_sleeps_by_duration() {
    let rows = by_syscall(&syslat(&["--json"], &["1000", "5", "40"]));
    let getppid = find(&rows, "getppid");
    assert_eq!(getppid["count"], 1000, "{getppid}");
    assert_eq!(getppid["unit"], "usecs");
    let slots = getppid["slots"].as_array().unwrap();
    let total: u64 = slots.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 1000, "{getppid}");

    let sleep = find(&rows, SLEEP);
    assert_eq!(sleep["count"], 5, "{sleep}");
    let last = sleep["slots"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["low"].as_u64(), last["high"].as_u64()),
        (Some(32768), Some(65535)),
        "{sleep}"
    );
    assert_eq!(
        last["count"], 5,
        "all five 40 ms sleeps in one slot: {sleep}"
    );
    let sum = sleep["sum"].as_u64().unwrap();
    assert!((5 * 40_000..5 * 65_536).contains(&sum), "{sleep}");
}

#[test]
fn syscall_option_keeps_only_that_syscall_and_milliseconds_scale() {
    let rows = by_syscall(&syslat(
        &["--json", "--syscall", SLEEP, "--milliseconds"],
        &["100", "3", "40"],
    ));
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["count"], 3);
    assert_eq!(rows[0]["unit"], "msecs");
    // 40 ms (and some scheduling delay) is in 32..63.
    let last = rows[0]["slots"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["low"].as_u64(), last["count"].as_u64()),
        (Some(32), Some(3)),
        "{rows:#?}"
    );
}

#[test]
fn text_output_prints_bcc_style_bars() {
    let stdout = syslat(&["--syscall", "getppid"], &["500", "0", "0"]);
    let mut lines = stdout
        .lines()
        .filter(|l| !l.starts_with("[") && !l.is_empty());
    let title = lines.next().expect("title");
    assert!(
        title.starts_with("syscall = getppid (500 calls, avg "),
        "{stdout}"
    );
    assert_eq!(
        lines.next(),
        Some("     usecs               : count    distribution")
    );
    let rows: Vec<&str> = lines.collect();
    let counted: u64 = rows
        .iter()
        .map(|r| {
            r.split(':')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(counted, 500, "{stdout}");
    assert!(
        rows.iter()
            .any(|r| r.ends_with("|****************************************|")),
        "{stdout}"
    );
}

#[test]
fn unknown_syscall_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_syslat"))
        .args(["--syscall", "no_such_call"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "syslat: --syscall no_such_call: no such syscall on this architecture"
    );
}

/// A shell that forks two programs (and so takes two SIGCHLDs): every syscall's count equals
/// `strace -f -c`'s, rt_sigreturn included (its exit carries syscall number -1; syslat
/// counts it under rt_sigreturn's number). brk, getrandom and futex may vary run to run.
#[test]
fn counts_equal_strace_f_rt_sigreturn_included() {
    let script = "ls / >/dev/null; ls >/dev/null";
    let out = Command::new(env!("CARGO_BIN_EXE_syslat"))
        .args(["--json", "-c", "sh", "-c", script])
        .output()
        .expect("run syslat");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: std::collections::BTreeMap<String, u64> =
        by_syscall(&String::from_utf8_lossy(&out.stdout))
            .iter()
            .map(|r| {
                (
                    r["syscall"].as_str().unwrap().to_owned(),
                    r["count"].as_u64().unwrap(),
                )
            })
            .collect();
    let report = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("syslat-strace-{}.txt", std::process::id()));
    let status = Command::new("strace")
        .args(["-f", "-c", "-U", "name,calls", "-o"])
        .arg(&report)
        .args(["sh", "-c", script])
        .status()
        .expect("strace is installed (.ci/run installs it)");
    assert!(status.success());
    let text = std::fs::read_to_string(&report).unwrap();
    std::fs::remove_file(&report).unwrap();
    let theirs: std::collections::BTreeMap<String, u64> = text
        .lines()
        .skip(2)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() < 2 || cols[0].starts_with('-') || cols[0] == "total" {
                return None;
            }
            Some((cols[0].to_owned(), cols[1].parse().ok()?))
        })
        .collect();
    assert!(
        theirs.get("rt_sigreturn").is_some_and(|&n| n >= 1),
        "{text}"
    );
    let varying = ["brk", "getrandom", "futex"];
    let keep = |m: &std::collections::BTreeMap<String, u64>| -> Vec<(String, u64)> {
        m.iter()
            .filter(|(k, _)| !varying.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    assert_eq!(
        keep(&ours),
        keep(&theirs),
        "syslat vs strace -f -c:\n{text}"
    );
}
