//! The cgroup socket hooks that report, refuse or release an address, attached through
//! `programs::cgroup` and `programs::auto` to a cgroup v2 directory the test makes, with
//! sockets created inside it (a socket belongs to the cgroup its creator was in) and a
//! twin created outside as the control:
//! - recvmsg4/6, getpeername4/6, getsockname4/6 (`net_cgroup_addr`): the address the socket
//!   reports for loopback:port_from is the rewritten one, counted once per call;
//! - post_bind4/6: a bind to deny_port fails with EPERM inside, succeeds outside;
//! - sock_release: the count equals the UDP sockets closed that were made inside;
//! - the AF_UNIX hooks (`net_cgroup_unix`, Linux 6.7): connect_unix and sendmsg_unix send
//!   to another abstract address than the one asked for, recvmsg_unix, getpeername_unix and
//!   getsockname_unix report another one.
//!
//! Outside the cgroup, and after the links drop, the kernel's own answers come back.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{self as unix, UnixDatagram, UnixListener, UnixStream};

use bpfkit::links::Link;
use bpfkit::loader::{Loader, Object};
use bpfkit::programs::auto::{self, AutoTargets};
use bpfkit::programs::cgroup::{self, CgroupAttachFlags, CgroupAttachMethod, CgroupOptions};
use bpfkit_obj::object::AttachType;
use bpfkit_test_support::cgroup::TestCgroup;
use bpfkit_test_support::fixture;
use common::{count, FdCheck};

fn attach(object: &Object, program: &str, cg: &TestCgroup) -> Link {
    cgroup::attach(
        object.program(program).unwrap(),
        &cg.dir,
        &CgroupOptions::default(),
    )
    .unwrap_or_else(|e| panic!("attach {program}: {}", bpfkit::Report(&e)))
}

fn attached(cg: &TestCgroup, attach_type: AttachType) -> Vec<u32> {
    cgroup::query(&cg.dir, attach_type, false)
        .expect("BPF_PROG_QUERY")
        .prog_ids
}

fn id(object: &Object, program: &str) -> u32 {
    object.program(program).unwrap().id().unwrap()
}

fn load_addr(port_from: u16, port_to: u16, deny_port: u16) -> Object {
    Loader::new()
        .set_global("port_from", &port_from.to_ne_bytes())
        .set_global("port_to", &port_to.to_ne_bytes())
        .set_global("deny_port", &deny_port.to_ne_bytes())
        .load_file(fixture("net_cgroup_addr"))
        .expect("net_cgroup_addr loads")
}

/// A local port no TCP or UDP socket holds right now.
fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

fn ipv6_loopback(test: &str) -> bool {
    // Under the tests' lock: the probe's socket must not fall into another test's fd count.
    let _serial = common::serial();
    match UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)) {
        Ok(_) => true,
        Err(e) => {
            println!("SKIP {test}: no IPv6 loopback here ({e})");
            false
        }
    }
}

/// The per-family view of the rewrite programs: loopback, the address they report instead,
/// and the three programs with their count slots.
struct Family {
    loopback: IpAddr,
    rewritten: IpAddr,
    recvmsg: (&'static str, u32, AttachType),
    getpeername: (&'static str, u32, AttachType),
    getsockname: (&'static str, u32, AttachType),
}

const V4: Family = Family {
    loopback: IpAddr::V4(Ipv4Addr::LOCALHOST),
    rewritten: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)),
    recvmsg: ("recvmsg4_rewrite", 0, AttachType::CgroupUdp4Recvmsg),
    getpeername: (
        "getpeername4_rewrite",
        1,
        AttachType::CgroupInet4Getpeername,
    ),
    getsockname: (
        "getsockname4_rewrite",
        2,
        AttachType::CgroupInet4Getsockname,
    ),
};

const V6: Family = Family {
    loopback: IpAddr::V6(Ipv6Addr::LOCALHOST),
    rewritten: IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 9)),
    recvmsg: ("recvmsg6_rewrite", 3, AttachType::CgroupUdp6Recvmsg),
    getpeername: (
        "getpeername6_rewrite",
        4,
        AttachType::CgroupInet6Getpeername,
    ),
    getsockname: (
        "getsockname6_rewrite",
        5,
        AttachType::CgroupInet6Getsockname,
    ),
};

