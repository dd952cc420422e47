//! The xdpfilter benchmark (`../bench/README.md`): the Rust XDP program against the same
//! logic in C (`../bench/xdpfilter.bpf.c`, clang-19 -O2 -mcpu=v3), both loaded by bpfkit and
//! filled with the same rules by the same userspace code. Prints, in one run:
//!   1. verified instructions and xlated instructions of each program;
//!   2. packets/s through `BPF_PROG_TEST_RUN` with `repeat` (the kernel's average time per
//!      run) for three frames, medians over rounds, the two sides interleaved;
//!   3. packets/s through a veth pair between two network namespaces (native XDP on the
//!      receiving veth, a UDP sender in the other namespace), medians over rounds.
//!
//! Needs root and clang-19. `cargo run --release -p xdpfilter --example xdpfilter_bench -- [ROUNDS]
//! [REPEAT] [VETH_PACKETS]` (defaults 7, 1000000, 300000). Not a test.
//! `XDPFILTER_RUST_OBJECT=PATH` benchmarks another build of the Rust object instead of the
//! embedded one (e.g. one built with other `llc` flags).

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bpfkit::loader::{Loader, TestRun};
use bpfkit::programs::xdp::{self, XdpAttachMethod, XdpMode, XdpOptions};
use bpfkit_test_support::netns::{VethPair, VETH_A};
use xdpfilter::{Action, Cidr, Filter, Proto, RuleSpec};

fn multiarch() -> String {
    let out = Command::new("gcc")
        .arg("-print-multiarch")
        .output()
        .expect("gcc runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn build_c(dir: &Path) -> Vec<u8> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/xdpfilter.bpf.c");
    let object = dir.join("xdpfilter-c.bpf.o");
    let out = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3"])
        .arg(format!("-I/usr/include/{}", multiarch()))
        .arg("-c")
        .arg(&source)
        .arg("-o")
        .arg(&object)
        .output()
        .expect("clang-19 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&object).expect("read C object")
}

fn rule(
    action: Action,
    src: &str,
    dst: &str,
    proto: Option<Proto>,
    dport: Option<u16>,
) -> RuleSpec {
    let cidr = |s: &str| (!s.is_empty()).then(|| s.parse::<Cidr>().expect("CIDR"));
    RuleSpec {
        action,
        src: cidr(src),
        dst: cidr(dst),
        proto,
        dport,
    }
}

/// Eight rules mixing families, prefixes, protocols and ports.
fn rules() -> Vec<RuleSpec> {
    use Action::*;
    use Proto::*;
    vec![
        rule(Drop, "192.0.2.0/24", "", None, None),
        rule(Drop, "", "2001:db8::/32", Some(Tcp), None),
        rule(Count, "", "", Some(Icmp), None),
        rule(Drop, "10.201.0.0/16", "", Some(Tcp), Some(22)),
        rule(
            Count,
            "10.201.0.0/24",
            "10.201.0.1/32",
            Some(Udp),
            Some(4000),
        ),
        rule(Count, "fd00:201::/64", "", Some(Udp), Some(4000)),
        rule(Drop, "", "", Some(Udp), Some(53)),
        rule(Drop, "", "10.0.0.0/8", Some(Udp), Some(9)),
    ]
}

/// Ethernet + IPv4 + UDP + 16 bytes.
fn frame_v4(dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 8 + 16];
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&44u16.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 201, 0, 2]);
    f[30..34].copy_from_slice(&[10, 201, 0, 1]);
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[38..40].copy_from_slice(&24u16.to_be_bytes());
    f
}

/// Ethernet + IPv6 + UDP + 16 bytes.
fn frame_v6(dport: u16) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + 8 + 16];
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    f[14] = 0x60;
    f[18..20].copy_from_slice(&24u16.to_be_bytes());
    f[20] = 17;
    f[21] = 64;
    let src: std::net::Ipv6Addr = "fd00:201::2".parse().unwrap();
    let dst: std::net::Ipv6Addr = "fd00:201::1".parse().unwrap();
    f[22..38].copy_from_slice(&src.octets());
    f[38..54].copy_from_slice(&dst.octets());
    f[54..56].copy_from_slice(&40000u16.to_be_bytes());
    f[56..58].copy_from_slice(&dport.to_be_bytes());
    f[58..60].copy_from_slice(&24u16.to_be_bytes());
    f
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

struct Side {
    name: &'static str,
    filter: Filter,
}

impl Side {
    fn new(name: &'static str, elf: &[u8]) -> Self {
        // Only the XDP program: the benchmark runs nothing else.
        let object = Loader::new()
            .only_programs(&["xdpfilter"])
            .load(elf, name)
            .unwrap_or_else(|e| panic!("load {name}: {e}"));
        let filter = Filter::from_object(object);
        for r in rules() {
            filter.add(&r).expect("add rule");
        }
        Side { name, filter }
    }

    fn program(&self) -> &bpfkit::loader::Program {
        let object = self.filter.object().expect("a loaded object");
        object.program("xdpfilter").expect("program xdpfilter")
    }

