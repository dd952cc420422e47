//! Lost events: while opensnoop is stopped (SIGSTOP) a workload makes more failed opens than
//! the ring buffer holds. The kernel side counts each record it had no room for; after
//! SIGCONT the printed opens plus the lost count equal the workload's opens exactly, the
//! count is warned about on stderr and `--metrics` serves it as
//! `opensnoop_lost_events_total`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value};
use tool_common::testing;

/// More than the 256 KiB ring buffer holds (an `OpenEvent` record takes 312 bytes).
const OPENS: u64 = 3000;

fn lost_in(text: &str) -> f64 {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition");
    scrape
        .samples
        .iter()
        .find(|s| s.metric == "opensnoop_lost_events_total")
        .map(|s| match s.value {
            Value::Counter(v) => v,
            ref other => panic!("not a counter: {other:?}"),
        })
        .expect("opensnoop_lost_events_total in the scrape")
}

#[test]
fn opens_while_the_reader_is_stopped_are_printed_or_counted_lost() {
    let path = format!("/nonexistent-bpfkit-lost-{}", std::process::id());
    // stderr goes to /dev/null before the loop (and before tracing starts), so the loop's
    // only opens are its redirections, each failing with ENOENT.
    let script = format!(
        "exec 2>/dev/null; read _; i=0; while [ $i -lt {OPENS} ]; do true < {path}; i=$((i+1)); done"
    );
    let mut workload = Command::new("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let pid = workload.id().to_string();
    let mut snoop = testing::start(
        env!("CARGO_BIN_EXE_opensnoop"),
        &["--json", "--pid", &pid, "--metrics", "127.0.0.1:0"],
    );
    let addr = testing::metrics_addr(&snoop.stderr_line());
    assert_eq!(lost_in(&testing::scrape(&addr)), 0.0, "nothing lost yet");

    let snoop_pid = snoop.pid();
    // Frozen before the workload starts: on a loaded machine kill(2) returns long before the
    // reader stops, and a reader still running keeps up with the whole workload.
    testing::stop_process(snoop_pid);
    workload
        .stdin
        .take()
        .unwrap()
        .write_all(b"go\n")
        .expect("release the workload");
    let status = workload.wait().expect("wait for the workload");
    testing::signal(snoop_pid, libc::SIGCONT);
    assert!(status.success(), "workload: {status}");

    // The reader drains what the ring buffer kept; the lost count is already final.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lost = loop {
        let lost = lost_in(&testing::scrape(&addr));
        if lost > 0.0 || Instant::now() > deadline {
            break lost;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if lost == 0.0 {
        let events = testing::json_lines(&testing::stop(snoop));
        panic!(
            "the ring buffer did not overflow: {} of {OPENS} opens printed, 0 lost",
            events.len()
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let warning = snoop.stderr_line();
    let events = testing::json_lines(&testing::stop(snoop));
    let printed = events
        .iter()
        .filter(|e| e["path"] == path.as_str())
        .inspect(|e| assert_eq!(e["errno"], "ENOENT", "{e}"))
        .count() as u64;
    println!("{OPENS} opens: {printed} printed, {lost} lost");
    assert_eq!(events.len() as u64, printed, "only the workload's opens");
    assert!(lost > 0.0, "the ring buffer overflowed: {printed} printed");
    assert!(printed > 0, "what the ring buffer kept is printed");
    assert_eq!(
        printed + lost as u64,
        OPENS,
        "every open is printed or counted lost ({printed} printed, {lost} lost)"
    );
    assert_eq!(
        warning.trim_end(),
        format!("opensnoop: {lost} events lost (ring buffer full: the reader fell behind)"),
    );
}
