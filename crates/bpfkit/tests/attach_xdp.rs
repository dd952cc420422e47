//! XDP on a veth pair between two network namespaces the test creates: bpf links in generic
//! and driver mode, link update, pinning, and the rtnetlink attachment; every program counts
//! the UDP packets it sees and the counts equal what was sent.

mod common;

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use bpfkit::links::{Link, LinkError};
use bpfkit::loader::Object;
use bpfkit::programs::xdp::{self, XdpAttachMethod, XdpMode, XdpOptions};
use bpfkit_test_support::netns::{drain_udp, send_udp, Netns, VethPair, VETH_A};
use common::{count, load_net_counters, BpffsDir, FdCheck};

const PORT: u16 = 4789;

/// Sends `n` datagrams from `b` to `a` and returns how many `a` received.
fn traffic(pair: &VethPair, n: u32) -> u32 {
    let receiver: UdpSocket = pair
        .a
        .run(|| UdpSocket::bind((pair.addr_a, PORT)).expect("bind receiver"));
    pair.b.run(|| send_udp(pair.addr_a, PORT, n));
    drain_udp(&receiver)
}

/// `bpftool net -j` in `ns`: the XDP entries as (devname, mode, prog id).
fn bpftool_xdp(ns: &Netns) -> Vec<(String, String, u64)> {
    let out = ns.exec("bpftool", &["-j", "net"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["xdp"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["devname"].as_str().unwrap().to_owned(),
                e["mode"].as_str().unwrap().to_owned(),
                e["id"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `bpftool link list -j`: the xdp link with this id, as its program id, if listed.
fn bpftool_link(id: u32) -> Option<u64> {
    let links = common::bpftool(&["link", "list"]);
    links.as_array().unwrap().iter().find_map(|l| {
        (l["id"].as_u64() == Some(u64::from(id))).then(|| {
            assert_eq!(l["type"], "xdp", "{l}");
            l["prog_id"].as_u64().unwrap()
        })
    })
}

fn attach_in(pair: &VethPair, object: &Object, program: &str, options: &XdpOptions) -> Link {
    let program = object.program(program).unwrap();
    pair.a
        .run(|| xdp::attach(program, VETH_A, options))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn generic_xdp_link_counts_every_packet_sent_and_is_gone_after_drop() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("xdp-gen");
        let object = load_net_counters(PORT);
        let options = XdpOptions {
            mode: XdpMode::Generic,
            method: XdpAttachMethod::Link,
            ..Default::default()
        };
        let link = attach_in(&pair, &object, "xdp_count", &options);
        assert_eq!(link.kind(), "bpf");
        let info = link.info().unwrap();
        let prog_id = object.program("xdp_count").unwrap().id().unwrap();
        assert_eq!(bpftool_link(info.id), Some(u64::from(prog_id)));
        assert_eq!(
            bpftool_xdp(&pair.a),
            [(VETH_A.to_owned(), "generic".to_owned(), u64::from(prog_id))]
        );

        assert_eq!(traffic(&pair, 40), 40);
        assert_eq!(count(&object, 0), 40);

        drop(link);
        assert_eq!(bpftool_link(info.id), None);
        assert!(bpftool_xdp(&pair.a).is_empty());
        assert_eq!(traffic(&pair, 5), 5);
        assert_eq!(count(&object, 0), 40, "no program runs after drop");
    }
    fds.assert_no_leak();
}

#[test]
fn driver_mode_link_update_swaps_in_a_dropping_program() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("xdp-drv");
        let object = load_net_counters(PORT);
        let options = XdpOptions {
            mode: XdpMode::Driver,
            ..Default::default()
        };
        let link = attach_in(&pair, &object, "xdp_count", &options);
        let count_id = object.program("xdp_count").unwrap().id().unwrap();
        assert_eq!(
            bpftool_xdp(&pair.a),
            [(VETH_A.to_owned(), "driver".to_owned(), u64::from(count_id))]
        );
        assert_eq!(traffic(&pair, 25), 25);
        assert_eq!(count(&object, 0), 25);

        let dropper = object.program("xdp_drop").unwrap();
        // A stale expected program is refused; the right one is replaced.
        let err = link
            .update_program(dropper.fd(), Some(dropper.fd()))
            .unwrap_err();
        assert!(
            matches!(&err, LinkError::Syscall { source, .. } if source.errno() == Some(libc::EPERM)),
            "{err:?}"
        );
        link.update_program(
            dropper.fd(),
            Some(object.program("xdp_count").unwrap().fd()),
        )
        .unwrap();
        assert_eq!(link.info().unwrap().prog_id, dropper.id().unwrap());
        assert_eq!(traffic(&pair, 30), 0, "every packet dropped");
        assert_eq!(count(&object, 1), 30);
        assert_eq!(count(&object, 0), 25);
        drop(link);
        assert_eq!(traffic(&pair, 3), 3);
    }
    fds.assert_no_leak();
}

#[test]
fn pinned_xdp_link_stays_attached_until_unpinned() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("xdp-pin");
        let object = load_net_counters(PORT);
        let dir = BpffsDir::new("xdp-pin");
        let pin = dir.path.join("link");
        let link = attach_in(&pair, &object, "xdp_count", &XdpOptions::default());
        let id = link.info().unwrap().id;
        link.pin(&pin).unwrap();
        drop(link);
        assert!(bpftool_link(id).is_some(), "pinned link survives its Link");
        assert_eq!(traffic(&pair, 10), 10);
        assert_eq!(count(&object, 0), 10);

        let reopened = Link::from_pin(&pin).unwrap();
        assert_eq!(reopened.info().unwrap().id, id);
        bpfkit::pin::unpin(&pin).unwrap();
        drop(reopened);
        assert_eq!(bpftool_link(id), None);
        dir.remove();
    }
    fds.assert_no_leak();
}

