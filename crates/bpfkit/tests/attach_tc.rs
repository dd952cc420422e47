//! tc on a veth pair between two network namespaces the test creates: tcx links on ingress
//! and egress with before/after ordering and expected revisions, and netlink `cls_bpf`
//! filters on a clsact qdisc. Every program counts the UDP packets it sees; the counts
//! equal what was sent.

mod common;

use std::net::UdpSocket;

use bpfkit::links::Link;
use bpfkit::loader::Object;
use bpfkit::programs::tc::{self, TcAnchor, TcAttachMethod, TcHook, TcOptions, TcOrder};
use bpfkit::programs::AttachError;
use bpfkit::sys::uapi::BPF_LINK_TYPE_TCX;
use bpfkit_test_support::netns::{drain_udp, send_udp, Netns, VethPair, VETH_A, VETH_B};
use common::{count, load_net_counters, FdCheck};

const PORT: u16 = 4790;

fn id(object: &Object, program: &str) -> u32 {
    object.program(program).unwrap().id().unwrap()
}

/// Sends `n` datagrams from `b` to `a` and returns how many `a` received.
fn traffic(pair: &VethPair, n: u32) -> u32 {
    let receiver: UdpSocket = pair
        .a
        .run(|| UdpSocket::bind((pair.addr_a, PORT)).expect("bind receiver"));
    pair.b.run(|| send_udp(pair.addr_a, PORT, n));
    drain_udp(&receiver)
}

fn attach(
    ns: &Netns,
    object: &Object,
    program: &str,
    interface: &str,
    hook: TcHook,
    options: &TcOptions<'_>,
) -> Result<Link, AttachError> {
    let program = object.program(program).unwrap();
    ns.run(|| tc::attach(program, interface, hook, options))
}

fn tcx_query(ns: &Netns, interface: &str, hook: TcHook) -> tc::TcQuery {
    ns.run(|| tc::query(interface, hook)).unwrap()
}

fn tcx() -> TcOptions<'static> {
    TcOptions {
        method: TcAttachMethod::Tcx,
        ..Default::default()
    }
}

#[test]
fn tcx_ingress_link_counts_packets_and_is_gone_after_drop() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("tcx-in");
        let object = load_net_counters(PORT);
        let link = attach(
            &pair.a,
            &object,
            "tc_count",
            VETH_A,
            TcHook::Ingress,
            &tcx(),
        )
        .unwrap();
        let info = link.info().unwrap();
        assert_eq!(info.link_type, BPF_LINK_TYPE_TCX);
        let q = tcx_query(&pair.a, VETH_A, TcHook::Ingress);
        assert_eq!(q.tcx.prog_ids, [id(&object, "tc_count")]);
        assert_eq!(q.tcx.link_ids, [info.id]);
        assert!(q.filters.is_empty());
        assert!(common::link_listed(info.id));

        assert_eq!(traffic(&pair, 30), 30);
        assert_eq!(count(&object, 2), 30);

        drop(link);
        let q = tcx_query(&pair.a, VETH_A, TcHook::Ingress);
        assert!(q.tcx.prog_ids.is_empty());
        assert!(!common::link_listed(info.id));
        assert_eq!(traffic(&pair, 4), 4);
        assert_eq!(count(&object, 2), 30);
    }
    fds.assert_no_leak();
}

#[test]
fn tcx_egress_drop_program_drops_exactly_the_packets_sent() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("tcx-eg");
        let object = load_net_counters(PORT);
        let link = attach(&pair.b, &object, "tc_drop", VETH_B, TcHook::Egress, &tcx()).unwrap();
        assert_eq!(traffic(&pair, 25), 0);
        assert_eq!(count(&object, 3), 25);
        drop(link);
        assert_eq!(traffic(&pair, 5), 5);
        assert_eq!(count(&object, 3), 25);
    }
    fds.assert_no_leak();
}

