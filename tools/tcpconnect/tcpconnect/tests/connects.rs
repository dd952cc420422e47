//! Runs `tcpconnect` (as root, against the running kernel) while the test connects to
//! listeners it opens on 127.0.0.1 and ::1: each connect's pid, command, addresses and
//! ports are reported; `--port` keeps one destination port.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};

use serde_json::Value;
use tool_common::testing;

fn start(extra: &[&str]) -> testing::Running {
    let pid = std::process::id().to_string();
    let mut args = vec!["--json", "--duration", "30", "--pid", &pid];
    args.extend_from_slice(extra);
    testing::start(env!("CARGO_BIN_EXE_tcpconnect"), &args)
}

/// The calling thread's command name (test threads are named after their test).
fn comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .expect("comm")
        .trim()
        .to_owned()
}

/// Events to `port` (the listener's).
fn to_port(events: &[Value], port: u16) -> Vec<&Value> {
    events.iter().filter(|e| e["dport"] == port).collect()
}

#[test]
fn ipv4_and_ipv6_connects_have_addresses_and_ports() {
    let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("listen on 127.0.0.1");
    let v6 = match TcpListener::bind((Ipv6Addr::LOCALHOST, 0)) {
        Ok(l) => Some(l),
        Err(e) => {
            println!("SKIP the IPv6 half: no ::1 ({e})");
            None
        }
    };
    let snoop = start(&[]);
    let port4 = v4.local_addr().unwrap().port();
    let c4 = TcpStream::connect(v4.local_addr().unwrap()).expect("connect v4");
    let c6 = v6
        .as_ref()
        .map(|l| TcpStream::connect(l.local_addr().unwrap()).expect("connect v6"));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let events = testing::json_lines(&testing::stop(snoop));

    let ours = to_port(&events, port4);
    assert_eq!(ours.len(), 1, "{events:#?}");
    let e = ours[0];
    assert_eq!(e["pid"], std::process::id());
    assert_eq!(e["comm"], comm());
    assert_eq!(e["ip"], 4);
    assert_eq!(e["saddr"], "127.0.0.1");
    assert_eq!(e["daddr"], "127.0.0.1");
    drop(c4);

    if let (Some(l), Some(c)) = (v6, c6) {
        let port6 = l.local_addr().unwrap().port();
        let ours = to_port(&events, port6);
        assert_eq!(ours.len(), 1, "{events:#?}");
        assert_eq!(ours[0]["ip"], 6);
        assert_eq!(ours[0]["saddr"], "::1");
        assert_eq!(ours[0]["daddr"], "::1");
        assert_eq!(ours[0]["pid"], std::process::id());
        drop(c);
    }
}

/// A socket bound to a known source port before connecting shows that port.
#[test]
fn a_bound_source_port_is_reported() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("listen");
    let snoop = start(&[]);
    // SAFETY: plain socket calls on a fresh fd with valid sockaddr buffers; closed below.
    let (fd, sport) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0
        );
        let mut bound: libc::sockaddr_in = std::mem::zeroed();
        let mut blen = len;
        assert_eq!(
            libc::getsockname(fd, (&mut bound as *mut libc::sockaddr_in).cast(), &mut blen),
            0
        );
        let SocketAddr::V4(target) = listener.local_addr().unwrap() else {
            unreachable!()
        };
        addr.sin_port = target.port().to_be();
        assert_eq!(
            libc::connect(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0
        );
        (fd, u16::from_be(bound.sin_port))
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    let events = testing::json_lines(&testing::stop(snoop));
    // SAFETY: the fd opened above, closed once.
    unsafe { libc::close(fd) };
    let ours = to_port(&events, listener.local_addr().unwrap().port());
    assert_eq!(ours.len(), 1, "{events:#?}");
    assert_eq!(ours[0]["sport"], sport);
}

#[test]
fn port_option_keeps_only_that_destination_port() {
    let wanted = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("listen");
    let other = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("listen");
    let port = wanted.local_addr().unwrap().port();
    let snoop = start(&["--port", &port.to_string()]);
    let _a = TcpStream::connect(other.local_addr().unwrap()).expect("connect other");
    let _b = TcpStream::connect(wanted.local_addr().unwrap()).expect("connect wanted");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let events = testing::json_lines(&testing::stop(snoop));
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["dport"], port);
}

#[test]
fn metrics_scrape_counts_the_connects() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("listen");
    let port = listener.local_addr().unwrap().port();
    let mut snoop = start(&["--port", &port.to_string(), "--metrics", "127.0.0.1:0"]);
    let addr = testing::metrics_addr(&snoop.stderr_line());
    let _a = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    let _b = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
    std::thread::sleep(std::time::Duration::from_millis(400));
    let text = testing::scrape(&addr);
    let events = testing::json_lines(&testing::stop(snoop));
    assert_eq!(events.len(), 2, "{events:#?}");

    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("a valid exposition");
    assert_eq!(scrape.samples.len(), 2, "{text}");
    let lost = &scrape.samples[1];
    assert_eq!(lost.metric, "tcpconnect_lost_events_total");
    assert_eq!(lost.value, prometheus_parse::Value::Counter(0.0));
    let sample = &scrape.samples[0];
    assert_eq!(sample.metric, "tcpconnect_connects_total");
    assert_eq!(sample.value, prometheus_parse::Value::Counter(2.0));
    assert_eq!(sample.labels.get("ip"), Some("4"));
    assert_eq!(sample.labels.get("daddr"), Some("127.0.0.1"));
    assert_eq!(sample.labels.get("dport"), Some(port.to_string().as_str()));
}
