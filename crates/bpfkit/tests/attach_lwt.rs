//! LWT: an `lwt_xmit` program as the BPF encap of a route the attach creates in a network
//! namespace of the test; it sees exactly the datagrams sent along the route, and the
//! route is gone after drop.

mod common;

use std::net::Ipv4Addr;

use bpfkit::programs::lwt::{self, LwtOptions};
use bpfkit_test_support::netns::{send_udp, Netns, VethPair, VETH_B};
use common::{count, load_net_counters, FdCheck};

const PORT: u16 = 4795;

/// `ip -j route show PREFIX` in `ns`: the routes listed.
fn routes(ns: &Netns, prefix: &str) -> Vec<serde_json::Value> {
    let out = ns.exec("ip", &["-j", "-d", "route", "show", prefix]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn lwt_xmit_route_counts_every_datagram_routed_through_it() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("lwt");
        let object = load_net_counters(PORT);
        let program = object.program("lwt_count").unwrap();
        let options = LwtOptions {
            gateway: Some(pair.addr_a),
            ..Default::default()
        };
        let prefix = Ipv4Addr::new(10, 202, 0, 0);
        let link = pair
            .b
            .run(|| lwt::attach(program, prefix, 24, VETH_B, &options))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(link.kind(), "lwt_route");
        let listed = routes(&pair.b, "10.202.0.0/24");
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["gateway"], "10.201.0.1", "{listed:?}");
        assert!(
            listed[0].to_string().contains("lwt_count"),
            "the encap names the program: {listed:?}"
        );

        pair.b
            .run(|| send_udp(Ipv4Addr::new(10, 202, 0, 7), PORT, 15));
        assert_eq!(count(&object, 10), 15);
        // Traffic on other routes does not pass through it.
        pair.b.run(|| send_udp(pair.addr_a, PORT, 4));
        assert_eq!(count(&object, 10), 15);

        drop(link);
        assert!(routes(&pair.b, "10.202.0.0/24").is_empty());
    }
    fds.assert_no_leak();
}
