//! Socket-level programs with data: sk_lookup steering a connection to another socket and a
//! flow dissector counting packets (netns links, in namespaces the test creates), sk_msg
//! redirecting between two sockets and sk_skb counting bytes on a sockmap (prog_attach and
//! sockmap link, loopback), sk_reuseport picking the socket of a group (loopback).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use bpfkit::loader::{Loader, Object};
use bpfkit::programs::netns::{self, Netns as TargetNetns};
use bpfkit::programs::sk_reuseport;
use bpfkit::programs::sock_map::{self, SockMapAttachMethod, SockMapOptions};
use bpfkit_test_support::fixture;
use bpfkit_test_support::netns::{drain_udp, send_udp, Netns, VethPair, VETH_A};
use common::{count, FdCheck};

const LOOKUP_PORT: u16 = 7777;

fn load() -> Object {
    Loader::new()
        .set_global("lookup_port", &LOOKUP_PORT.to_ne_bytes())
        .load_file(fixture("net_sock"))
        .expect("net_sock loads")
}

fn put_socket(object: &Object, map: &str, key: u32, socket: &impl AsRawFd) {
    let fd = socket.as_raw_fd() as u64;
    object
        .map(map)
        .unwrap()
        .update_bytes(&key.to_ne_bytes(), &fd.to_ne_bytes(), 0)
        .unwrap_or_else(|e| panic!("{map}[{key}] = socket: {e}"));
}

#[test]
fn sk_lookup_link_steers_a_connection_to_another_socket() {
    let fds = FdCheck::start();
    {
        let ns = Netns::new("sklookup");
        let object = load();
        let program = object.program("steer_lookup").unwrap();
        let (link, listener) = ns.run(|| {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            put_socket(&object, "lookup_target", 0, &listener);
            let refused = TcpStream::connect((Ipv4Addr::LOCALHOST, LOOKUP_PORT)).unwrap_err();
            assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
            let link = netns::attach(program, TargetNetns::Current).unwrap();
            (link, listener)
        });
        let info = link.info().unwrap();
        assert_eq!(info.prog_id, program.id().unwrap());
        ns.run(|| {
            let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, LOOKUP_PORT))
                .expect("steered to the listener");
            let (mut accepted, _) = listener.accept().unwrap();
            assert_eq!(accepted.local_addr().unwrap().port(), LOOKUP_PORT);
            client.write_all(b"via lookup").unwrap();
            let mut buf = [0u8; 10];
            accepted.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"via lookup");
        });
        assert_eq!(count(&object, 0), 1);
        drop(link);
        ns.run(|| {
            let refused = TcpStream::connect((Ipv4Addr::LOCALHOST, LOOKUP_PORT)).unwrap_err();
            assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
        });
        drop(listener);
    }
    fds.assert_no_leak();
}