#[test]
fn tcx_before_and_after_place_programs_and_a_stale_revision_is_refused() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("tcx-ord");
        let object = load_net_counters(PORT);
        let first = attach(
            &pair.a,
            &object,
            "tc_count",
            VETH_A,
            TcHook::Ingress,
            &tcx(),
        )
        .unwrap();
        let revision = tcx_query(&pair.a, VETH_A, TcHook::Ingress).tcx.revision;
        assert!(revision > 0);

        // Before the link holding tc_count, given by fd.
        let options = TcOptions {
            order: TcOrder::Before(TcAnchor::Link(first.fd().unwrap())),
            expected_revision: revision,
            ..tcx()
        };
        let second = attach(
            &pair.a,
            &object,
            "tc_second",
            VETH_A,
            TcHook::Ingress,
            &options,
        )
        .unwrap();
        let q = tcx_query(&pair.a, VETH_A, TcHook::Ingress);
        assert_eq!(
            q.tcx.prog_ids,
            [id(&object, "tc_second"), id(&object, "tc_count")]
        );
        assert_eq!(q.tcx.revision, revision + 1);
        assert_eq!(traffic(&pair, 1), 1);
        // tc_second ran first (slot 8 = 2), then tc_count (2 * 10 + 1).
        assert_eq!(count(&object, 8), 21);

        // The revision moved: attaching with the old one fails with ESTALE, before anything
        // is attached.
        let stale = TcOptions {
            expected_revision: revision,
            ..tcx()
        };
        let err = attach(&pair.a, &object, "tc_drop", VETH_A, TcHook::Ingress, &stale).unwrap_err();
        assert_eq!(err.errno(), Some(libc::ESTALE), "{err}");
        assert_eq!(
            tcx_query(&pair.a, VETH_A, TcHook::Ingress)
                .tcx
                .prog_ids
                .len(),
            2
        );
        drop(second);

        // After tc_count, given by program id.
        let options = TcOptions {
            order: TcOrder::After(TcAnchor::ProgramId(id(&object, "tc_count"))),
            ..tcx()
        };
        let second = attach(
            &pair.a,
            &object,
            "tc_second",
            VETH_A,
            TcHook::Ingress,
            &options,
        )
        .unwrap();
        let q = tcx_query(&pair.a, VETH_A, TcHook::Ingress);
        assert_eq!(
            q.tcx.prog_ids,
            [id(&object, "tc_count"), id(&object, "tc_second")]
        );
        assert_eq!(
            q.tcx.link_ids,
            [first.info().unwrap().id, second.info().unwrap().id]
        );
        let slot = 8u32;
        object
            .map("counts")
            .unwrap()
            .update_bytes(&slot.to_ne_bytes(), &0u64.to_ne_bytes(), 0)
            .unwrap();
        assert_eq!(traffic(&pair, 1), 1);
        assert_eq!(count(&object, 8), 12);
        assert_eq!(count(&object, 2), 2);
        assert_eq!(count(&object, 4), 2);

        // First: before everything.
        let options = TcOptions {
            order: TcOrder::First,
            ..tcx()
        };
        let third = attach(
            &pair.a,
            &object,
            "tc_drop",
            VETH_A,
            TcHook::Ingress,
            &options,
        )
        .unwrap();
        assert_eq!(
            tcx_query(&pair.a, VETH_A, TcHook::Ingress).tcx.prog_ids[0],
            id(&object, "tc_drop")
        );
        assert_eq!(traffic(&pair, 3), 0, "tc_drop runs first and drops");
        assert_eq!(count(&object, 2), 2, "tc_count did not see dropped packets");
        drop((first, second, third));
        assert!(tcx_query(&pair.a, VETH_A, TcHook::Ingress)
            .tcx
            .prog_ids
            .is_empty());
    }
    fds.assert_no_leak();
}

