//! Netfilter links in a network namespace the test creates: a program on IPv4 LOCAL_IN
//! counts exactly the datagrams sent to the namespace; hook, family, priority and defrag
//! options reach the kernel; a reserved priority is a clear error.

mod common;

use std::net::UdpSocket;

use bpfkit::loader::{Loader, Object};
use bpfkit::programs::netfilter::{self, NetfilterFamily, NetfilterHook, NetfilterOptions};
use bpfkit::sys::uapi::BPF_LINK_TYPE_NETFILTER;
use bpfkit_test_support::fixture;
use bpfkit_test_support::netns::{drain_udp, send_udp, VethPair};
use common::{count, FdCheck};

const PORT: u16 = 4792;

fn load() -> Object {
    Loader::new()
        .load_file(fixture("net_netfilter"))
        .expect("net_netfilter loads")
}

#[test]
fn local_in_ipv4_link_counts_exactly_the_datagrams_sent_and_is_gone_after_drop() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("nf");
        let object = load();
        let program = object.program("nf_count").unwrap();
        let options = NetfilterOptions {
            family: NetfilterFamily::Ipv4,
            hook: NetfilterHook::LocalIn,
            priority: -100,
            defrag: false,
        };
        let link = pair
            .a
            .run(|| netfilter::attach(program, &options))
            .unwrap_or_else(|e| panic!("{e}"));
        let info = link.info().unwrap();
        assert_eq!(info.link_type, BPF_LINK_TYPE_NETFILTER);
        assert_eq!(info.prog_id, program.id().unwrap());
        assert!(common::link_listed(info.id));

        let receiver = pair.a.run(|| UdpSocket::bind((pair.addr_a, PORT)).unwrap());
        pair.b.run(|| send_udp(pair.addr_a, PORT, 30));
        assert_eq!(drain_udp(&receiver), 30);
        assert_eq!(count(&object, 0), 30, "every packet of the hook");
        assert_eq!(count(&object, 1), 30, "all of them IPv4");

        // The host's namespace is not hooked: traffic there is not counted.
        let local = UdpSocket::bind(("127.0.0.1", 0)).unwrap();
        local.send_to(b"x", local.local_addr().unwrap()).unwrap();
        assert_eq!(count(&object, 0), 30);

        drop(link);
        assert!(!common::link_listed(info.id));
        pair.b.run(|| send_udp(pair.addr_a, PORT, 5));
        assert_eq!(drain_udp(&receiver), 5);
        assert_eq!(count(&object, 0), 30);
    }
    fds.assert_no_leak();
}

#[test]
fn ipv6_defrag_link_attaches_and_a_reserved_priority_is_refused() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("nf6");
        let object = load();
        let program = object.program("nf_count").unwrap();
        let options = NetfilterOptions {
            family: NetfilterFamily::Ipv6,
            hook: NetfilterHook::PreRouting,
            priority: -300,
            defrag: true,
        };
        let link = pair
            .a
            .run(|| netfilter::attach(program, &options))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(link.info().unwrap().link_type, BPF_LINK_TYPE_NETFILTER);

        let reserved = NetfilterOptions {
            priority: i32::MIN,
            ..Default::default()
        };
        let err = pair
            .a
            .run(|| netfilter::attach(program, &reserved))
            .unwrap_err();
        let text = bpfkit::Report(&err).to_string();
        assert!(err.errno().is_some(), "{text}");
        assert!(text.contains("priority -2147483648"), "{text}");

        // With defrag, the priority must be above defragmentation's (-400).
        let too_early = NetfilterOptions {
            priority: -450,
            defrag: true,
            ..Default::default()
        };
        let err = pair
            .a
            .run(|| netfilter::attach(program, &too_early))
            .unwrap_err();
        assert!(err.errno().is_some(), "{err}");
        drop(link);
    }
    fds.assert_no_leak();
}
