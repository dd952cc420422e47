//! `--otlp-endpoint URL` (feature `otlp`): the same aggregates `--metrics` serves, pushed as
//! OTLP/HTTP JSON (`ExportMetricsServiceRequest`) every `--otlp-interval` seconds and once
//! more when the tool ends.
//!
//! The request is written by hand from the tool's own exposition text (counters become
//! monotonic cumulative sums, gauges gauges, histograms explicit-bucket histograms) and sent
//! over a plain `std::net::TcpStream` with HTTP/1.1: no OpenTelemetry SDK, no async runtime,
//! no TLS (an `https://` endpoint is refused; collectors usually listen on localhost:4318).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// The `--otlp-*` options.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OtlpArgs {
    /// Push the aggregates as OTLP/HTTP JSON to this URL (http://HOST:PORT[/PATH]; the path
    /// defaults to /v1/metrics) every --otlp-interval seconds and when the tool ends.
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Seconds between OTLP pushes.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub otlp_interval: f64,
}

/// Why OTLP pushing could not start or a push failed.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The URL is not `http://HOST:PORT[/PATH]`.
    #[error("--otlp-endpoint {url}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `--otlp-interval` is not a positive number of seconds.
    #[error("--otlp-interval {0}: not a positive number of seconds")]
    BadInterval(f64),
    /// Connecting, sending or reading the answer failed.
    #[error("OTLP push to {url}")]
    Io {
        /// The endpoint.
        url: String,
        /// What the socket said.
        #[source]
        source: std::io::Error,
    },
    /// The collector answered with a status other than 2xx.
    #[error("OTLP push to {url}: the collector answered `{status}`")]
    Refused {
        /// The endpoint.
        url: String,
        /// Its status line.
        status: String,
    },
}

/// An `http://HOST:PORT/PATH` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    /// `HOST:PORT`, as connected to and sent in `Host:`.
    authority: String,
    path: String,
}

impl Endpoint {
    /// Parses `url`; the port is required, the path defaults to `/v1/metrics`.
    pub fn parse(url: &str) -> Result<Endpoint, OtlpError> {
        let bad = |reason| OtlpError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        if url.starts_with("https://") {
            return Err(bad("https is not supported (plain http only)"));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("must start with http://"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let port = authority
            .rsplit_once(':')
            .map(|(_, p)| p)
            .ok_or_else(|| bad("needs a port (http://HOST:PORT)"))?;
        if authority.starts_with(':') || port.parse::<u16>().is_err() {
            return Err(bad("needs a host and a numeric port (http://HOST:PORT)"));
        }
        let path = if path.is_empty() || path == "/" {
            "/v1/metrics"
        } else {
            path
        };
        Ok(Endpoint {
            url: url.to_owned(),
            authority: authority.to_owned(),
            path: path.to_owned(),
        })
    }

    /// POSTs `body` as `application/json`; Ok on a 2xx answer.
    pub fn post(&self, body: &str) -> Result<(), OtlpError> {
        let io = |source| OtlpError::Io {
            url: self.url.clone(),
            source,
        };
        let stream = connect(&self.authority, IO_TIMEOUT).map_err(io)?;
        stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(io)?;
        let mut out = &stream;
        write!(
            out,
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.path,
            self.authority,
            body.len()
        )
        .and_then(|()| out.flush())
        .map_err(io)?;
        let mut status = String::new();
        BufReader::new(&stream).read_line(&mut status).map_err(io)?;
        let status = status.trim_end().to_owned();
        let code = status.split_whitespace().nth(1).unwrap_or("");
        if code.len() == 3 && code.starts_with('2') {
            Ok(())
        } else {
            Err(OtlpError::Refused {
                url: self.url.clone(),
                status,
            })
        }
    }
}

/// How long connecting, sending or reading the answer may take: a collector that does not
/// answer (SYNs dropped, a full accept queue) costs a push, not minutes at the tool's exit.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to `authority` (`HOST:PORT`), trying each address it resolves to for at most
/// `timeout`.
fn connect(authority: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in authority.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "the host has no address")
    }))
}