#[test]
fn netlink_xdp_attach_counts_replaces_and_detaches_on_drop() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("xdp-nl");
        let object = load_net_counters(PORT);
        let options = XdpOptions {
            mode: XdpMode::Generic,
            method: XdpAttachMethod::Netlink,
            ..Default::default()
        };
        let counter = object.program("xdp_count").unwrap();
        let dropper = object.program("xdp_drop").unwrap();
        let link = attach_in(&pair, &object, "xdp_count", &options);
        assert_eq!(link.kind(), "xdp_netlink");
        assert!(link.info().is_err(), "no bpf link behind a netlink attach");
        let q = pair.a.run(|| xdp::query(VETH_A)).unwrap();
        assert_eq!(q.attach_mode, 2, "XDP_ATTACHED_SKB");
        assert_eq!(q.skb_prog_id, counter.id().unwrap());
        assert_eq!(
            bpftool_xdp(&pair.a),
            [(
                VETH_A.to_owned(),
                "generic".to_owned(),
                u64::from(counter.id().unwrap())
            )]
        );

        // A second attach without replace_existing is refused while ours is there.
        let again = pair.a.run(|| xdp::attach(dropper, VETH_A, &options));
        let err = again.unwrap_err();
        let text = bpfkit::Report(&err).to_string();
        assert!(text.contains("busy"), "{text}");
        assert!(
            matches!(err, bpfkit::programs::AttachError::Netlink { .. }),
            "{text}"
        );
        assert_eq!(err.errno(), Some(libc::EBUSY), "the netlink errno: {text}");
        let bpfkit::programs::AttachError::Netlink { source, .. } = &err else {
            unreachable!()
        };
        assert_eq!(
            source.message.as_deref(),
            Some("XDP program already attached"),
            "the kernel's extended ack: {text}"
        );
        assert!(text.ends_with("(XDP program already attached)"), "{text}");

        assert_eq!(traffic(&pair, 20), 20);
        assert_eq!(count(&object, 0), 20);

        link.update_program(dropper.fd(), None).unwrap();
        let q = pair.a.run(|| xdp::query(VETH_A)).unwrap();
        assert_eq!(q.skb_prog_id, dropper.id().unwrap());
        assert_eq!(traffic(&pair, 15), 0);
        assert_eq!(count(&object, 1), 15);

        // Dropped on the test's own thread (another namespace): the socket kept from the
        // attach detaches in the right one.
        drop(link);
        let q = pair.a.run(|| xdp::query(VETH_A)).unwrap();
        assert_eq!(q, xdp::XdpQuery::default());
        assert!(bpftool_xdp(&pair.a).is_empty());
    }
    fds.assert_no_leak();
}

