//! Side by side with libbpf-tools' syscount (Debian's `libbpf-tools`, installed by
//! .ci/run): both watch the same held workload by pid, concurrently; every syscall count
//! must be equal.

use std::collections::BTreeMap;
use std::path::Path;

use tool_common::testing::{self, Held, Theirs};

const THEIRS: &str = "/usr/sbin/syscount";

#[test]
fn counts_equal_libbpf_tools_syscount_on_the_same_workload() {
    if !Theirs::installed(THEIRS) {
        return;
    }
    let workload = testing::compile_c(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workload.c"),
        env!("CARGO_TARGET_TMPDIR"),
        "side-by-side-workload",
    );
    let held = Held::spawn(&workload, &["1000", "37"]);
    let pid = held.pid().to_string();

    // Its first line, "Tracing syscalls", is printed once attached.
    let (theirs, line) = Theirs::start(THEIRS, &["-p", &pid, "-T", "1000"]);
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
    let text = theirs.stop();
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
