//! `--metrics ADDR`: the aggregates as Prometheus text exposition (format 0.0.4) over HTTP
//! at `/metrics`, served by a background thread from text the tool's loop refreshes.
//! [`Metrics`] is what a tool holds: that server and, with feature `otlp`, the OTLP pusher
//! (`--otlp-endpoint`), both reading the same text.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why the metrics endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("--metrics {addr}")]
pub struct MetricsError {
    /// The address given.
    pub addr: String,
    /// What bind(2) (or the address parser) said.
    #[source]
    pub source: std::io::Error,
}

/// A running `/metrics` endpoint.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
}

impl MetricsServer {
    /// Binds `addr` (`HOST:PORT`; port 0 picks one) and serves `text` (which its owner sets,
    /// and others may read) from a background thread.
    pub fn serving(addr: &str, text: Arc<Mutex<String>>) -> Result<MetricsServer, MetricsError> {
        let err = |source| MetricsError {
            addr: addr.to_owned(),
            source,
        };
        let listener = TcpListener::bind(addr).map_err(err)?;
        let local = listener.local_addr().map_err(err)?;
        std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let body = text.lock().map(|t| t.clone()).unwrap_or_default();
                    // A client that misbehaves only loses its own answer.
                    let _ = answer(stream, &body);
                }
            })
            .map_err(err)?;
        Ok(MetricsServer { addr: local })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A tool's metrics outputs: `--metrics` and (feature `otlp`) `--otlp-endpoint`, fed the
/// same exposition text by [`Metrics::set`].
#[derive(Debug)]
pub struct Metrics {
    tool: String,
    text: Arc<Mutex<String>>,
    server: Option<MetricsServer>,
    #[cfg(feature = "otlp")]
    otlp: Option<crate::otlp::OtlpPusher>,
}

impl Metrics {
    /// Starts what the options ask for: `listen` (`--metrics ADDR`) and, with feature `otlp`,
    /// `common`'s `--otlp-endpoint`. `None` when neither is given.
    pub fn start(
        tool: &str,
        listen: Option<&str>,
        common: &crate::CommonArgs,
    ) -> Result<Option<Metrics>, crate::ToolError> {
        let text = Arc::new(Mutex::new(String::new()));
        let server = listen
            .map(|addr| MetricsServer::serving(addr, Arc::clone(&text)))
            .transpose()?;
        #[cfg(feature = "otlp")]
        let otlp = common
            .otlp
            .otlp_endpoint
            .as_deref()
            .map(|url| crate::otlp::OtlpPusher::start(tool, &common.otlp, url, Arc::clone(&text)))
            .transpose()?;
        #[cfg(feature = "otlp")]
        let any = server.is_some() || otlp.is_some();
        #[cfg(not(feature = "otlp"))]
        let any = {
            let _ = common;
            server.is_some()
        };
        Ok(any.then(|| Metrics {
            tool: tool.to_owned(),
            text,
            server,
            #[cfg(feature = "otlp")]
            otlp,
        }))
    }

    /// Replaces what the next scrape (and push) sends.
    pub fn set(&self, text: String) {
        if let Ok(mut t) = self.text.lock() {
            *t = text;
        }
    }

    /// The `--metrics` address, if serving.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(MetricsServer::local_addr)
    }

    /// Says on stderr where the metrics go ("NAME: serving metrics on http://ADDR/metrics",
    /// "NAME: pushing OTLP metrics to URL every S s").
    pub fn announce(&self) {
        if let Some(addr) = self.local_addr() {
            eprintln!("{}: serving metrics on http://{addr}/metrics", self.tool);
        }
        #[cfg(feature = "otlp")]
        if let Some(p) = &self.otlp {
            eprintln!("{}: pushing OTLP metrics to {}", self.tool, p.url());
        }
    }
}

/// Reads one HTTP request and answers `GET /metrics` with `body`, anything else with 404.
fn answer(stream: TcpStream, body: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Skip the headers, up to the empty line.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 && line.trim_end() != "" {
        line.clear();
    }
    let mut parts = request.split_whitespace();
    let ok = parts.next() == Some("GET")
        && parts
            .next()
            .is_some_and(|p| p.split('?').next() == Some("/metrics"));
    let (status, content) = if ok {
        ("200 OK", body)
    } else {
        ("404 Not Found", "not found; try /metrics\n")
    };
    let mut out = &stream;
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{content}",
        content.len()
    )?;
    out.flush()
}

