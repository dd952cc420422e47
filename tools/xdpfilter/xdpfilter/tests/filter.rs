//! xdpfilter end to end in a pair of network namespaces (`veth-a` receives, `veth-b`
//! sends): the binary attaches, rules change while the filter stays attached, the receiver
//! counts what arrived and `stats --json` must equal what was sent. Needs root.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bpfkit_test_support::netns::{drain_udp, Netns, VethPair, VETH_A};
use serde_json::Value;

/// Runs the binary inside `ns`'s network namespace only (the mount namespace, and so the
/// host's bpffs, stays).
fn xdpfilter(ns: &Netns, args: &[&str]) -> Output {
    Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", ns.name))
        .arg(env!("CARGO_BIN_EXE_xdpfilter"))
        .args(args)
        .output()
        .expect("nsenter runs (util-linux)")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "xdpfilter failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A pin root on the host's bpffs, detached and removed on every exit path.
struct Pins<'a> {
    ns: &'a Netns,
    iface: &'a str,
    root: PathBuf,
}

impl<'a> Pins<'a> {
    fn new(ns: &'a Netns, iface: &'a str, tag: &str) -> Self {
        let root = PathBuf::from(format!(
            "/sys/fs/bpf/bpfkit-xdpf-{}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        Self { ns, iface, root }
    }

    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let root = self.root.to_str().expect("utf-8 path");
        let mut args = vec![command, "--iface", self.iface, "--pin-root", root];
        args.extend_from_slice(extra);
        xdpfilter(self.ns, &args)
    }

    fn add(&self, rule: &[&str]) -> u32 {
        let out = ok(self.run("add", rule));
        out.trim()
            .parse()
            .unwrap_or_else(|_| panic!("add printed {out:?}"))
    }

    /// (packets, bytes) of rule `id` from `stats --json`.
    fn stats(&self, id: u32) -> (u64, u64) {
        let doc: Value = serde_json::from_str(&ok(self.run("stats", &["--json"]))).expect("JSON");
        let rule = doc
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("rule {id} in {doc}"));
        (
            rule["packets"].as_u64().unwrap(),
            rule["bytes"].as_u64().unwrap(),
        )
    }
}

impl Drop for Pins<'_> {
    fn drop(&mut self) {
        if self.root.exists() {
            let _ = self.run("detach", &[]);
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn send(ns: &Netns, to: SocketAddr, count: u32) {
    ns.run(|| {
        let any: SocketAddr = match to.ip() {
            IpAddr::V4(_) => "0.0.0.0:0".parse().unwrap(),
            IpAddr::V6(_) => "[::]:0".parse().unwrap(),
        };
        let socket = UdpSocket::bind(any).expect("bind sender");
        for i in 0..count {
            socket.send_to(&[i as u8; 16], to).expect("send_to");
        }
    })
}

fn bind(ns: &Netns, at: SocketAddr) -> UdpSocket {
    ns.run(|| UdpSocket::bind(at).expect("bind receiver"))
}

fn link_exists(id: u64) -> bool {
    Command::new("bpftool")
        .args(["link", "show", "id", &id.to_string()])
        .output()
        .expect("bpftool runs")
        .status
        .success()
}

/// Frame sizes of a 16-byte UDP payload: Ethernet + IP + UDP + 16.
const V4_FRAME: u64 = 14 + 20 + 8 + 16;
const V6_FRAME: u64 = 14 + 40 + 8 + 16;

fn filter_drops_exactly_the_matching_packets(tag: &str, attach: &[&str]) {
    let pair = VethPair::new(tag);
    let (a6, _b6) = pair.enable_ipv6();
    let pins = Pins::new(&pair.a, VETH_A, tag);
    ok(pins.run("attach", attach));
    let list: Value = serde_json::from_str(&ok(pins.run("list", &["--json"]))).expect("JSON");
    let link_id = list["link_id"].as_u64().expect("link id");
    assert!(link_exists(link_id), "link {link_id} visible to bpftool");
    assert_eq!(list["rules"], serde_json::json!([]));

    let a = |port| SocketAddr::new(pair.addr_a.into(), port);
    let a_v6 = |port| SocketAddr::new(a6.into(), port);
    let (r4000, r4001) = (bind(&pair.a, a(4000)), bind(&pair.a, a(4001)));
    let r6 = bind(&pair.a, a_v6(4000));

    // No rules: everything arrives.
    send(&pair.b, a(4000), 20);
    assert_eq!(drain_udp(&r4000), 20);

    // Background traffic the whole time rules change: IPv6 UDP to port 4003, which no
    // rule below matches, one datagram per millisecond; every one must arrive.
    let background = bind(&pair.a, a_v6(4003));
    let stop = AtomicBool::new(false);
    let (sent, received) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            pair.b.run(|| {
                let socket = UdpSocket::bind("[::]:0").expect("bind sender");
                let mut sent = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    socket.send_to(&[0u8; 16], a_v6(4003)).expect("send_to");
                    sent += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                sent
            })
        });
        let receiver = s.spawn(|| {
            let mut buf = [0u8; 64];
            let mut n = 0u32;
            background
                .set_read_timeout(Some(Duration::from_millis(300)))
                .expect("timeout");
            loop {
                match background.recv(&mut buf) {
                    Ok(_) => n += 1,
                    Err(_) if stop.load(Ordering::Relaxed) => break n,
                    Err(_) => {}
                }
            }
        });
        // Rule 0 counts UDP to port 4000 (either family) and passes it; rule 1 drops
        // everything to 10.201.0.1 from 10.201.0.0/24. IPv4 to port 4000 matches both: the
        // lower id (0) decides.
        let count = pins.add(&["--action", "count", "--proto", "udp", "--dport", "4000"]);
        let drop = pins.add(&[
            "--action",
            "drop",
            "--src",
            "10.201.0.0/24",
            "--dst",
            "10.201.0.1/32",
        ]);
        assert_eq!((count, drop), (0, 1));
        send(&pair.b, a(4000), 30);
        send(&pair.b, a(4001), 25);
        send(&pair.b, a_v6(4000), 10);
        assert_eq!(
            drain_udp(&r4000),
            30,
            "rule 0 (count) decides IPv4 port 4000"
        );
        assert_eq!(drain_udp(&r4001), 0, "rule 1 drops IPv4 port 4001");
        assert_eq!(drain_udp(&r6), 10, "rule 0 counts IPv6 port 4000 too");
        assert_eq!(pins.stats(count), (40, 30 * V4_FRAME + 10 * V6_FRAME));
        assert_eq!(pins.stats(drop), (25, 25 * V4_FRAME));

        // Deleting rule 0 while rule 1 stays: IPv4 port 4000 now falls to rule 1 and is
        // dropped; IPv6 matches no rule (rule 1 is IPv4 only) and passes.
        ok(pins.run("del", &["0"]));
        send(&pair.b, a(4000), 10);
        send(&pair.b, a_v6(4000), 12);
        assert_eq!(drain_udp(&r4000), 0);
        assert_eq!(drain_udp(&r6), 12);
        assert_eq!(pins.stats(drop), (35, 35 * V4_FRAME));

        // IPv6: a drop rule for UDP from fd00:201::/64 to port 4000 takes the free id 0 (its
        // counters start at zero); IPv6 to another port passes.
        let drop6 = pins.add(&[
            "--action",
            "drop",
            "--src",
            "fd00:201::/64",
            "--proto",
            "udp",
            "--dport",
            "4000",
        ]);
        assert_eq!(drop6, 0);
        let r6_other = bind(&pair.a, a_v6(4002));
        send(&pair.b, a_v6(4000), 40);
        send(&pair.b, a_v6(4002), 7);
        assert_eq!(drain_udp(&r6), 0, "IPv6 rule drops");
        assert_eq!(drain_udp(&r6_other), 7, "IPv6 to another port passes");
        assert_eq!(pins.stats(drop6), (40, 40 * V6_FRAME));

        // Deleting the rest restores traffic.
        ok(pins.run("del", &["1"]));
        ok(pins.run("del", &["0"]));
        send(&pair.b, a(4001), 15);
        send(&pair.b, a_v6(4000), 15);
        assert_eq!(drain_udp(&r4001), 15);
        assert_eq!(drain_udp(&r6), 15);
        stop.store(true, Ordering::Relaxed);
        (
            sender.join().expect("sender"),
            receiver.join().expect("receiver"),
        )
    });
    assert!(sent > 0);
    assert_eq!(
        received, sent,
        "non-matching traffic flowed untouched while rules changed"
    );

    let list: Value = serde_json::from_str(&ok(pins.run("list", &["--json"]))).expect("JSON");
    assert_eq!(list["rules"], serde_json::json!([]));

    ok(pins.run("detach", &[]));
    assert!(
        !pins.root.join(pins.iface).exists(),
        "detach removes the pins"
    );
    assert!(!link_exists(link_id), "link {link_id} gone after detach");
}

