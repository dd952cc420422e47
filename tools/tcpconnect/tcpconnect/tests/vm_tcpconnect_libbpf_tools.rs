//! Side by side with libbpf-tools' tcpconnect (Debian's `libbpf-tools`) on one workload the
//! test makes: ours (tracepoint `sock/inet_sock_set_state`, `--json --metrics`), theirs in
//! event mode and theirs in count mode (`-c`) run at once, all filtered to the test's pid,
//! while a thread connects to listeners on 127.0.0.1 and ::1 and to a refused port of each
//! family. Theirs attaches kprobes on `tcp_v4_connect`/`tcp_v6_connect`, which the host
//! kernel lacks: the kernel-matrix VMs run it (`cargo xtask vm-test --arch x86_64`, which
//! ships the host's binary with its libraries and names it in
//! `$BPFKIT_LIBBPF_TOOLS_TCPCONNECT`); elsewhere the test prints `SKIP` and returns.
//!
//! A refused connect is reported by both: ours sees its `TCP_CLOSE` → `TCP_SYN_SENT`
//! transition, theirs sees `tcp_v4_connect`/`tcp_v6_connect` return 0 (the SYN went out;
//! the RST comes later), so both count it.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tool_common::testing;

/// Where the VM suite names libbpf-tools' tcpconnect.
const THEIRS_ENV: &str = "BPFKIT_LIBBPF_TOOLS_TCPCONNECT";
/// Debian's path, used when the variable is unset.
const THEIRS_DEFAULT: &str = "/usr/sbin/tcpconnect";
/// Connects to each listener.
const CONNECTS: usize = 3;
/// The connecting thread's name (theirs prints 12 characters of it).
const WORKLOAD_COMM: &str = "sbs-connect";
/// The thread that scrapes our `--metrics`; its connect is seen by all three.
const SCRAPE_COMM: &str = "sbs-scrape";

/// One reported connect: pid, comm (12 characters, as theirs prints it), IP version,
/// source and destination address, destination port.
type Row = (u32, String, u8, IpAddr, IpAddr, u16);
/// One count-mode key: source and destination address, destination port.
type Flow = (IpAddr, IpAddr, u16);

/// Our binary: cargo's, else the VM image's `/bin/tcpconnect`.
fn ours() -> PathBuf {
    let built = Path::new(env!("CARGO_BIN_EXE_tcpconnect"));
    if built.exists() {
        built.to_owned()
    } else {
        PathBuf::from("/bin/tcpconnect")
    }
}

/// libbpf-tools' tcpconnect running with stdout on a pipe; killed if the test panics.
struct Theirs {
    child: Option<Child>,
}

impl Theirs {
    /// Starts `program args` and waits until it has attached: it installs its SIGINT handler
    /// just after attaching (before printing anything, and in count mode it prints only at
    /// exit), so SIGINT in `/proc/PID/status`' `SigCgt` says it is tracing.
    fn start(program: &Path, args: &[&str]) -> Theirs {
        let child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let mut theirs = Theirs { child: Some(child) };
        let pid = theirs.child.as_ref().map_or(0, Child::id);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = theirs.child.as_mut().and_then(|c| c.try_wait().ok()?) {
                let mut err = String::new();
                if let Some(mut e) = theirs.child.as_mut().and_then(|c| c.stderr.take()) {
                    let _ = e.read_to_string(&mut err);
                }
                theirs.child = None;
                panic!("{} {args:?} exited with {status}: {err}", program.display());
            }
            if catches_sigint(pid) {
                return theirs;
            }
            assert!(
                Instant::now() < deadline,
                "{} {args:?} did not attach within 60 s",
                program.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT (it prints what it has, or its counts, and exits 0): its stdout.
    fn stop(mut self) -> String {
        let mut child = self.child.take().expect("running");
        testing::interrupt(&child);
        let mut out = String::new();
        child
            .stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .expect("read its stdout");
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read its stderr");
        let status = child.wait().expect("wait");
        assert!(status.success(), "libbpf-tools tcpconnect: {status}: {err}");
        out
    }
}

impl Drop for Theirs {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether `pid` has a handler for SIGINT (bit 1 of `SigCgt`).
fn catches_sigint(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGINT - 1)) != 0)
}

/// A port nothing listens on (bound, then closed): a connect there is refused.
fn refused_port(ip: IpAddr) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind a port to free");
    listener.local_addr().expect("local addr").port()
}

/// The first 12 characters, as theirs prints a command (`%-12.12s`).
fn comm12(comm: &str) -> String {
    comm.chars().take(12).collect()
}

