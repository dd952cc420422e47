//! netkit (Linux 6.7, `CONFIG_NETKIT`): a pair made by rtnetlink between two namespaces of
//! the test, a program on the peer hook (attached through the primary) counting what the
//! peer sends. Kernels without
//! netkit (the host's build) print `SKIP` after the probe: creating the device fails.

mod common;

use std::fs::File;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsFd;

use bpfkit::programs::netkit::{self, NetkitOptions, NetkitSide};
use bpfkit::sys::netlink::RouteSocket;
use bpfkit_test_support::netns::{drain_udp, send_udp, Netns};
use common::{count, load_net_counters, FdCheck};

const PORT: u16 = 4796;

fn mac(ns: &Netns, dev: &str) -> String {
    let out = ns.exec("cat", &[&format!("/sys/class/net/{dev}/address")]);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn netkit_peer_link_counts_every_datagram_the_peer_sends() {
    let fds = FdCheck::start();
    {
        let a = Netns::new("nk-a");
        let b = Netns::new("nk-b");
        let b_file = File::open(format!("/run/netns/{}", b.name)).unwrap();
        let created = a.run(|| {
            RouteSocket::open()
                .and_then(|s| s.netkit_create("nk0", "nk1", Some(b_file.as_fd()), true))
        });
        if let Err(e) = created {
            assert!(
                matches!(e.errno(), Some(libc::EOPNOTSUPP | libc::EINVAL)),
                "creating a netkit pair: {e}"
            );
            println!("SKIP netkit: this kernel cannot create netkit devices ({e})");
            return;
        }
        let (addr_a, addr_b) = (Ipv4Addr::new(10, 203, 0, 1), Ipv4Addr::new(10, 203, 0, 2));
        let (mac_a, mac_b) = (mac(&a, "nk0"), mac(&b, "nk1"));
        for (ns, dev, addr, peer, peer_mac) in [
            (&a, "nk0", addr_a, addr_b, &mac_b),
            (&b, "nk1", addr_b, addr_a, &mac_a),
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
        let object = load_net_counters(PORT);
        let program = object.program("tc_count").unwrap();
        let link = a
            .run(|| netkit::attach(program, "nk0", NetkitSide::Peer, &NetkitOptions::default()))
            .unwrap_or_else(|e| panic!("{e}"));
        let q = a.run(|| netkit::query("nk0", NetkitSide::Peer)).unwrap();
        assert_eq!(q.prog_ids, [program.id().unwrap()]);
        assert_eq!(q.link_ids, [link.info().unwrap().id]);

        let receiver = a.run(|| UdpSocket::bind((addr_a, PORT)).unwrap());
        b.run(|| send_udp(addr_a, PORT, 12));
        assert_eq!(drain_udp(&receiver), 12);
        assert_eq!(count(&object, 2), 12);
        drop(link);
        assert!(a
            .run(|| netkit::query("nk0", NetkitSide::Peer))
            .unwrap()
            .prog_ids
            .is_empty());
    }
    fds.assert_no_leak();
}

/// The peer encoding netkit_create shares, checked where the host can: a veth pair made the
/// same way has its peer in the other namespace, and `link_delete` removes both ends.
#[test]
fn pair_encoding_puts_the_peer_in_the_other_namespace_and_delete_removes_both() {
    let fds = FdCheck::start();
    {
        let a = Netns::new("pair-a");
        let b = Netns::new("pair-b");
        let b_file = File::open(format!("/run/netns/{}", b.name)).unwrap();
        a.run(|| {
            RouteSocket::open().and_then(|s| s.veth_create("vk0", "vk1", Some(b_file.as_fd())))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let shows = |ns: &Netns, dev: &str| ns.exec("ip", &["link", "show", dev]).status.success();
        assert!(shows(&a, "vk0"));
        assert!(shows(&b, "vk1"), "the peer is in the other namespace");
        assert!(!shows(&a, "vk1"));
        let ifindex = a.ifindex("vk0");
        a.run(|| RouteSocket::open().and_then(|s| s.link_delete(ifindex)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!shows(&a, "vk0"));
        assert!(!shows(&b, "vk1"), "deleting one end deletes the pair");
    }
    fds.assert_no_leak();
}