#[test]
fn xdp_driver_mode_rules_drop_exactly_the_matching_packets_v4_and_v6() {
    filter_drops_exactly_the_matching_packets("xdpf-drv", &["--mode", "drv"]);
}

#[test]
fn tcx_ingress_rules_drop_exactly_the_matching_packets_v4_and_v6() {
    filter_drops_exactly_the_matching_packets("xdpf-tcx", &["--tcx"]);
}

#[test]
fn bad_input_gives_clear_errors() {
    let ns = Netns::new("xdpf-err");
    let pins = Pins::new(&ns, "lo", "err");
    let out = pins.run("add", &["--action", "drop", "--proto", "udp"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no xdpfilter pinned"),
        "{out:?}"
    );
    let out = xdpfilter(
        &ns,
        &[
            "add",
            "--iface",
            "lo",
            "--action",
            "drop",
            "--src",
            "10.0.0.0/33",
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("prefix length too long"),
        "{out:?}"
    );
    let out = pins.run("attach", &["--mode", "skb"]);
    let out2 = xdpfilter(
        &ns,
        &[
            "attach",
            "--iface",
            "nosuchif0",
            "--pin-root",
            pins.root.to_str().unwrap(),
        ],
    );
    // Generic XDP on lo works; the missing interface does not, and leaves no pins.
    ok(out);
    assert!(!out2.status.success());
    assert!(
        String::from_utf8_lossy(&out2.stderr).contains("nosuchif0"),
        "{out2:?}"
    );
    assert!(
        !pins.root.join("nosuchif0").exists(),
        "a failed attach leaves no pins"
    );
    let out = pins.run("add", &["--action", "drop", "--dport", "53"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--dport needs"),
        "{out:?}"
    );
}

/// `attach --token-path` hands the path to the loader: a path that is no delegating bpffs
/// fails the load with the token error naming it, and leaves no pins behind.
#[test]
fn attach_token_path_reaches_the_loader() {
    let ns = Netns::new("xdpf-tok");
    let pins = Pins::new(&ns, "lo", "tok");
    let missing = format!("/nonexistent-bpffs-{}", std::process::id());
    let out = pins.run("attach", &["--mode", "skb", "--token-path", &missing]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        stderr.contains(&missing) && stderr.to_lowercase().contains("token"),
        "{stderr}"
    );
    assert!(
        !pins.root.join("lo").exists(),
        "a failed attach leaves no pins"
    );
}