/// recvmsg, getpeername and getsockname report `rewritten:port_to` for `loopback:port_from`
/// on UDP sockets made in the cgroup, once per call; sockets made outside see the truth.
fn reported_addresses_are_rewritten(f: &Family, name: &str) {
    const RECEIVED: u64 = 3;
    const PEER_CALLS: u64 = 2;
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new(name);
        let udp = |addr: IpAddr| UdpSocket::bind((addr, 0)).unwrap();
        // Made inside: the sender, bound to port_from, a receiver, a socket connected to the
        // sender. Attaching later still applies to them: the hook runs at each call.
        let (sender, receiver, connected) = {
            let _in = cg.enter();
            let sender = udp(f.loopback);
            let connected = udp(f.loopback);
            connected.connect(sender.local_addr().unwrap()).unwrap();
            (sender, udp(f.loopback), connected)
        };
        let (receiver_out, connected_out) = (udp(f.loopback), udp(f.loopback));
        let from = sender.local_addr().unwrap();
        connected_out.connect(from).unwrap();
        let port_to = from.port() ^ 0x5a5a;
        let object = load_addr(from.port(), port_to, 0);
        let links: Vec<Link> = [f.recvmsg, f.getpeername, f.getsockname]
            .iter()
            .map(|(program, _, attach_type)| {
                let link = attach(&object, program, &cg);
                assert_eq!(attached(&cg, *attach_type), [id(&object, program)]);
                link
            })
            .collect();
        let rewritten = SocketAddr::new(f.rewritten, port_to);

        assert_eq!(sender.local_addr().unwrap(), rewritten, "getsockname");
        for _ in 0..PEER_CALLS {
            assert_eq!(connected.peer_addr().unwrap(), rewritten, "getpeername");
        }
        let mut buf = [0u8; 8];
        for i in 0..RECEIVED {
            sender
                .send_to(&[i as u8], receiver.local_addr().unwrap())
                .unwrap();
            let (n, source) = receiver.recv_from(&mut buf).unwrap();
            assert_eq!((n, buf[0], source), (1, i as u8, rewritten), "recvmsg");
        }
        // Outside: the same calls on sockets made outside are left alone.
        assert_eq!(connected_out.peer_addr().unwrap(), from);
        sender
            .send_to(b"o", receiver_out.local_addr().unwrap())
            .unwrap();
        assert_eq!(receiver_out.recv_from(&mut buf).unwrap(), (1, from));

        assert_eq!(count(&object, f.recvmsg.1), RECEIVED);
        assert_eq!(count(&object, f.getpeername.1), PEER_CALLS);
        assert_eq!(count(&object, f.getsockname.1), 1);

        drop(links);
        for (_, _, attach_type) in [f.recvmsg, f.getpeername, f.getsockname] {
            assert!(attached(&cg, attach_type).is_empty(), "detached on drop");
        }
        assert_eq!(sender.local_addr().unwrap(), from);
        assert_eq!(connected.peer_addr().unwrap(), from);
        sender
            .send_to(b"d", receiver.local_addr().unwrap())
            .unwrap();
        assert_eq!(receiver.recv_from(&mut buf).unwrap(), (1, from));
        assert_eq!(count(&object, f.recvmsg.1), RECEIVED);
        assert_eq!(count(&object, f.getpeername.1), PEER_CALLS);
        assert_eq!(count(&object, f.getsockname.1), 1);
    }
    fds.assert_no_leak();
}

#[test]
fn recvmsg4_getpeername4_getsockname4_report_the_rewritten_address() {
    reported_addresses_are_rewritten(&V4, "addr4");
}

#[test]
fn recvmsg6_getpeername6_getsockname6_report_the_rewritten_address() {
    if !ipv6_loopback("recvmsg6_getpeername6_getsockname6_report_the_rewritten_address") {
        return;
    }
    reported_addresses_are_rewritten(&V6, "addr6");
}

