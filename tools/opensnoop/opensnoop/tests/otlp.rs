//! `--otlp-endpoint`: opensnoop pushes its aggregates as OTLP/HTTP JSON to a small HTTP
//! server in this test, periodically and once more at exit; the last push's counts, by
//! command and errno, equal the opens the tool printed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tool_common::testing;

/// One request the server received.
#[derive(Debug, Clone)]
struct Received {
    request_line: String,
    content_type: String,
    body: Value,
}

/// Accepts POSTs on a free loopback port, answers 200 and keeps each parsed body.
fn collector() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap().to_string();
    let received = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let (mut length, mut content_type) = (0usize, String::new());
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(": ").unwrap();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap(),
                    "content-type" => content_type = value.to_owned(),
                    _ => {}
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).expect("an OTLP JSON body");
            shared.lock().unwrap().push(Received {
                request_line: request_line.trim_end().to_owned(),
                content_type,
                body,
            });
            let mut out = &stream;
            out.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}",
            )
            .unwrap();
        }
    });
    (addr, received)
}

/// The data points of metric `name` in an ExportMetricsServiceRequest.
fn points<'a>(body: &'a Value, name: &str) -> Vec<&'a Value> {
    let metrics = body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()
        .expect("metrics");
    let metric = metrics
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {body}"));
    assert_eq!(metric["sum"]["isMonotonic"], true, "{metric}");
    assert_eq!(metric["sum"]["aggregationTemporality"], 2, "cumulative");
    metric["sum"]["dataPoints"]
        .as_array()
        .unwrap()
        .iter()
        .collect()
}

fn attribute(point: &Value, key: &str) -> String {
    point["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .and_then(|a| a["value"]["stringValue"].as_str())
        .unwrap_or_else(|| panic!("no {key} in {point}"))
        .to_owned()
}

#[test]
fn last_push_counts_equal_the_printed_opens() {
    let (addr, received) = collector();
    let script = "exec 2>/dev/null; true < /nonexistent-otlp-a; true < /nonexistent-otlp-b; \
                  true < /nonexistent-otlp-b; sleep 0.6";
    let out = Command::new(env!("CARGO_BIN_EXE_opensnoop"))
        .args([
            "--json",
            "--otlp-endpoint",
            &format!("http://{addr}"),
            "--otlp-interval",
            "0.2",
            "-c",
            "/bin/sh",
            "-c",
            script,
        ])
        .output()
        .expect("run opensnoop");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("opensnoop: pushing OTLP metrics to http://{addr}")),
        "{stderr}"
    );
    let events = testing::json_lines(&String::from_utf8(out.stdout).unwrap());

    let received = received.lock().unwrap().clone();
    assert!(
        received.len() >= 2,
        "periodic pushes and the last one: {received:?}"
    );
    for r in &received {
        assert_eq!(r.request_line, "POST /v1/metrics HTTP/1.1");
        assert_eq!(r.content_type, "application/json");
    }
    let last = &received.last().unwrap().body;
    let resource = &last["resourceMetrics"][0]["resource"]["attributes"][0];
    assert_eq!(resource["key"], "service.name");
    assert_eq!(resource["value"]["stringValue"], "opensnoop");

    let mut pushed: BTreeMap<(String, String), f64> = BTreeMap::new();
    for p in points(last, "opensnoop_opens_total") {
        let key = (attribute(p, "comm"), attribute(p, "errno"));
        pushed.insert(key, p["asDouble"].as_f64().unwrap());
    }
    let mut printed: BTreeMap<(String, String), f64> = BTreeMap::new();
    for e in &events {
        let errno = e["errno"].as_str().unwrap_or("").to_owned();
        *printed
            .entry((e["comm"].as_str().unwrap().to_owned(), errno))
            .or_default() += 1.0;
    }
    assert_eq!(pushed, printed);
    let ours = events
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/nonexistent-otlp-"))
        })
        .count();
    assert_eq!(ours, 3, "the script's three failed opens are printed");
    assert!(pushed.get(&("sh".to_owned(), "ENOENT".to_owned())) >= Some(&3.0));
    let lost = points(last, "opensnoop_lost_events_total");
    assert_eq!(lost[0]["asDouble"], 0.0);
}
