//! LWT: an `lwt_xmit` program as the BPF encap of a route the attach creates in a network
//! namespace of the test; it sees exactly the datagrams sent along the route, and the
//! route is gone after drop.

mod common;

use std::net::Ipv4Addr;

use bpfkit::programs::lwt::{self, LwtOptions};
use bpfkit::programs::AttachError;
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

/// The route's rtnetlink request failing: the error is `AttachError::Netlink` with the
/// kernel's errno and extended-ack message (not flattened into text). A second route to the
/// same prefix is EEXIST; a route out of an interface index that names no interface is
/// ENODEV; a gateway no route reaches is ENETUNREACH with the kernel's message. The first
/// route stays, and is gone after drop.
#[test]
fn lwt_route_netlink_errors_keep_the_kernel_errno_and_message() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("lwt-nlerr");
        let object = load_net_counters(PORT);
        let program = object.program("lwt_count").unwrap();
        let options = LwtOptions {
            gateway: Some(pair.addr_a),
            ..Default::default()
        };
        let prefix = Ipv4Addr::new(10, 203, 0, 0);
        let link = pair
            .b
            .run(|| lwt::attach(program, prefix, 24, VETH_B, &options))
            .unwrap_or_else(|e| panic!("{}", bpfkit::Report(&e)));
        let netlink_error = |result: Result<bpfkit::links::Link, AttachError>| {
            let err = result.unwrap_err();
            let text = bpfkit::Report(&err).to_string();
            let AttachError::Netlink {
                operation, source, ..
            } = &err
            else {
                panic!("not a netlink error: {text}");
            };
            assert_eq!(*operation, "add BPF-encap route", "{text}");
            assert_eq!(source.request, "RTM_NEWROUTE encap bpf", "{text}");
            (err.errno(), source.message.clone(), text)
        };

        // The same prefix again, without `replace`.
        let (errno, _, text) = netlink_error(
            pair.b
                .run(|| lwt::attach(program, prefix, 24, VETH_B, &options)),
        );
        assert_eq!(errno, Some(libc::EEXIST), "{text}");
        assert!(
            text.starts_with(
                "program 'lwt_count': add BPF-encap route on 10.203.0.0/24 dev veth-b: netlink \
                 RTM_NEWROUTE encap bpf: File exists (os error 17)"
            ),
            "{text}"
        );

        // An interface index that names no interface.
        let (errno, _, text) = netlink_error(pair.b.run(|| {
            let missing = 0x7fff_fff0u32;
            lwt::attach(
                program,
                Ipv4Addr::new(10, 204, 0, 0),
                24,
                missing,
                &Default::default(),
            )
        }));
        assert_eq!(errno, Some(libc::ENODEV), "{text}");
        assert!(text.contains("dev ifindex 2147483632"), "{text}");

        // A gateway (TEST-NET-1, no packet is sent) that no route of the namespace reaches:
        // the kernel says why in its extended ack.
        let unreachable = LwtOptions {
            gateway: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..Default::default()
        };
        let (errno, message, text) = netlink_error(pair.b.run(|| {
            lwt::attach(
                program,
                Ipv4Addr::new(10, 205, 0, 0),
                24,
                VETH_B,
                &unreachable,
            )
        }));
        assert_eq!(errno, Some(libc::ENETUNREACH), "{text}");
        assert_eq!(
            message.as_deref(),
            Some("Nexthop has invalid gateway"),
            "{text}"
        );
        assert_eq!(
            text,
            "program 'lwt_count': add BPF-encap route on 10.205.0.0/24 dev veth-b: netlink \
             RTM_NEWROUTE encap bpf: Network is unreachable (os error 101) (Nexthop has \
             invalid gateway)"
        );

        // The failed requests left the first route alone and added none.
        assert_eq!(routes(&pair.b, "10.203.0.0/24").len(), 1);
        assert!(routes(&pair.b, "10.204.0.0/24").is_empty());
        assert!(routes(&pair.b, "10.205.0.0/24").is_empty());
        drop(link);
        assert!(routes(&pair.b, "10.203.0.0/24").is_empty());
    }
    fds.assert_no_leak();
}