/// Theirs in event mode: `PID COMM IP SADDR DADDR DPORT` after its header.
fn their_rows(text: &str) -> BTreeMap<Row, usize> {
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] == "PID" {
            continue;
        }
        assert_eq!(f.len(), 6, "not a tcpconnect line: {line:?}");
        let row = (
            f[0].parse().expect("pid"),
            f[1].to_owned(),
            f[2].parse().expect("ip"),
            f[3].parse().expect("saddr"),
            f[4].parse().expect("daddr"),
            f[5].parse().expect("dport"),
        );
        *rows.entry(row).or_default() += 1;
    }
    rows
}

/// Theirs in count mode: `LADDR RADDR RPORT CONNECTS` after its header.
fn their_counts(text: &str) -> BTreeMap<Flow, usize> {
    let mut counts = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] == "LADDR" {
            continue;
        }
        assert_eq!(f.len(), 4, "not a tcpconnect -c line: {line:?}");
        let flow = (
            f[0].parse().expect("laddr"),
            f[1].parse().expect("raddr"),
            f[2].parse().expect("rport"),
        );
        let previous = counts.insert(flow, f[3].parse().expect("connects"));
        assert!(previous.is_none(), "{flow:?} twice: {text}");
    }
    counts
}

/// Ours: the JSON lines.
fn our_rows(events: &[serde_json::Value]) -> BTreeMap<Row, usize> {
    let mut rows = BTreeMap::new();
    for e in events {
        let row = (
            e["pid"].as_u64().expect("pid") as u32,
            comm12(e["comm"].as_str().expect("comm")),
            e["ip"].as_u64().expect("ip") as u8,
            e["saddr"].as_str().expect("saddr").parse().expect("saddr"),
            e["daddr"].as_str().expect("daddr").parse().expect("daddr"),
            e["dport"].as_u64().expect("dport") as u16,
        );
        *rows.entry(row).or_default() += 1;
    }
    rows
}

/// Rows summed per (saddr, daddr, dport), as count mode keys them.
fn flows(rows: &BTreeMap<Row, usize>) -> BTreeMap<Flow, usize> {
    let mut flows = BTreeMap::new();
    for ((_, _, _, saddr, daddr, dport), n) in rows {
        *flows.entry((*saddr, *daddr, *dport)).or_default() += n;
    }
    flows
}

