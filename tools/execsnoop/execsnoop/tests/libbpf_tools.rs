//! Side by side with libbpf-tools' execsnoop (Debian's `libbpf-tools`, installed by
//! .ci/run): both watch the same workload concurrently, and every exec of it that either
//! reports — command, pid, parent pid, return value and arguments — is reported by the other
//! the same way (`execsnoop -x`, so failed execs count too).

use std::collections::BTreeSet;
use std::process::Command;

use tool_common::testing::{self, Theirs};

const THEIRS: &str = "/usr/sbin/execsnoop";

/// One reported exec: comm, pid, ppid, return value, arguments joined by spaces.
type Row = (String, u32, u32, i64, String);

#[test]
fn execs_equal_libbpf_tools_execsnoop_on_the_same_workload() {
    if !Theirs::installed(THEIRS) {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP not root: loading BPF programs needs CAP_BPF");
        return;
    }
    let marker = format!("bpfkit-sbs-{}", std::process::id());

    let (theirs, header) = Theirs::start(THEIRS, &["-x"]);
    assert!(header.starts_with("PCOMM"), "its header: {header:?}");
    let ours = testing::start(env!("CARGO_BIN_EXE_execsnoop"), &["--json"]);

    // Three successful execs with arguments and one that fails (ENOENT), from a shell.
    let script = format!(
        "/bin/true {marker} one; /bin/echo {marker} two >/dev/null; \
         /nonexistent-{marker} 2>/dev/null; /bin/true {marker} three"
    );
    let status = Command::new("/bin/sh")
        .args(["-c", &script])
        .status()
        .expect("run the workload");
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(300));

    let text = theirs.stop();
    let ours = testing::stop(ours);

    // Theirs: `PCOMM PID PPID RET ARGS` (args joined by spaces, a trailing space).
    let their_rows: BTreeSet<Row> = text
        .lines()
        .filter(|l| l.contains(&marker))
        .map(|l| {
            let mut f = l.split_whitespace();
            let comm = f.next().expect("comm").to_owned();
            let pid = f.next().expect("pid").parse().expect("pid");
            let ppid = f.next().expect("ppid").parse().expect("ppid");
            let ret = f.next().expect("ret").parse().expect("ret");
            let args = f.collect::<Vec<_>>().join(" ");
            (comm, pid, ppid, ret, args)
        })
        .collect();
    let our_rows: BTreeSet<Row> = testing::json_lines(&ours)
        .iter()
        .filter(|e| e.to_string().contains(&marker))
        .map(|e| {
            let args = e["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a.as_str().expect("arg"))
                .collect::<Vec<_>>()
                .join(" ");
            let args = args.split_whitespace().collect::<Vec<_>>().join(" ");
            (
                e["comm"].as_str().expect("comm").to_owned(),
                e["pid"].as_u64().expect("pid") as u32,
                e["ppid"].as_u64().expect("ppid") as u32,
                e["ret"].as_i64().expect("ret"),
                args,
            )
        })
        .collect();
    // The shell, three successful execs and the failed one.
    assert_eq!(our_rows.len(), 5, "{our_rows:#?}");
    assert_eq!(
        our_rows
            .iter()
            .filter(|r| r.3 == -i64::from(libc::ENOENT))
            .count(),
        1,
        "{our_rows:#?}"
    );
    assert_eq!(our_rows, their_rows);
}