#[test]
fn post_bind4_and_post_bind6_refuse_binds_to_the_port_inside_the_cgroup_only() {
    let test = "post_bind4_and_post_bind6_refuse_binds_to_the_port_inside_the_cgroup_only";
    let v6 = ipv6_loopback(test);
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("post-bind");
        let deny_port = free_port();
        let object = load_addr(0, 0, deny_port);
        // One by BPF_PROG_ATTACH (multi), one by link.
        let bind4 = cgroup::attach(
            object.program("post_bind4_deny").unwrap(),
            &cg.dir,
            &CgroupOptions {
                method: CgroupAttachMethod::ProgAttach,
                flags: CgroupAttachFlags::AllowMulti,
                attach_type: None,
            },
        )
        .unwrap();
        assert_eq!(bind4.kind(), "prog_attach");
        let bind6 = attach(&object, "post_bind6_deny", &cg);
        assert_eq!(
            attached(&cg, AttachType::CgroupInet4PostBind),
            [id(&object, "post_bind4_deny")]
        );
        assert_eq!(
            attached(&cg, AttachType::CgroupInet6PostBind),
            [id(&object, "post_bind6_deny")]
        );

        let lo4 = (Ipv4Addr::LOCALHOST, deny_port);
        let lo6 = (Ipv6Addr::LOCALHOST, deny_port);
        let errno = |e: std::io::Error| e.raw_os_error();
        {
            let _in = cg.enter();
            assert_eq!(
                TcpListener::bind(lo4).map_err(errno).err(),
                Some(Some(libc::EPERM))
            );
            assert_eq!(
                UdpSocket::bind(lo4).map_err(errno).err(),
                Some(Some(libc::EPERM))
            );
            if v6 {
                assert_eq!(
                    TcpListener::bind(lo6).map_err(errno).err(),
                    Some(Some(libc::EPERM))
                );
            }
            let other = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("another port binds");
            assert_ne!(other.local_addr().unwrap().port(), deny_port);
        }
        assert_eq!(count(&object, 6), 2, "IPv4 binds refused");
        assert_eq!(count(&object, 7), u64::from(v6), "IPv6 binds refused");
        // A refused bind gives the port back; outside the cgroup it binds.
        let outside = TcpListener::bind(lo4).expect("bind outside the cgroup");
        drop(outside);

        drop((bind4, bind6));
        assert!(attached(&cg, AttachType::CgroupInet4PostBind).is_empty());
        assert!(attached(&cg, AttachType::CgroupInet6PostBind).is_empty());
        {
            let _in = cg.enter();
            drop(TcpListener::bind(lo4).expect("binds once detached"));
        }
        assert_eq!(count(&object, 6), 2);
    }
    fds.assert_no_leak();
}