#[test]
fn connects_and_counts_equal_libbpf_tools_tcpconnect_on_the_same_workload() {
    let test = "connects_and_counts_equal_libbpf_tools_tcpconnect_on_the_same_workload";
    let theirs_path = PathBuf::from(std::env::var(THEIRS_ENV).unwrap_or(THEIRS_DEFAULT.into()));
    if !theirs_path.exists() {
        println!(
            "SKIP {test}: {} is missing (Debian package libbpf-tools)",
            theirs_path.display()
        );
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP {test}: not root: loading BPF programs needs CAP_BPF");
        return;
    }
    if !bpfkit::programs::kprobe::kprobes_available() {
        println!(
            "SKIP {test}: the kernel has no kprobes (no kprobe PMU, no kprobe_events), which \
             libbpf-tools' tcpconnect attaches; run `cargo xtask vm-test --arch x86_64`"
        );
        return;
    }
    let localhost4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let localhost6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let v4 = TcpListener::bind((localhost4, 0)).expect("listen on 127.0.0.1");
    let v6 = TcpListener::bind((localhost6, 0)).expect("listen on ::1");
    let (addr4, addr6) = (v4.local_addr().unwrap(), v6.local_addr().unwrap());
    let refused4 = SocketAddr::new(localhost4, refused_port(localhost4));
    let refused6 = SocketAddr::new(localhost6, refused_port(localhost6));

    let pid = std::process::id();
    let pid_arg = pid.to_string();
    let mut snoop = testing::start(
        ours(),
        &[
            "--json",
            "--duration",
            "120",
            "--pid",
            &pid_arg,
            "--metrics",
            "127.0.0.1:0",
        ],
    );
    let metrics = testing::metrics_addr(&snoop.stderr_line());
    let metrics_port: u16 = metrics
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("metrics port");
    let theirs = Theirs::start(&theirs_path, &["-p", &pid_arg]);
    let theirs_count = Theirs::start(&theirs_path, &["-c", "-p", &pid_arg]);

    // The workload, on a thread with a known name.
    let kept = std::thread::Builder::new()
        .name(WORKLOAD_COMM.to_owned())
        .spawn(move || {
            let mut kept = Vec::new();
            for _ in 0..CONNECTS {
                kept.push(TcpStream::connect(addr4).expect("connect to 127.0.0.1"));
                kept.push(TcpStream::connect(addr6).expect("connect to ::1"));
            }
            for refused in [refused4, refused6] {
                let e = TcpStream::connect(refused).expect_err("a refused connect");
                assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{refused}");
            }
            kept
        })
        .expect("spawn the workload")
        .join()
        .expect("the workload");
    std::thread::sleep(Duration::from_millis(500));
    let scrape = std::thread::Builder::new()
        .name(SCRAPE_COMM.to_owned())
        .spawn(move || testing::scrape(&metrics))
        .expect("spawn the scrape")
        .join()
        .expect("the scrape");
    std::thread::sleep(Duration::from_millis(1000));
    let our_events = testing::json_lines(&testing::stop(snoop));
    let their_text = theirs.stop();
    let their_count_text = theirs_count.stop();
    drop(kept);
    let our_text: Vec<String> = our_events.iter().map(|e| e.to_string()).collect();
    println!(
        "ours:\n{}\ntheirs:\n{their_text}\ntheirs -c:{their_count_text}",
        our_text.join("\n")
    );

    // Every connect: the same rows, with the values the workload used.
    let connect = |comm: &str, ip: IpAddr, port: u16| -> Row {
        let version = if ip.is_ipv4() { 4 } else { 6 };
        (pid, comm.to_owned(), version, ip, ip, port)
    };
    let expected: BTreeMap<Row, usize> = [
        (connect(WORKLOAD_COMM, localhost4, addr4.port()), CONNECTS),
        (connect(WORKLOAD_COMM, localhost6, addr6.port()), CONNECTS),
        (connect(WORKLOAD_COMM, localhost4, refused4.port()), 1),
        (connect(WORKLOAD_COMM, localhost6, refused6.port()), 1),
        (connect(SCRAPE_COMM, localhost4, metrics_port), 1),
    ]
    .into_iter()
    .collect();
    let ours = our_rows(&our_events);
    let theirs = their_rows(&their_text);
    assert_eq!(ours, expected, "ours");
    assert_eq!(theirs, expected, "theirs");
    println!(
        "tcpconnect vs libbpf-tools tcpconnect: {} connects, {} rows equal (ports v4 {}, v6 {}, \
         refused {} and {}, metrics {})",
        expected.values().sum::<usize>(),
        expected.len(),
        addr4.port(),
        addr6.port(),
        refused4.port(),
        refused6.port(),
        metrics_port
    );

    // Count mode: theirs `-c` per (saddr, daddr, dport) equals ours summed the same way.
    let expected_flows = flows(&expected);
    let their_flows = their_counts(&their_count_text);
    assert_eq!(flows(&ours), expected_flows, "ours, summed");
    assert_eq!(their_flows, expected_flows, "theirs -c");

    // Ours' own aggregate (it has no count mode: its `-c` runs a command) is the --metrics
    // counter per (ip, daddr, dport). The scrape's own connect may be counted only after the
    // scrape was served, so the workload's four ports are compared.
    let parsed = prometheus_parse::Scrape::parse(scrape.lines().map(|l| Ok(l.to_owned())))
        .expect("a valid exposition");
    let mut our_metrics = BTreeMap::new();
    for sample in parsed
        .samples
        .iter()
        .filter(|s| s.metric == "tcpconnect_connects_total")
    {
        let prometheus_parse::Value::Counter(value) = sample.value else {
            panic!("not a counter: {sample:?}");
        };
        let daddr: IpAddr = sample.labels.get("daddr").expect("daddr").parse().unwrap();
        let dport: u16 = sample.labels.get("dport").expect("dport").parse().unwrap();
        let ip: u8 = sample.labels.get("ip").expect("ip").parse().unwrap();
        assert_eq!(ip, if daddr.is_ipv4() { 4 } else { 6 }, "{sample:?}");
        if dport != metrics_port {
            our_metrics.insert((daddr, dport), value as usize);
        }
    }
    let their_workload: BTreeMap<(IpAddr, u16), usize> = their_flows
        .iter()
        .filter(|((_, _, dport), _)| *dport != metrics_port)
        .map(|((_, daddr, dport), n)| ((*daddr, *dport), *n))
        .collect();
    assert_eq!(
        our_metrics, their_workload,
        "ours --metrics vs theirs -c:\n{scrape}"
    );
    assert_eq!(
        our_metrics,
        [
            ((localhost4, addr4.port()), CONNECTS),
            ((localhost6, addr6.port()), CONNECTS),
            ((localhost4, refused4.port()), 1),
            ((localhost6, refused6.port()), 1),
        ]
        .into_iter()
        .collect::<BTreeMap<_, _>>()
    );
    println!(
        "tcpconnect --metrics vs libbpf-tools tcpconnect -c: {} flows equal: {their_flows:?}",
        their_flows.len()
    );
}