/// Nanoseconds since the Unix epoch, now.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One parsed sample line: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Splits `name{a="x",b="y"} value` (the exposition writer's own output).
fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series.to_owned(), Vec::new(), value));
    };
    let mut labels = Vec::new();
    let mut chars = rest.strip_suffix('}')?.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if chars.next() != Some('"') {
            return None;
        }
        let mut v = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => v.push('\n'),
                    c => v.push(c),
                },
                c => v.push(c),
            }
        }
        labels.push((key, v));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Some((name.to_owned(), labels, value))
}

fn attributes(labels: &[(String, String)]) -> Value {
    Value::from(
        labels
            .iter()
            .map(|(k, v)| json!({"key": k, "value": {"stringValue": v}}))
            .collect::<Vec<_>>(),
    )
}

/// One histogram series being gathered from its `_bucket`/`_sum`/`_count` lines.
#[derive(Default)]
struct Histogram {
    /// (upper bound, cumulative count), in the text's (increasing) order.
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

/// The OTLP/JSON `ExportMetricsServiceRequest` of exposition text `text` (as written by
/// [`crate::metrics::Exposition`]: each family's `# HELP` and `# TYPE`, then its samples)
/// for service `service`; cumulative since `start_ns`.
pub fn request(service: &str, text: &str, start_ns: u64, now_ns: u64) -> Value {
    // (name, kind, help, samples) in the text's order; a sample belongs to the family
    // above it.
    let mut families: Vec<(&str, &str, &str, Vec<Sample>)> = Vec::new();
    let mut help = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest.split_once(' ');
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                let help = help
                    .take()
                    .filter(|(n, _)| *n == name)
                    .map_or("", |(_, h)| h);
                families.push((name, kind, help, Vec::new()));
            }
        } else if let (Some(family), Some(sample)) = (families.last_mut(), parse_sample(line)) {
            family.3.push(sample);
        }
    }
    let (start, now) = (start_ns.to_string(), now_ns.to_string());
    let mut metrics = Vec::new();
    for (family, kind, help, samples) in &families {
        let mut metric = match *kind {
            "histogram" => {
                let mut series: BTreeMap<Vec<(String, String)>, Histogram> = BTreeMap::new();
                for (name, labels, value) in samples {
                    let Some(suffix) = name.strip_prefix(family) else {
                        continue;
                    };
                    let mut key: Vec<(String, String)> =
                        labels.iter().filter(|(k, _)| k != "le").cloned().collect();
                    key.sort();
                    let h = series.entry(key).or_default();
                    match suffix {
                        "_bucket" => {
                            let le = labels.iter().find(|(k, _)| k == "le").map(|(_, v)| v);
                            let bound = match le.map(String::as_str) {
                                Some("+Inf") => f64::INFINITY,
                                Some(v) => v.parse().unwrap_or(f64::INFINITY),
                                None => continue,
                            };
                            h.buckets.push((bound, *value));
                        }
                        "_sum" => h.sum = *value,
                        "_count" => h.count = *value,
                        _ => {}
                    }
                }
                let points: Vec<Value> = series
                    .iter()
                    .map(|(labels, h)| {
                        let mut bounds = Vec::new();
                        let mut counts = Vec::new();
                        let mut below = 0.0;
                        for (bound, cumulative) in &h.buckets {
                            counts.push(((cumulative - below).max(0.0) as u64).to_string());
                            below = *cumulative;
                            if bound.is_finite() {
                                bounds.push(*bound);
                            }
                        }
                        json!({
                            "attributes": attributes(labels),
                            "startTimeUnixNano": start,
                            "timeUnixNano": now,
                            "count": (h.count as u64).to_string(),
                            "sum": h.sum,
                            "bucketCounts": counts,
                            "explicitBounds": bounds,
                        })
                    })
                    .collect();
                json!({"histogram": {"dataPoints": points, "aggregationTemporality": 2}})
            }
            kind => {
                let points: Vec<Value> = samples
                    .iter()
                    .filter(|(name, _, _)| name == family)
                    .map(|(_, labels, value)| {
                        json!({
                            "attributes": attributes(labels),
                            "startTimeUnixNano": start,
                            "timeUnixNano": now,
                            "asDouble": value,
                        })
                    })
                    .collect();
                if kind == "counter" {
                    json!({"sum": {"dataPoints": points, "aggregationTemporality": 2, "isMonotonic": true}})
                } else {
                    json!({"gauge": {"dataPoints": points}})
                }
            }
        };
        metric["name"] = json!(family);
        metric["description"] = json!(help);
        metrics.push(metric);
    }
    json!({
        "resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
            "scopeMetrics": [{
                "scope": {"name": "bpfkit-tools", "version": env!("CARGO_PKG_VERSION")},
                "metrics": metrics,
            }],
        }],
    })
}