/// `bpftool net -j` tc entries in `ns`: (devname, kind, prog id).
fn bpftool_tc(ns: &Netns) -> Vec<(String, String, u64)> {
    let out = ns.exec("bpftool", &["-j", "net"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["tc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["devname"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
                e["id"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn has_clsact(ns: &Netns, dev: &str) -> bool {
    let out = ns.exec("tc", &["-j", "qdisc", "show", "dev", dev]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().iter().any(|q| q["kind"] == "clsact")
}

#[test]
fn netlink_cls_bpf_filter_counts_replaces_and_is_removed_with_its_qdisc_on_drop() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("tc-nl");
        let object = load_net_counters(PORT);
        let options = TcOptions {
            method: TcAttachMethod::Netlink,
            priority: 7,
            handle: 3,
            ..Default::default()
        };
        let link = attach(
            &pair.a,
            &object,
            "tc_count",
            VETH_A,
            TcHook::Ingress,
            &options,
        )
        .unwrap();
        assert_eq!(link.kind(), "tc_netlink");
        assert!(has_clsact(&pair.a, VETH_A));
        let q = tcx_query(&pair.a, VETH_A, TcHook::Ingress);
        assert!(q.tcx.prog_ids.is_empty());
        assert_eq!(q.filters.len(), 1);
        let f = &q.filters[0];
        assert_eq!((f.id.priority, f.id.handle), (7, 3));
        assert_eq!(f.prog_id, id(&object, "tc_count"));
        assert_eq!(f.kind, "bpf");
        assert_eq!(f.name, "tc_count");
        assert!(f.direct_action);
        assert_eq!(
            bpftool_tc(&pair.a),
            [(
                VETH_A.to_owned(),
                "clsact/ingress".to_owned(),
                u64::from(id(&object, "tc_count"))
            )]
        );
        assert_eq!(traffic(&pair, 20), 20);
        assert_eq!(count(&object, 2), 20);

        // Same priority and handle again: EEXIST unless replacing.
        let err = attach(
            &pair.a,
            &object,
            "tc_drop",
            VETH_A,
            TcHook::Ingress,
            &options,
        )
        .unwrap_err();
        let text = bpfkit::Report(&err).to_string();
        // The netlink error is kept whole: errno and the kernel's extended-ack message.
        let AttachError::Netlink {
            operation, source, ..
        } = &err
        else {
            panic!("not a netlink error: {text}");
        };
        assert_eq!(*operation, "add cls_bpf filter", "{text}");
        assert_eq!(err.errno(), Some(libc::EEXIST), "{text}");
        assert_eq!(
            source.message.as_deref(),
            Some("Filter already exists"),
            "{text}"
        );
        assert_eq!(
            text,
            "program 'tc_drop': add cls_bpf filter on veth-a: netlink RTM_NEWTFILTER bpf: \
             File exists (os error 17) (Filter already exists)"
        );

        let dropper = object.program("tc_drop").unwrap();
        let stale = link.update_program(dropper.fd(), Some(dropper.fd()));
        assert!(
            stale.is_err(),
            "the expected program is not the one attached"
        );
        link.update_program(dropper.fd(), Some(object.program("tc_count").unwrap().fd()))
            .unwrap();
        let q = tcx_query(&pair.a, VETH_A, TcHook::Ingress);
        assert_eq!(q.filters[0].prog_id, id(&object, "tc_drop"));
        assert_eq!(traffic(&pair, 12), 0);
        assert_eq!(count(&object, 3), 12);

        drop(link);
        assert!(tcx_query(&pair.a, VETH_A, TcHook::Ingress)
            .filters
            .is_empty());
        assert!(bpftool_tc(&pair.a).is_empty());
        assert!(!has_clsact(&pair.a, VETH_A), "the qdisc it made is gone");
        assert_eq!(traffic(&pair, 3), 3);
    }
    fds.assert_no_leak();
}

/// A netlink request on an interface index that names no interface: the error is the
/// netlink one with the kernel's errno (not flattened into text), and nothing leaks. (The
/// kernel's extended-ack message is checked with the duplicate filter above.)
#[test]
fn netlink_errors_keep_the_kernel_errno() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("tc-nlerr");
        let object = load_net_counters(PORT);
        let options = TcOptions {
            method: TcAttachMethod::Netlink,
            ..Default::default()
        };
        let program = object.program("tc_count").unwrap();
        let err = pair
            .a
            .run(|| tc::attach(program, 0x7fff_fff0u32, TcHook::Ingress, &options))
            .unwrap_err();
        let text = bpfkit::Report(&err).to_string();
        let AttachError::Netlink {
            operation, source, ..
        } = &err
        else {
            panic!("not a netlink error: {text}");
        };
        assert_eq!(*operation, "add clsact qdisc", "{text}");
        assert_eq!(source.request, "RTM_NEWQDISC clsact", "{text}");
        assert_eq!(err.errno(), Some(libc::ENODEV), "{text}");
        assert!(
            text.starts_with(
                "program 'tc_count': add clsact qdisc on ifindex 2147483632: netlink \
                 RTM_NEWQDISC clsact: No such device (os error 19)"
            ),
            "{text}"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn netlink_filters_with_kernel_chosen_priority_coexist_and_keep_a_foreign_qdisc() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("tc-nl2");
        let object = load_net_counters(PORT);
        let out = pair
            .b
            .exec("tc", &["qdisc", "add", "dev", VETH_B, "clsact"]);
        assert!(out.status.success());
        let options = TcOptions {
            method: TcAttachMethod::Netlink,
            ..Default::default()
        };
        let a = attach(
            &pair.b,
            &object,
            "tc_count",
            VETH_B,
            TcHook::Egress,
            &options,
        )
        .unwrap();
        let b = attach(
            &pair.b,
            &object,
            "tc_second",
            VETH_B,
            TcHook::Egress,
            &options,
        )
        .unwrap();
        let filters = tcx_query(&pair.b, VETH_B, TcHook::Egress).filters;
        assert_eq!(filters.len(), 2);
        assert!(filters.iter().all(|f| f.id.priority > 0 && f.id.handle > 0));
        assert_eq!(traffic(&pair, 9), 9);
        assert_eq!(count(&object, 2), 9);
        assert_eq!(count(&object, 4), 9);
        drop(a);
        let filters = tcx_query(&pair.b, VETH_B, TcHook::Egress).filters;
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0].prog_id, id(&object, "tc_second"));
        drop(b);
        assert!(
            has_clsact(&pair.b, VETH_B),
            "a qdisc made by someone else stays"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn pinned_tcx_link_keeps_counting_after_its_link_is_dropped() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("tcx-pin");
        let object = load_net_counters(PORT);
        let dir = common::BpffsDir::new("tcx-pin");
        let pin = dir.path.join("tcx");
        let link = attach(
            &pair.a,
            &object,
            "tc_count",
            VETH_A,
            TcHook::Ingress,
            &tcx(),
        )
        .unwrap();
        let id = link.info().unwrap().id;
        link.pin(&pin).unwrap();
        drop(link);
        assert_eq!(
            tcx_query(&pair.a, VETH_A, TcHook::Ingress).tcx.link_ids,
            [id]
        );
        assert_eq!(traffic(&pair, 7), 7);
        assert_eq!(count(&object, 2), 7);
        let reopened = Link::from_pin(&pin).unwrap();
        bpfkit::pin::unpin(&pin).unwrap();
        reopened.detach().unwrap();
        assert!(tcx_query(&pair.a, VETH_A, TcHook::Ingress)
            .tcx
            .prog_ids
            .is_empty());
        dir.remove();
    }
    fds.assert_no_leak();
}
