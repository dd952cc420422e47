//! Side by side with libbpf-tools' syscount (Debian's `libbpf-tools`, installed by
//! .ci/run): both watch the same held workload by pid, concurrently; every syscall count
//! must be equal.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use tool_common::testing::{self, Held};

const THEIRS: &str = "/usr/sbin/syscount";

#[test]
fn counts_equal_libbpf_tools_syscount_on_the_same_workload() {
    if !Path::new(THEIRS).exists() {
        println!("SKIP {THEIRS} is missing (Debian package libbpf-tools)");
        return;
    }
    let workload = testing::compile_c(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workload.c"),
        env!("CARGO_TARGET_TMPDIR"),
        "side-by-side-workload",
    );
    let held = Held::spawn(&workload, &["1000", "37"]);
    let pid = held.pid().to_string();

    // Line-buffered, so its "Tracing syscalls" line (printed once attached) reaches us.
    let mut theirs = Command::new("stdbuf")
        .args(["-oL", THEIRS, "-p", &pid, "-T", "1000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start libbpf-tools syscount");
    let mut their_out = BufReader::new(theirs.stdout.take().expect("stdout"));
    let mut line = String::new();
    their_out.read_line(&mut line).expect("read its first line");
    assert!(
        line.starts_with("Tracing syscalls"),
        "libbpf-tools syscount: {line:?}"
    );
    let ours = testing::start(
        env!("CARGO_BIN_EXE_syscount"),
        &["--json", "--top", "0", "--pid", &pid],
    );

    held.release();
    std::thread::sleep(std::time::Duration::from_millis(300));
    testing::interrupt(&theirs);
    let mut text = String::new();
    their_out
        .read_to_string(&mut text)
        .expect("read its report");
    assert!(theirs.wait().expect("wait").success());
    let ours = testing::json_lines(&testing::stop(ours));

    let theirs: BTreeMap<String, u64> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (name, count) = (w.next()?, w.next()?.parse().ok()?);
            Some((name.to_owned(), count))
        })
        .collect();
    let ours: BTreeMap<String, u64> = ours
        .iter()
        .map(|r| {
            (
                r["syscall"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(ours.get("getppid") >= Some(&1000), "{ours:?}");
    assert_eq!(ours, theirs, "ours vs libbpf-tools");
}
