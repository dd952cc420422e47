//! `syscount --metrics`: a scrape of the endpoint, parsed by a real Prometheus
//! exposition-format parser (the `prometheus-parse` crate), holds the same counts the tool
//! prints, for a workload of known syscalls.

use std::collections::BTreeMap;
use std::path::Path;

use prometheus_parse::{Scrape, Value};
use tool_common::testing::{self, Held};

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition")
}

#[test]
fn scrape_equals_the_printed_counts() {
    let workload = testing::compile_c(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workload.c"),
        env!("CARGO_TARGET_TMPDIR"),
        "metrics-workload",
    );
    let held = Held::spawn(&workload, &["1000", "37"]);
    let pid = held.pid().to_string();
    let mut snoop = testing::start(
        env!("CARGO_BIN_EXE_syscount"),
        &[
            "--json",
            "--top",
            "0",
            "--latency",
            "--pid",
            &pid,
            "--metrics",
            "127.0.0.1:0",
        ],
    );
    let addr = testing::metrics_addr(&snoop.stderr_line());
    held.release();
    // The loop refreshes the text at least every 100 ms.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let scrape = parse(&testing::scrape(&addr));
    let rows = testing::json_lines(&testing::stop(snoop));

    let mut calls = BTreeMap::new();
    let mut seconds = BTreeMap::new();
    for sample in &scrape.samples {
        let syscall = sample
            .labels
            .get("syscall")
            .expect("a syscall label")
            .to_owned();
        match (sample.metric.as_str(), &sample.value) {
            ("syscount_calls_total", Value::Counter(v)) => calls.insert(syscall, *v),
            ("syscount_call_seconds_total", Value::Counter(v)) => seconds.insert(syscall, *v),
            other => panic!("unexpected sample {other:?}"),
        };
    }
    assert_eq!(calls.get("getppid"), Some(&1000.0), "{calls:?}");
    assert_eq!(
        calls.len(),
        rows.len(),
        "one counter per printed row: {calls:?} {rows:?}"
    );
    for row in &rows {
        let name = row["syscall"].as_str().unwrap();
        assert_eq!(
            calls.get(name),
            Some(&(row["count"].as_u64().unwrap() as f64)),
            "{name}"
        );
        let total = row["total_ns"].as_u64().unwrap() as f64 / 1e9;
        assert_eq!(seconds.get(name), Some(&total), "{name}");
    }
    assert_eq!(
        scrape.docs.get("syscount_calls_total").map(String::as_str),
        Some("Syscalls that returned, as counted in the kernel.")
    );
}