#[test]
fn auto_attaches_every_hook_and_sock_release_counts_the_sockets_closed_inside() {
    const INSIDE: u64 = 4;
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("auto-release");
        let object = load_addr(free_port(), 1, free_port());
        let targets = AutoTargets {
            cgroup: Some(&cg.path),
            ..Default::default()
        };
        let links: Vec<Link> = object
            .programs()
            .map(|p| auto::attach_with(p, &targets).expect("auto attach"))
            .collect();
        assert_eq!(links.len(), 9);
        for p in object.programs() {
            let attach_type = p.section().expected_attach_type.unwrap();
            assert_eq!(
                attached(&cg, attach_type),
                [p.id().unwrap()],
                "{}",
                p.name()
            );
        }
        let mut listed: Vec<(u64, String)> =
            common::bpftool(&["cgroup", "show", cg.path.to_str().unwrap()])
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["id"].as_u64().unwrap(),
                        p["attach_type"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
        listed.sort();
        let mut expected: Vec<(u64, String)> = object
            .programs()
            .map(|p| {
                let t = p.section().expected_attach_type.unwrap();
                (u64::from(p.id().unwrap()), t.kernel_name().to_owned())
            })
            .collect();
        expected.sort();
        assert_eq!(listed, expected, "bpftool cgroup show");

        let inside: Vec<UdpSocket> = {
            let _in = cg.enter();
            let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            drop(tcp);
            (0..INSIDE)
                .map(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
                .collect()
        };
        assert_eq!(count(&object, 8), 0, "nothing released yet");
        drop(inside);
        drop(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap());
        assert_eq!(
            count(&object, 8),
            INSIDE,
            "UDP sockets made inside and closed (the TCP one and the outside one not)"
        );

        drop(links);
        assert!(attached(&cg, AttachType::CgroupInetSockRelease).is_empty());
        {
            let _in = cg.enter();
            drop(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap());
        }
        assert_eq!(count(&object, 8), INSIDE);
    }
    fds.assert_no_leak();
}

// AF_UNIX sock_addr hooks (Linux 6.7).

const UNIX_NAME_LEN: usize = 24;

/// Whether the running kernel knows the AF_UNIX cgroup hooks: its BTF names
/// `BPF_CGROUP_UNIX_CONNECT` (an enumerator of `enum bpf_attach_type`, Linux 6.7).
fn unix_hooks(test: &str) -> bool {
    // Under the tests' lock: the open BTF file must not fall into another test's fd count.
    let btf = {
        let _serial = common::serial();
        std::fs::read("/sys/kernel/btf/vmlinux").unwrap_or_default()
    };
    let name = b"BPF_CGROUP_UNIX_CONNECT\0";
    if btf.windows(name.len()).any(|w| w == name) {
        return true;
    }
    println!("SKIP {test}: the kernel has no AF_UNIX cgroup hooks (Linux 6.7)");
    false
}

/// An abstract address of this process: `tag` padded to UNIX_NAME_LEN - 1 bytes. Returns
/// the address and the fixture's view of it (the leading NUL included).
fn abstract_name(tag: &str) -> (unix::SocketAddr, [u8; UNIX_NAME_LEN]) {
    let mut name = format!("bpfkit-{}-{tag}", std::process::id()).into_bytes();
    assert!(name.len() < UNIX_NAME_LEN);
    name.resize(UNIX_NAME_LEN - 1, b'.');
    let mut path = [0u8; UNIX_NAME_LEN];
    path[1..].copy_from_slice(&name);
    (unix::SocketAddr::from_abstract_name(&name).unwrap(), path)
}

fn load_unix(from: &[u8; UNIX_NAME_LEN], to: &[u8; UNIX_NAME_LEN]) -> Object {
    Loader::new()
        .set_global("unix_from", from)
        .set_global("unix_to", to)
        .load_file(fixture("net_cgroup_unix"))
        .unwrap_or_else(|e| panic!("net_cgroup_unix loads: {:#}", bpfkit::Report(&e)))
}

fn abstract_of(addr: &unix::SocketAddr) -> Vec<u8> {
    addr.as_abstract_name()
        .expect("an abstract address")
        .to_vec()
}

#[test]
fn connect_unix_and_sendmsg_unix_reach_the_rewritten_abstract_address() {
    let test = "connect_unix_and_sendmsg_unix_reach_the_rewritten_abstract_address";
    if !unix_hooks(test) {
        return;
    }
    const SENT: u64 = 3;
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("unix-connect");
        let (from, from_path) = abstract_name("from");
        let (to, to_path) = abstract_name("to");
        let object = load_unix(&from_path, &to_path);
        let links = [
            attach(&object, "connect_unix_rewrite", &cg),
            attach(&object, "sendmsg_unix_rewrite", &cg),
        ];
        assert_eq!(
            attached(&cg, AttachType::CgroupUnixConnect),
            [id(&object, "connect_unix_rewrite")]
        );
        assert_eq!(
            attached(&cg, AttachType::CgroupUnixSendmsg),
            [id(&object, "sendmsg_unix_rewrite")]
        );

        // Nothing listens on `from`: only the rewrite reaches the listener on `to`.
        let listener = UnixListener::bind_addr(&to).unwrap();
        let mut client = {
            let _in = cg.enter();
            UnixStream::connect_addr(&from).expect("connect to `from` reaches `to`")
        };
        let (mut accepted, _) = listener.accept().unwrap();
        client.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        accepted.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        let refused = UnixStream::connect_addr(&from).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused, "outside");
        drop((client, accepted, listener));
        assert_eq!(count(&object, 0), 1, "connects rewritten");

        let receiver = UnixDatagram::bind_addr(&to).unwrap();
        let sender = {
            let _in = cg.enter();
            UnixDatagram::unbound().unwrap()
        };
        for i in 0..SENT {
            sender.send_to_addr(&[i as u8], &from).unwrap();
            assert_eq!(receiver.recv(&mut buf).unwrap(), 1);
            assert_eq!(buf[0], i as u8);
        }
        let outside = UnixDatagram::unbound().unwrap();
        assert!(
            outside.send_to_addr(b"o", &from).is_err(),
            "nobody at `from`"
        );
        assert_eq!(count(&object, 1), SENT, "datagrams rewritten");

        drop(links);
        assert!(attached(&cg, AttachType::CgroupUnixConnect).is_empty());
        assert!(attached(&cg, AttachType::CgroupUnixSendmsg).is_empty());
        assert!(sender.send_to_addr(b"d", &from).is_err(), "detached");
        assert_eq!(count(&object, 1), SENT);
    }
    fds.assert_no_leak();
}

