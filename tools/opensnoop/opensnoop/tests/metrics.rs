//! `opensnoop --metrics`: a scrape, parsed by the `prometheus-parse` crate, counts the
//! opens the tool printed, by command and errno, for a held workload with known opens.

use std::collections::BTreeMap;
use std::path::Path;

use prometheus_parse::{Scrape, Value};
use tool_common::testing::{self, Held};

#[test]
fn scrape_counts_equal_the_printed_opens() {
    let workload = testing::compile_c(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/opens.c"),
        env!("CARGO_TARGET_TMPDIR"),
        "opens-metrics",
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("opensnoop-metrics-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("marker dir");
    std::fs::write(dir.join("exists"), b"x").expect("marker file");
    let held = Held::spawn(&workload, &[dir.to_str().unwrap()]);
    let pid = held.pid().to_string();
    let mut snoop = testing::start(
        env!("CARGO_BIN_EXE_opensnoop"),
        &["--json", "--pid", &pid, "--metrics", "127.0.0.1:0"],
    );
    let addr = testing::metrics_addr(&snoop.stderr_line());
    held.release();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let text = testing::scrape(&addr);
    let events = testing::json_lines(&testing::stop(snoop));
    std::fs::remove_dir_all(&dir).expect("remove the marker dir");

    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition");
    let mut scraped = BTreeMap::new();
    for sample in &scrape.samples {
        let Value::Counter(v) = sample.value else {
            panic!("{sample:?}")
        };
        if sample.metric == "opensnoop_lost_events_total" {
            assert_eq!(v, 0.0, "nothing lost");
            continue;
        }
        assert_eq!(sample.metric, "opensnoop_opens_total");
        let key = (
            sample.labels.get("comm").unwrap().to_owned(),
            sample.labels.get("errno").unwrap().to_owned(),
        );
        scraped.insert(key, v);
    }
    let mut printed: BTreeMap<(String, String), f64> = BTreeMap::new();
    for e in &events {
        let errno = e["errno"].as_str().unwrap_or("").to_owned();
        *printed
            .entry((e["comm"].as_str().unwrap().to_owned(), errno))
            .or_default() += 1.0;
    }
    assert_eq!(scraped, printed);
    let workload_key = |errno: &str| ("opens-metrics".to_owned(), errno.to_owned());
    // ENOENT also counts ld.so's search of cargo's LD_LIBRARY_PATH; the one EISDIR is ours.
    assert!(
        scraped.get(&workload_key("ENOENT")) >= Some(&1.0),
        "{scraped:?}"
    );
    assert_eq!(
        scraped.get(&workload_key("EISDIR")),
        Some(&1.0),
        "{scraped:?}"
    );
    assert!(scraped.get(&workload_key("")) >= Some(&3.0), "{scraped:?}");
}
