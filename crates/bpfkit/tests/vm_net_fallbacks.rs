//! Networking attach paths that differ by kernel, on the kernel-matrix VM's loopback
//! (`cargo xtask vm-test`, `BPFKIT_VM=1`): XDP through a bpf link where the kernel has XDP
//! links (5.9) and tc through tcx where the tcx probe finds it (6.6), else a netlink
//! `cls_bpf` filter on a clsact qdisc (5.10, 6.1). Either way the `net_counters` fixture
//! (loaded whole: CPUMAP/DEVMAP entry programs included) counts every UDP datagram sent to
//! its port, and nothing after the link is dropped. Where tc falls back to netlink, a
//! failing netlink attach reports the netlink error, not tcx's EINVAL. Outside the VM the
//! tests print `SKIP` (the host's loopback is shared; `attach_xdp`/`attach_tc` cover the
//! host in network namespaces).

mod common;

use std::net::{Ipv4Addr, UdpSocket};

use bpfkit::features::{self, Probe};
use bpfkit::loader::{Loader, Object};
use bpfkit::programs::tc::{self, TcAttachMethod, TcHook, TcOptions};
use bpfkit::programs::xdp::{self, XdpMode, XdpOptions};
use bpfkit_test_support::fixture;
use bpfkit_test_support::netns::{drain_udp, send_udp};
use common::FdCheck;

const PORT: u16 = 40_517;
const PACKETS: u32 = 20;
/// Slots of the fixture's `counts` map.
const XDP_COUNT: u32 = 0;
const TC_COUNT: u32 = 2;

fn in_vm(test: &str) -> bool {
    if std::env::var_os("BPFKIT_VM").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIP {test}: attaches to the kernel-matrix VM's loopback (BPFKIT_VM=1; run \
             `cargo xtask vm-test`); attach_xdp and attach_tc cover the host in netns"
        );
        return false;
    }
    true
}

fn load() -> Object {
    Loader::new()
        .set_global("udp_port", &PORT.to_ne_bytes())
        .load_file(fixture("net_counters"))
        .unwrap_or_else(|e| panic!("net_counters loads: {}", bpfkit::Report(&e)))
}

fn count(object: &Object, slot: u32) -> u64 {
    let mut value = [0u8; 8];
    assert!(object
        .map("counts")
        .expect("counts map")
        .lookup_bytes(&slot.to_ne_bytes(), &mut value, 0)
        .expect("lookup counts"));
    u64::from_ne_bytes(value)
}

/// Sends `PACKETS` datagrams to 127.0.0.1:`PORT` and returns how many arrived.
fn traffic() -> u32 {
    let receiver = UdpSocket::bind((Ipv4Addr::LOCALHOST, PORT)).expect("bind receiver");
    send_udp(Ipv4Addr::LOCALHOST, PORT, PACKETS);
    drain_udp(&receiver)
}

#[test]
fn xdp_on_loopback_counts_every_datagram_through_a_link_or_netlink() {
    if !in_vm("vm_net_fallbacks xdp") {
        return;
    }
    let fds = FdCheck::start();
    let object = load();
    let program = object.program("xdp_count").expect("xdp_count");
    let link = xdp::attach(
        program,
        "lo",
        &XdpOptions {
            mode: XdpMode::Generic,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("attach xdp to lo: {}", bpfkit::Report(&e)));
    println!("xdp on lo: attached as {}", link.kind());
    assert!(
        matches!(link.kind(), "bpf" | "xdp_netlink"),
        "{}",
        link.kind()
    );
    assert_eq!(traffic(), PACKETS, "XDP_PASS lets every datagram through");
    assert_eq!(count(&object, XDP_COUNT), u64::from(PACKETS));
    drop(link);
    assert_eq!(traffic(), PACKETS);
    assert_eq!(
        count(&object, XDP_COUNT),
        u64::from(PACKETS),
        "nothing counted after the link is dropped"
    );
    drop(object);
    fds.assert_no_leak();
}

#[test]
fn tc_on_loopback_uses_tcx_where_probed_else_cls_bpf_and_counts_every_datagram() {
    if !in_vm("vm_net_fallbacks tc") {
        return;
    }
    let fds = FdCheck::start();
    let object = load();
    let program = object.program("tc_count").expect("tc_count");
    let tcx = features::supported(Probe::TcxLink);
    let options = TcOptions {
        priority: 7,
        handle: 1,
        ..Default::default()
    };
    let link = tc::attach(program, "lo", TcHook::Ingress, &options)
        .unwrap_or_else(|e| panic!("attach tc to lo: {}", bpfkit::Report(&e)));
    assert_eq!(
        link.kind(),
        if tcx { "bpf" } else { "tc_netlink" },
        "tcx probe: {tcx}"
    );
    println!(
        "tc on lo: attached as {} ({})",
        link.kind(),
        if tcx {
            "tcx"
        } else {
            "cls_bpf: this kernel has no tcx links (6.6)"
        }
    );
    if !tcx {
        // The same priority and handle again: the netlink fallback fails with EEXIST, and
        // that is the error, not tcx's EINVAL.
        let err = tc::attach(program, "lo", TcHook::Ingress, &options)
            .expect_err("a second filter with the same priority and handle");
        let report = bpfkit::Report(&err).to_string();
        assert!(!report.contains("tcx"), "{report}");
        assert!(report.contains("File exists"), "{report}");
        let netlink_only = TcOptions {
            method: TcAttachMethod::Netlink,
            ..options
        };
        let direct = tc::attach(program, "lo", TcHook::Ingress, &netlink_only)
            .expect_err("the same through netlink directly");
        assert_eq!(report, bpfkit::Report(&direct).to_string());
    }
    assert_eq!(
        traffic(),
        PACKETS,
        "TC_ACT_UNSPEC lets every datagram through"
    );
    assert_eq!(count(&object, TC_COUNT), u64::from(PACKETS));
    drop(link);
    assert_eq!(traffic(), PACKETS);
    assert_eq!(
        count(&object, TC_COUNT),
        u64::from(PACKETS),
        "nothing counted after the link is dropped"
    );
    drop(object);
    fds.assert_no_leak();
}