/// What every push sends where: shared by the push thread and the last push on drop.
#[derive(Debug)]
struct Target {
    service: String,
    endpoint: Endpoint,
    text: Arc<Mutex<String>>,
    start_ns: u64,
}

impl Target {
    /// Pushes the text once; a failure is said on stderr (the tool goes on).
    fn push(&self) {
        let text = self.text.lock().map(|t| t.clone()).unwrap_or_default();
        let body = request(&self.service, &text, self.start_ns, unix_nanos()).to_string();
        if let Err(e) = self.endpoint.post(&body) {
            eprintln!("{}: {}", self.service, bpfkit::Report(&e));
        }
    }
}

/// A background thread pushing the shared text every interval; dropping it stops the thread
/// and pushes the last text once more.
#[derive(Debug)]
pub struct OtlpPusher {
    target: Arc<Target>,
    /// Dropped to wake the thread and end it (its `recv_timeout` sees the disconnect).
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OtlpPusher {
    /// Starts pushing `text` (what `--metrics` would serve) for tool `service`.
    pub fn start(
        service: &str,
        args: &OtlpArgs,
        url: &str,
        text: Arc<Mutex<String>>,
    ) -> Result<OtlpPusher, OtlpError> {
        let endpoint = Endpoint::parse(url)?;
        if !(args.otlp_interval.is_finite() && args.otlp_interval > 0.0) {
            return Err(OtlpError::BadInterval(args.otlp_interval));
        }
        let interval = Duration::from_secs_f64(args.otlp_interval);
        let target = Arc::new(Target {
            service: service.to_owned(),
            endpoint,
            text,
            start_ns: unix_nanos(),
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let pushed = Arc::clone(&target);
        let thread = std::thread::Builder::new()
            .name("otlp".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    pushed.push();
                }
            })
            .map_err(|source| OtlpError::Io {
                url: url.to_owned(),
                source,
            })?;
        Ok(OtlpPusher {
            target,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.target.endpoint.url
    }
}

impl Drop for OtlpPusher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.target.push();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_needs_http_host_and_port_and_defaults_the_path() {
        let e = Endpoint::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(
            (e.authority.as_str(), e.path.as_str()),
            ("127.0.0.1:4318", "/v1/metrics")
        );
        let e = Endpoint::parse("http://collector:4318/custom/path").unwrap();
        assert_eq!(e.path, "/custom/path");
        for bad in [
            "https://x:1",
            "x:1",
            "http://x",
            "http://:1",
            "http://x:port",
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("--otlp-endpoint {bad}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn connecting_to_a_collector_that_does_not_accept_times_out() {
        use std::os::fd::FromRawFd;
        // A listener with an accept queue of one that never accepts: once a connection
        // fills it, the kernel drops further SYNs and a plain connect would wait minutes.
        // SAFETY: socket(2) has no memory preconditions; the fd is owned once below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        // SAFETY: `fd` is a fresh socket, owned by the OwnedFd from here on.
        let owned = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: `addr` is a valid sockaddr_in of the size passed; bind and listen only
        // read it.
        let ret = unsafe {
            libc::bind(
                fd,
                (&addr as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(ret, 0, "bind: {}", std::io::Error::last_os_error());
        // SAFETY: listen(2) on our own bound socket.
        assert_eq!(unsafe { libc::listen(fd, 0) }, 0);
        let listener = std::net::TcpListener::from(owned);
        let authority = listener.local_addr().unwrap().to_string();
        let _queued = connect(&authority, Duration::from_secs(2)).expect("the first one queues");
        let started = std::time::Instant::now();
        let err = connect(&authority, Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_family_takes_only_the_samples_below_it() {
        // `x_seconds_total` starts with the histogram's name: its sample is not a series of
        // the histogram.
        let text = "# HELP x_seconds Lat.\n# TYPE x_seconds histogram\n\
                    x_seconds_bucket{sc=\"read\",le=\"+Inf\"} 1\n\
                    x_seconds_sum{sc=\"read\"} 0.5\nx_seconds_count{sc=\"read\"} 1\n\
                    # HELP x_seconds_total Time.\n# TYPE x_seconds_total counter\n\
                    x_seconds_total{pid=\"1\"} 7\n";
        let r = request("tool", text, 1, 2);
        let metrics = &r["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
        let points = metrics[0]["histogram"]["dataPoints"].as_array().unwrap();
        assert_eq!(points.len(), 1, "{points:?}");
        assert_eq!(points[0]["attributes"][0]["value"]["stringValue"], "read");
        assert_eq!(metrics[1]["name"], "x_seconds_total");
        assert_eq!(metrics[1]["description"], "Time.");
        assert_eq!(metrics[1]["sum"]["dataPoints"][0]["asDouble"], 7.0);
    }

    #[test]
    fn counters_become_cumulative_sums_and_histograms_per_bucket_counts() {
        let text = "# HELP t_total Things.\n# TYPE t_total counter\n\
                    t_total{comm=\"a\\\"b\",errno=\"\"} 3\n\
                    # HELP h_seconds Lat.\n# TYPE h_seconds histogram\n\
                    h_seconds_bucket{sc=\"read\",le=\"0.5\"} 2\n\
                    h_seconds_bucket{sc=\"read\",le=\"1\"} 5\n\
                    h_seconds_bucket{sc=\"read\",le=\"+Inf\"} 6\n\
                    h_seconds_sum{sc=\"read\"} 4.5\nh_seconds_count{sc=\"read\"} 6\n";
        let r = request("tool", text, 1, 2);
        let scope = &r["resourceMetrics"][0]["scopeMetrics"][0];
        let metrics = scope["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), 2);
        assert_eq!(metrics[0]["name"], "t_total");
        assert_eq!(metrics[0]["description"], "Things.");
        let sum = &metrics[0]["sum"];
        assert_eq!(sum["isMonotonic"], true);
        assert_eq!(sum["aggregationTemporality"], 2);
        let p = &sum["dataPoints"][0];
        assert_eq!(p["asDouble"], 3.0);
        assert_eq!(p["attributes"][0]["value"]["stringValue"], "a\"b");
        assert_eq!(p["attributes"][1]["key"], "errno");
        assert_eq!(p["startTimeUnixNano"], "1");
        let h = &metrics[1]["histogram"]["dataPoints"][0];
        assert_eq!(h["bucketCounts"], json!(["2", "3", "1"]));
        assert_eq!(h["explicitBounds"], json!([0.5, 1.0]));
        assert_eq!(h["count"], "6");
        assert_eq!(h["sum"], 4.5);
        assert_eq!(
            r["resourceMetrics"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "tool"
        );
    }
}
