//! `syslat --metrics`: a scrape of the endpoint, parsed by a real Prometheus
//! exposition-format parser (the `prometheus-parse` crate), holds the same histograms the
//! tool prints (cumulative `le` buckets, sum and count) for a workload of known syscalls.

use std::collections::BTreeMap;
use std::path::Path;

use prometheus_parse::{Scrape, Value};
use tool_common::testing::{self, Held};

#[test]
fn scrape_histograms_equal_the_printed_ones() {
    let workload = testing::compile_c(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workload.c"),
        env!("CARGO_TARGET_TMPDIR"),
        "syslat-metrics-workload",
    );
    let held = Held::spawn(&workload, &["1000", "3", "40"]);
    let pid = held.pid().to_string();
    let mut snoop = testing::start(
        env!("CARGO_BIN_EXE_syslat"),
        &["--json", "--pid", &pid, "--metrics", "127.0.0.1:0"],
    );
    let addr = testing::metrics_addr(&snoop.stderr_line());
    held.release();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let text = testing::scrape(&addr);
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition");
    let printed = testing::json_lines(&testing::stop(snoop));

    let mut buckets = BTreeMap::new();
    let mut sums = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for sample in &scrape.samples {
        let syscall = sample
            .labels
            .get("syscall")
            .expect("syscall label")
            .to_owned();
        match (sample.metric.as_str(), &sample.value) {
            ("syslat_latency_seconds", Value::Histogram(b)) => {
                buckets.insert(syscall, b.clone());
            }
            ("syslat_latency_seconds_sum", Value::Untyped(v)) => {
                sums.insert(syscall, *v);
            }
            ("syslat_latency_seconds_count", Value::Untyped(v)) => {
                counts.insert(syscall, *v);
            }
            other => panic!("unexpected sample {other:?}"),
        }
    }
    assert_eq!(buckets.len(), printed.len(), "{buckets:?}");
    assert!(printed
        .iter()
        .any(|p| p["syscall"] == "getppid" && p["count"] == 1000));
    for p in &printed {
        let name = p["syscall"].as_str().unwrap();
        let count = p["count"].as_u64().unwrap();
        assert_eq!(counts.get(name), Some(&(count as f64)), "{name}");
        assert_eq!(
            sums.get(name),
            Some(&(p["sum"].as_u64().unwrap() as f64 * 1e-6)),
            "{name}"
        );
        let hist = &buckets[name];
        // 32 log2 buckets and +Inf; each cumulative count equals the printed slots so far.
        assert_eq!(hist.len(), 33, "{name}");
        let slots = p["slots"].as_array().unwrap();
        let mut cumulative = 0;
        for (i, bucket) in hist.iter().enumerate().take(32) {
            cumulative += slots.get(i).map_or(0, |s| s["count"].as_u64().unwrap());
            let high = slots
                .get(i)
                .map_or((2u64 << i) - 1, |s| s["high"].as_u64().unwrap());
            assert_eq!(
                bucket.less_than,
                (high + 1) as f64 * 1e-6,
                "{name} bucket {i}"
            );
            assert_eq!(bucket.count, cumulative as f64, "{name} bucket {i}");
        }
        assert_eq!(hist[32].less_than, f64::INFINITY);
        assert_eq!(hist[32].count, count as f64);
    }
}