/// The flow dissector program id `bpftool net` shows in `ns` (its text form: bpftool 7.1's
/// JSON for flow dissectors is malformed, `["id":N]`).
fn bpftool_flow_dissector(ns: &Netns) -> Option<u64> {
    let out = ns.exec("bpftool", &["net"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let section = text.split("flow_dissector:").nth(1)?;
    section
        .split_whitespace()
        .skip_while(|w| *w != "id")
        .nth(1)
        .and_then(|id| id.parse().ok())
}

#[test]
fn flow_dissector_link_dissects_the_packets_rps_hashes() {
    let fds = FdCheck::start();
    {
        let pair = VethPair::new("flowdis");
        // RPS on veth-a hashes every received packet, through the namespace's dissector.
        let out = pair.a.exec(
            "sh",
            &[
                "-c",
                &format!("echo 1 > /sys/class/net/{VETH_A}/queues/rx-0/rps_cpus"),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let object = load();
        let program = object.program("count_dissect").unwrap();
        let link = pair
            .a
            .run(|| netns::attach(program, TargetNetns::Current))
            .unwrap();
        assert_eq!(
            bpftool_flow_dissector(&pair.a),
            Some(u64::from(program.id().unwrap()))
        );
        let receiver = pair.a.run(|| UdpSocket::bind((pair.addr_a, 4793)).unwrap());
        pair.b.run(|| send_udp(pair.addr_a, 4793, 20));
        assert_eq!(drain_udp(&receiver), 20);
        assert_eq!(count(&object, 1), 20);
        drop(link);
        assert_eq!(bpftool_flow_dissector(&pair.a), None);
        pair.b.run(|| send_udp(pair.addr_a, 4793, 3));
        assert_eq!(drain_udp(&receiver), 3);
        assert_eq!(count(&object, 1), 20);
    }
    fds.assert_no_leak();
}

/// A connected loopback TCP pair (client, server side).
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    }
    (client, server)
}

#[test]
fn sk_msg_prog_attach_redirects_messages_to_the_other_socket() {
    let fds = FdCheck::start();
    {
        let object = load();
        let link = sock_map::attach(
            object.program("msg_redirect").unwrap(),
            object.map("msg_map").unwrap(),
            &SockMapOptions::default(),
        )
        .unwrap();
        assert_eq!(link.kind(), "prog_attach");
        let (mut c1, s1) = tcp_pair();
        let (mut c2, _s2) = tcp_pair();
        put_socket(&object, "msg_map", 0, &c1);
        put_socket(&object, "msg_map", 1, &c2);
        for word in [&b"alpha"[..], b"beta", b"gamma"] {
            c1.write_all(word).unwrap();
        }
        let mut got = [0u8; 14];
        c2.read_exact(&mut got).unwrap();
        assert_eq!(
            &got, b"alphabetagamma",
            "c1's sends arrive in c2's receive queue"
        );
        s1.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(
            (&s1).read(&mut buf).unwrap_err().kind(),
            ErrorKind::WouldBlock,
            "nothing went to c1's peer"
        );
        assert_eq!(count(&object, 2), 3, "messages");
        assert_eq!(count(&object, 3), 14, "bytes");
        drop(link);
        let q = bpfkit::sys::prog_query(
            object.map("msg_map").unwrap().as_fd(),
            bpfkit_obj::object::AttachType::SkMsgVerdict as u32,
            0,
            4,
        )
        .unwrap();
        assert_eq!(q.prog_cnt, 0, "detached from the map");
    }
    fds.assert_no_leak();
}

#[test]
fn sk_skb_verdict_sockmap_link_counts_every_byte_received() {
    let fds = FdCheck::start();
    {
        let object = load();
        let program = object.program("skb_count").unwrap();
        let options = SockMapOptions {
            method: SockMapAttachMethod::Link,
            attach_type: None,
        };
        let link = match sock_map::attach(program, object.map("skb_map").unwrap(), &options) {
            Ok(link) => link,
            Err(e) if e.errno() == Some(libc::EINVAL) => {
                println!("SKIP sockmap links need Linux 6.10: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(link.info().unwrap().prog_id, program.id().unwrap());
        let (mut client, mut server) = tcp_pair();
        put_socket(&object, "skb_map", 0, &server);
        let data: Vec<u8> = (0..100u8).collect();
        client.write_all(&data).unwrap();
        let mut got = vec![0u8; 100];
        server.read_exact(&mut got).unwrap();
        assert_eq!(got, data);
        assert_eq!(count(&object, 4), 100);
        drop(link);
        let q = bpfkit::sys::prog_query(
            object.map("skb_map").unwrap().as_fd(),
            bpfkit_obj::object::AttachType::SkSkbStreamVerdict as u32,
            0,
            4,
        )
        .unwrap();
        assert_eq!(q.prog_cnt, 0);
    }
    fds.assert_no_leak();
}

/// A UDP socket with SO_REUSEPORT bound to `addr`.
fn reuseport_socket(addr: SocketAddr) -> UdpSocket {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: a fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: a live c_int of the stated size.
    let ret = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(ret, 0);
    let SocketAddr::V4(v4) = addr else {
        unreachable!()
    };
    // SAFETY: a zeroed sockaddr_in filled below.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = v4.port().to_be();
    sa.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
    // SAFETY: `sa` is a live sockaddr_in of the stated size.
    let ret = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sa as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(ret, 0, "{}", std::io::Error::last_os_error());
    UdpSocket::from(fd)
}

#[test]
fn sk_reuseport_sends_every_datagram_to_the_chosen_socket() {
    let fds = FdCheck::start();
    {
        let object = load();
        let first = reuseport_socket(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let addr = first.local_addr().unwrap();
        let second = reuseport_socket(addr);
        put_socket(&object, "reuse_group", 0, &first);
        put_socket(&object, "reuse_group", 1, &second);
        let link = sk_reuseport::attach(object.program("reuseport_pick").unwrap(), &first).unwrap();
        assert_eq!(link.kind(), "sk_reuseport");
        // Eight senders (eight different source ports): without the program the kernel
        // would spread them by hash.
        for _ in 0..8 {
            let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            for _ in 0..2 {
                sender.send_to(b"pick", addr).unwrap();
            }
        }
        assert_eq!(drain_udp(&second), 16);
        assert_eq!(drain_udp(&first), 0);
        assert_eq!(count(&object, 5), 16);
        drop(link);
    }
    fds.assert_no_leak();
}

#[test]
fn sk_skb_verdict_prog_attach_on_a_sockhash_counts_every_byte_received() {
    let fds = FdCheck::start();
    {
        let object = load();
        let link = sock_map::attach(
            object.program("skb_count").unwrap(),
            object.map("skb_hash").unwrap(),
            &SockMapOptions::default(),
        )
        .unwrap();
        assert_eq!(link.kind(), "prog_attach");
        let (mut client, mut server) = tcp_pair();
        let key = 7u32;
        let fd = server.as_raw_fd() as u64;
        object
            .map("skb_hash")
            .unwrap()
            .update_bytes(&key.to_ne_bytes(), &fd.to_ne_bytes(), 0)
            .unwrap();
        let data = [0x5au8; 50];
        client.write_all(&data).unwrap();
        let mut got = [0u8; 50];
        server.read_exact(&mut got).unwrap();
        assert_eq!(got, data);
        assert_eq!(count(&object, 4), 50);
        drop(link);
        let q = bpfkit::sys::prog_query(
            object.map("skb_hash").unwrap().as_fd(),
            bpfkit_obj::object::AttachType::SkSkbStreamVerdict as u32,
            0,
            4,
        )
        .unwrap();
        assert_eq!(q.prog_cnt, 0);
    }
    fds.assert_no_leak();
}
