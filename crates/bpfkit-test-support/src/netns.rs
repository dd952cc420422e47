//! Network namespaces for kernel tests: a pair of namespaces joined by a veth pair, with
//! addresses that exist only inside them; code and commands run inside either one. The
//! namespaces (and so the veths) are deleted when the pair is dropped, on every exit path
//! including a failing assertion.
//!
//! ```no_run
//! let pair = bpfkit_test_support::netns::VethPair::new("doc");
//! let receiver = pair.a.run(|| std::net::UdpSocket::bind((pair.addr_a, 4000)).unwrap());
//! pair.b.run(|| bpfkit_test_support::netns::send_udp(pair.addr_a, 4000, 10));
//! assert_eq!(bpfkit_test_support::netns::drain_udp(&receiver), 10);
//! ```

use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A named network namespace (`ip netns add`), deleted on drop.
#[derive(Debug)]
pub struct Netns {
    /// `bpfkit-<pid>-<tag>`.
    pub name: String,
}

impl Netns {
    /// Creates `bpfkit-<pid>-<tag>` with loopback up and IPv6 off (no neighbour discovery
    /// or router solicitations: the only traffic is the test's). Panics if `ip` fails.
    pub fn new(tag: &str) -> Self {
        let name = format!("bpfkit-{}-{tag}", std::process::id());
        // A namespace left by a killed earlier run of this pid would make `add` fail.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Self { name };
        ns.run(|| {
            for conf in ["all", "default"] {
                let path = format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6");
                // Kernels without IPv6 have no such file; nothing to turn off then.
                let _ = std::fs::write(path, "1");
            }
        });
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <name> ARGS`; panics on failure.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Runs `program ARGS` inside the namespace (`ip netns exec`).
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .expect("ip netns exec runs")
    }

    /// Runs `f` on a thread that entered the namespace: sockets it creates, interface names
    /// and indexes it resolves and bpf attachments by ifindex it makes are the namespace's.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                // SAFETY: setns(2) on this thread only, with a namespace fd we hold open.
                let ret = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(ret, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// The interface's index inside the namespace.
    pub fn ifindex(&self, interface: &str) -> u32 {
        let c = std::ffi::CString::new(interface).expect("no NUL in interface name");
        self.run(|| {
            // SAFETY: a NUL-terminated string live for the call.
            let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
            assert_ne!(index, 0, "{interface} in {}", self.name);
            index
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip runs (apt package iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair: `veth-a` (10.201.0.1/24) in `a`, `veth-b`
/// (10.201.0.2/24) in `b`, both up, with static neighbour entries so no ARP is needed.
#[derive(Debug)]
pub struct VethPair {
    /// The first namespace.
    pub a: Netns,
    /// The second namespace.
    pub b: Netns,
    /// The address of `veth-a`.
    pub addr_a: Ipv4Addr,
    /// The address of `veth-b`.
    pub addr_b: Ipv4Addr,
}

/// The interface name in namespace `a`.
pub const VETH_A: &str = "veth-a";
/// The interface name in namespace `b`.
pub const VETH_B: &str = "veth-b";

impl VethPair {
    /// Creates both namespaces and the veth pair.
    pub fn new(tag: &str) -> Self {
        let a = Netns::new(&format!("{tag}-a"));
        let b = Netns::new(&format!("{tag}-b"));
        a.ip(&[
            "link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B, "netns", &b.name,
        ]);
        let pair = Self {
            a,
            b,
            addr_a: Ipv4Addr::new(10, 201, 0, 1),
            addr_b: Ipv4Addr::new(10, 201, 0, 2),
        };
        let mac_a = pair.mac(&pair.a, VETH_A);
        let mac_b = pair.mac(&pair.b, VETH_B);
        for (ns, dev, addr, peer, peer_mac) in [
            (&pair.a, VETH_A, pair.addr_a, pair.addr_b, &mac_b),
            (&pair.b, VETH_B, pair.addr_b, pair.addr_a, &mac_a),
        ] {
            ns.ip(&["addr", "add", &format!("{addr}/24"), "dev", dev]);
            ns.ip(&["link", "set", dev, "up"]);
            ns.ip(&[
                "neigh",
                "replace",
                &peer.to_string(),
                "lladdr",
                peer_mac,
                "dev",
                dev,
                "nud",
                "permanent",
            ]);
        }
        pair
    }

    /// Turns IPv6 on in both namespaces (they start with it off) and gives the veths
    /// `fd00:201::1/64` (`a`) and `fd00:201::2/64` (`b`), without duplicate address
    /// detection and with static neighbour entries, so they are usable at once. Returns
    /// (address of `veth-a`, address of `veth-b`). Router solicitations and MLD reports
    /// then flow too: tests count only their own traffic.
    pub fn enable_ipv6(&self) -> (Ipv6Addr, Ipv6Addr) {
        let addr_a: Ipv6Addr = "fd00:201::1".parse().expect("valid address");
        let addr_b: Ipv6Addr = "fd00:201::2".parse().expect("valid address");
        let mac_a = self.mac(&self.a, VETH_A);
        let mac_b = self.mac(&self.b, VETH_B);
        for (ns, dev, addr, peer, peer_mac) in [
            (&self.a, VETH_A, addr_a, addr_b, &mac_b),
            (&self.b, VETH_B, addr_b, addr_a, &mac_a),
        ] {
            ns.run(|| {
                for conf in ["all", "default", dev] {
                    let path = format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6");
                    std::fs::write(&path, "0").unwrap_or_else(|e| panic!("{path}: {e}"));
                }
            });
            ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{addr}/64"),
                "dev",
                dev,
                "nodad",
            ]);
            ns.ip(&[
                "-6",
                "neigh",
                "replace",
                &peer.to_string(),
                "lladdr",
                peer_mac,
                "dev",
                dev,
                "nud",
                "permanent",
            ]);
        }
        (addr_a, addr_b)
    }

    fn mac(&self, ns: &Netns, dev: &str) -> String {
        let out = ns.exec("cat", &[&format!("/sys/class/net/{dev}/address")]);
        assert!(out.status.success(), "reading {dev}'s address");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// Sends `count` UDP datagrams of 16 bytes to `to:port` from the calling thread's namespace
/// (call it inside [`Netns::run`]). Bounded: at most `count` sends.
pub fn send_udp(to: Ipv4Addr, port: u16, count: u32) {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind sender");
    for i in 0..count {
        let payload = [i as u8; 16];
        socket.send_to(&payload, (to, port)).expect("send_to");
    }
}

/// Receives datagrams from `socket` until none arrives for 200 ms (at most 2 s in all) and
/// returns how many came.
pub fn drain_udp(socket: &UdpSocket) -> u32 {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("set timeout");
    let start = Instant::now();
    let mut n = 0;
    let mut buf = [0u8; 64];
    while start.elapsed() < Duration::from_secs(2) {
        match socket.recv(&mut buf) {
            Ok(_) => n += 1,
            Err(_) => break,
        }
    }
    n
}