    /// Packets/s of one test run with `repeat`, and the program's verdict.
    fn test_run(&self, frame: &[u8], repeat: u32) -> (f64, u32) {
        let out = self
            .program()
            .test_run(&TestRun {
                data: frame,
                repeat,
                ..Default::default()
            })
            .expect("BPF_PROG_TEST_RUN");
        (1e9 / out.duration.as_nanos().max(1) as f64, out.retval)
    }

    fn packets(&self, id: u32) -> u64 {
        self.filter
            .stats()
            .expect("stats")
            .iter()
            .find(|s| s.id == id)
            .map_or(0, |s| s.packets)
    }
}

/// Sends `count` datagrams to `to` as fast as one socket can from the current thread.
fn blast(to: SocketAddr, count: u32) {
    let socket = UdpSocket::bind("0.0.0.0:0").expect("bind");
    socket.connect(to).expect("connect");
    let payload = [0u8; 16];
    for _ in 0..count {
        // ENOBUFS can happen under load; the count is read from the rule's counters.
        let _ = socket.send(&payload);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: u32| args.get(i).map_or(d, |s| s.parse().expect("number"));
    let (rounds, repeat, veth_packets) = (arg(1, 7), arg(2, 1_000_000), arg(3, 300_000));
    let dir = std::env::temp_dir().join(format!("xdpfilter-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let c_elf = build_c(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let rust_elf = match std::env::var_os("XDPFILTER_RUST_OBJECT") {
        Some(path) => std::fs::read(&path).expect("read XDPFILTER_RUST_OBJECT"),
        None => xdpfilter::skel::OBJECT.to_vec(),
    };
    let sides = [
        Side::new("xdpfilter", &rust_elf),
        Side::new("xdpfilter_c", &c_elf),
    ];

    println!("## Verifier");
    for s in &sides {
        let info = s.program().info().expect("prog info");
        println!(
            "{:<12} verified_insns {:>5}  xlated insns {:>4}  jited bytes {:>5}",
            if s.name == "xdpfilter" { "Rust" } else { "C" },
            info.verified_insns,
            info.xlated_prog_len / 8,
            info.jited_prog_len
        );
    }

    println!("\n## BPF_PROG_TEST_RUN, repeat {repeat}, median of {rounds} rounds (Mpps)");
    let frames = [
        ("IPv4 UDP :4000 -> rule 4 count", frame_v4(4000)),
        ("IPv6 UDP :4000 -> rule 5 count", frame_v6(4000)),
        ("IPv4 UDP :5000 -> no rule", frame_v4(5000)),
    ];
    for (label, frame) in &frames {
        let mut pps = [Vec::new(), Vec::new()];
        let mut verdicts = [0, 0];
        for round in 0..rounds {
            // Alternate which side runs first.
            for k in 0..2 {
                let i = (k + round as usize) % 2;
                let (p, v) = sides[i].test_run(frame, repeat);
                pps[i].push(p);
                verdicts[i] = v;
            }
        }
        assert_eq!(verdicts[0], verdicts[1], "{label}: same verdict");
        let (r, c) = (median(pps[0].clone()), median(pps[1].clone()));
        println!(
            "{label:<32} Rust {:>7.2}  C {:>7.2}  Rust/C {:.3}",
            r / 1e6,
            c / 1e6,
            r / c
        );
    }

    println!("\n## veth pair, native XDP on {VETH_A}, {veth_packets} UDP datagrams to :53 (rule 6 drop), median of {rounds} rounds (kpps)");
    let pair = VethPair::new("xdpf-bench");
    let to = SocketAddr::new(pair.addr_a.into(), 53);
    let mut pps = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for k in 0..2 {
            let i = (k + round as usize) % 2;
            let side = &sides[i];
            let link = pair.a.run(|| {
                let options = XdpOptions {
                    mode: XdpMode::Driver,
                    method: XdpAttachMethod::Link,
                    ..Default::default()
                };
                xdp::attach(side.program(), VETH_A, &options).expect("attach")
            });
            let before = side.packets(6);
            let start = Instant::now();
            pair.b.run(|| blast(to, veth_packets));
            // Wait until the receive side has seen what was sent (or 2 s of silence).
            let mut last = (side.packets(6), Instant::now());
            loop {
                let n = side.packets(6);
                if n - before >= u64::from(veth_packets)
                    || last.1.elapsed() > Duration::from_secs(2)
                {
                    break;
                }
                if n != last.0 {
                    last = (n, Instant::now());
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let elapsed = start.elapsed().as_secs_f64();
            let seen = side.packets(6) - before;
            drop(link);
            pps[i].push(seen as f64 / elapsed);
            if seen != u64::from(veth_packets) {
                println!(
                    "  ({} round {round}: {seen} of {veth_packets} counted)",
                    side.name
                );
            }
        }
    }
    let (r, c) = (median(pps[0].clone()), median(pps[1].clone()));
    println!(
        "{:<32} Rust {:>7.1}  C {:>7.1}  Rust/C {:.3}",
        "IPv4 UDP :53 -> rule 6 drop",
        r / 1e3,
        c / 1e3,
        r / c
    );
}