#[test]
fn attaching_to_a_missing_interface_or_a_wrong_program_type_is_a_clear_error() {
    let fds = FdCheck::start();
    {
        let object = load_net_counters(PORT);
        let err = xdp::attach(
            object.program("xdp_count").unwrap(),
            "bpfkit-no-such-if",
            &XdpOptions::default(),
        )
        .unwrap_err();
        let text = bpfkit::Report(&err).to_string();
        assert!(
            text.contains("bpfkit-no-such-if") && text.contains("no such interface"),
            "{text}"
        );
        let err = xdp::attach(
            object.program("tc_count").unwrap(),
            1,
            &XdpOptions::default(),
        )
        .unwrap_err();
        assert!(
            bpfkit::Report(&err)
                .to_string()
                .contains("XDP program needed"),
            "{err}"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn cpumap_entry_program_sees_every_packet_redirected_to_it() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("xdp-cpumap");
        let object = load_net_counters(PORT);
        let cpumap_program = object.program("cpumap_count").unwrap();
        // struct bpf_cpumap_val: queue size, then the entry program's fd.
        let mut value = 256u32.to_ne_bytes().to_vec();
        value.extend_from_slice(&cpumap_program.fd().as_raw_fd().to_ne_bytes());
        object
            .map("cpu_map")
            .unwrap()
            .update_bytes(&0u32.to_ne_bytes(), &value, 0)
            .unwrap();
        let mut read_back = [0u8; 8];
        assert!(object
            .map("cpu_map")
            .unwrap()
            .lookup_bytes(&0u32.to_ne_bytes(), &mut read_back, 0)
            .unwrap());
        assert_eq!(
            u32::from_ne_bytes(read_back[4..].try_into().unwrap()),
            cpumap_program.id().unwrap(),
            "the kernel reports the entry program's id"
        );
        let options = XdpOptions {
            mode: XdpMode::Generic,
            ..Default::default()
        };
        let link = attach_in(&pair, &object, "xdp_to_cpumap", &options);
        assert_eq!(
            traffic(&pair, 24),
            24,
            "passed on to the stack after the cpumap"
        );
        assert_eq!(count(&object, 9), 24);
        drop(link);
    }
    fds.assert_no_leak();
}

#[test]
fn devmap_entry_program_reflects_every_packet_redirected_through_it() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("xdp-devmap");
        let object = load_net_counters(PORT);
        let reflect = object.program("devmap_reflect").unwrap();
        // struct bpf_devmap_val: the egress interface (veth-a itself), then the entry program.
        // The kernel resolves the ifindex in the updating thread's namespace: update from `a`.
        let mut value = pair.a.ifindex(VETH_A).to_ne_bytes().to_vec();
        value.extend_from_slice(&reflect.fd().as_raw_fd().to_ne_bytes());
        let dev_map = object.map("dev_map").unwrap();
        pair.a
            .run(|| dev_map.update_bytes(&0u32.to_ne_bytes(), &value, 0))
            .unwrap();
        let options = XdpOptions {
            mode: XdpMode::Generic,
            ..Default::default()
        };
        let link = attach_in(&pair, &object, "xdp_to_devmap", &options);
        // No socket in `a`: only the reflected replies can reach the sender.
        let sender = pair
            .b
            .run(|| UdpSocket::bind((pair.addr_b, 0)).expect("bind sender"));
        for i in 0..18u8 {
            sender.send_to(&[i; 16], (pair.addr_a, PORT)).unwrap();
        }
        sender
            .set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        let mut replies = 0;
        let mut buf = [0u8; 64];
        while let Ok((n, from)) = sender.recv_from(&mut buf) {
            assert_eq!(from, (pair.addr_a, PORT).into());
            assert_eq!(n, 16);
            assert_eq!(buf[..16], [buf[0]; 16], "payload intact");
            replies += 1;
            if replies == 18 {
                break;
            }
        }
        assert_eq!(replies, 18, "every packet came back");
        assert_eq!(count(&object, 11), 18);
        drop(link);
    }
    fds.assert_no_leak();
}