#[test]
fn recvmsg_getpeername_and_getsockname_unix_report_the_rewritten_abstract_address() {
    let test = "recvmsg_getpeername_and_getsockname_unix_report_the_rewritten_abstract_address";
    if !unix_hooks(test) {
        return;
    }
    const RECEIVED: u64 = 2;
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("unix-names");
        let (from, from_path) = abstract_name("from");
        let (_, to_path) = abstract_name("to");
        let (inbox, _) = abstract_name("in");
        let (inbox_out, _) = abstract_name("out");
        let object = load_unix(&from_path, &to_path);
        let programs = [
            ("recvmsg_unix_rewrite", AttachType::CgroupUnixRecvmsg),
            (
                "getpeername_unix_rewrite",
                AttachType::CgroupUnixGetpeername,
            ),
            (
                "getsockname_unix_rewrite",
                AttachType::CgroupUnixGetsockname,
            ),
        ];
        let links: Vec<Link> = programs
            .iter()
            .map(|(program, attach_type)| {
                let link = attach(&object, program, &cg);
                assert_eq!(attached(&cg, *attach_type), [id(&object, program)]);
                link
            })
            .collect();

        // Made inside: a socket bound to `from`, a receiver, a socket connected to the
        // first; a receiver made outside.
        let (sender, receiver, connected) = {
            let _in = cg.enter();
            let sender = UnixDatagram::bind_addr(&from).unwrap();
            let connected = UnixDatagram::unbound().unwrap();
            connected.connect_addr(&from).unwrap();
            (sender, UnixDatagram::bind_addr(&inbox).unwrap(), connected)
        };
        let receiver_out = UnixDatagram::bind_addr(&inbox_out).unwrap();
        let to_name = to_path[1..].to_vec();
        let from_name = from_path[1..].to_vec();

        assert_eq!(
            abstract_of(&sender.local_addr().unwrap()),
            to_name,
            "getsockname"
        );
        assert_eq!(
            abstract_of(&connected.peer_addr().unwrap()),
            to_name,
            "getpeername"
        );
        let mut buf = [0u8; 8];
        for i in 0..RECEIVED {
            sender.send_to_addr(&[i as u8], &inbox).unwrap();
            let (n, source) = receiver.recv_from(&mut buf).unwrap();
            assert_eq!((n, buf[0]), (1, i as u8));
            assert_eq!(abstract_of(&source), to_name, "recvmsg");
        }
        // recvmsg_unix runs for the receiving socket's cgroup.
        sender.send_to_addr(b"o", &inbox_out).unwrap();
        let (_, source) = receiver_out.recv_from(&mut buf).unwrap();
        assert_eq!(abstract_of(&source), from_name, "received outside");
        drop((sender, connected));
        // getpeername_unix runs for the peer's cgroup (the kernel's unix_getname hands the
        // hook the peer socket): a peer made outside is reported as it is, even to a socket
        // made inside; getsockname of a socket made outside too.
        let peer_out = UnixDatagram::bind_addr(&from).unwrap();
        let connected = {
            let _in = cg.enter();
            UnixDatagram::unbound().unwrap()
        };
        connected.connect_addr(&from).unwrap();
        assert_eq!(
            abstract_of(&connected.peer_addr().unwrap()),
            from_name,
            "peer outside"
        );
        assert_eq!(
            abstract_of(&peer_out.local_addr().unwrap()),
            from_name,
            "bound outside"
        );
        drop((peer_out, connected));

        assert_eq!(count(&object, 2), RECEIVED, "recvmsg_unix");
        assert_eq!(count(&object, 3), 1, "getpeername_unix");
        assert_eq!(count(&object, 4), 1, "getsockname_unix");

        drop(links);
        for (_, attach_type) in programs {
            assert!(attached(&cg, attach_type).is_empty());
        }
        let (sender, connected) = {
            let _in = cg.enter();
            let sender = UnixDatagram::bind_addr(&from).unwrap();
            let connected = UnixDatagram::unbound().unwrap();
            connected.connect_addr(&from).unwrap();
            (sender, connected)
        };
        assert_eq!(
            abstract_of(&sender.local_addr().unwrap()),
            from_name,
            "detached"
        );
        assert_eq!(
            abstract_of(&connected.peer_addr().unwrap()),
            from_name,
            "detached"
        );
        sender.send_to_addr(b"d", &inbox).unwrap();
        let (_, source) = receiver.recv_from(&mut buf).unwrap();
        assert_eq!(abstract_of(&source), from_name, "detached");
        assert_eq!(
            (count(&object, 2), count(&object, 3), count(&object, 4)),
            (RECEIVED, 1, 1)
        );
    }
    fds.assert_no_leak();
}