/// A label value escaped for the exposition format (backslash, quote, newline).
pub fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `{a="x",b="y"}` from pairs (empty string for none).
pub fn labels(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Exposition text, family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Empty text.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// A family header: `# HELP` and `# TYPE` (`counter`, `gauge`, `histogram`).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &str, value: f64) {
        let _ = writeln!(self.text, "{name}{labels} {value}");
    }

    /// One histogram's samples: cumulative `_bucket` lines at each upper bound of
    /// `buckets` (`(le, count in that bucket)`, increasing `le`), `+Inf`, `_sum`, `_count`.
    pub fn histogram(
        &mut self,
        name: &str,
        pairs: &[(&str, String)],
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) {
        let mut cumulative = 0;
        for (le, n) in buckets {
            cumulative += n;
            let mut with_le = pairs.to_vec();
            with_le.push(("le", format!("{le}")));
            self.sample(
                &format!("{name}_bucket"),
                &labels(&with_le),
                cumulative as f64,
            );
        }
        let mut with_le = pairs.to_vec();
        with_le.push(("le", "+Inf".to_owned()));
        self.sample(&format!("{name}_bucket"), &labels(&with_le), count as f64);
        self.sample(&format!("{name}_sum"), &labels(pairs), sum);
        self.sample(&format!("{name}_count"), &labels(pairs), count as f64);
    }

    /// The text.
    pub fn finish(self) -> String {
        self.text
    }
}

/// Counts of events by label set, for the event tools' `--metrics`: one counter family.
#[derive(Debug, Clone)]
pub struct EventCounts {
    name: &'static str,
    help: &'static str,
    counts: std::collections::BTreeMap<Vec<(&'static str, String)>, u64>,
}

impl EventCounts {
    /// An empty family `name` (a counter, so it should end in `_total`).
    pub fn new(name: &'static str, help: &'static str) -> EventCounts {
        EventCounts {
            name,
            help,
            counts: std::collections::BTreeMap::new(),
        }
    }

    /// Counts one event with these labels.
    pub fn add(&mut self, labels: Vec<(&'static str, String)>) {
        *self.counts.entry(labels).or_insert(0) += 1;
    }

    /// The family as exposition text.
    pub fn render(&self) -> String {
        let mut e = Exposition::new();
        e.family(self.name, "counter", self.help);
        for (pairs, count) in &self.counts {
            e.sample(self.name, &labels(pairs), *count as f64);
        }
        e.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_inf() {
        let mut e = Exposition::new();
        e.family("x_seconds", "histogram", "X.");
        e.histogram(
            "x_seconds",
            &[("syscall", "read".into())],
            &[(0.5, 2), (1.0, 3)],
            2.5,
            5,
        );
        assert_eq!(
            e.finish(),
            "# HELP x_seconds X.\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{syscall=\"read\",le=\"0.5\"} 2\n\
             x_seconds_bucket{syscall=\"read\",le=\"1\"} 5\n\
             x_seconds_bucket{syscall=\"read\",le=\"+Inf\"} 5\n\
             x_seconds_sum{syscall=\"read\"} 2.5\n\
             x_seconds_count{syscall=\"read\"} 5\n"
        );
        assert_eq!(
            labels(&[("comm", "a\"b\\".into())]),
            "{comm=\"a\\\"b\\\\\"}"
        );
    }

    #[test]
    fn event_counts_group_by_labels() {
        let mut c = EventCounts::new("x_total", "X.");
        c.add(vec![("errno", "ENOENT".into())]);
        c.add(vec![("errno", "ENOENT".into())]);
        c.add(vec![("errno", String::new())]);
        assert_eq!(
            c.render(),
            "# HELP x_total X.\n# TYPE x_total counter\nx_total{errno=\"\"} 1\nx_total{errno=\"ENOENT\"} 2\n"
        );
    }

    #[test]
    fn serves_the_text_at_metrics_and_404_elsewhere() {
        let text = Arc::new(Mutex::new("up 1\n".to_owned()));
        let server = MetricsServer::serving("127.0.0.1:0", text).unwrap();
        let get = |path: &str| {
            let mut s = TcpStream::connect(server.local_addr()).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let ok = get("/metrics");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nup 1\n"), "{ok}");
        assert!(get("/").starts_with("HTTP/1.1 404"));
        let err = MetricsServer::serving("not an address", Arc::default()).unwrap_err();
        let report = bpfkit::Report(&err).to_string();
        assert!(report.starts_with("--metrics not an address: "), "{report}");
    }
}
