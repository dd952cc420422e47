//! netkit inside the kernel-matrix VM (Debian's 6.12 has `CONFIG_NETKIT=y`; the host's build
//! and 6.1 have no netkit, so the probe — creating the pair — makes them print `SKIP`).
//!
//! The guest has no `ip netns`, so the peer's namespace is made by a thread of the test
//! (`unshare(CLONE_NEWNET)`) and passed to bpfkit's rtnetlink pair creation as
//! `/proc/thread-self/ns/net`; the primary stays in the VM's own namespace. Addresses and
//! link state are set with ioctls (no `ip` needed); ARP resolves by itself (L2 mode, the
//! programs return `NETKIT_NEXT`). One `net_counters` object on the primary hook counts the
//! UDP datagrams the primary transmits, another on the peer hook those the peer transmits
//! (each device runs its own list in its transmit path).

mod common;

use std::ffi::CString;
use std::fs::File;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;

use bpfkit::loader::{Loader, Object};
use bpfkit::programs::netkit::{self, NetkitOptions, NetkitSide};
use bpfkit::sys::netlink::RouteSocket;
use bpfkit_test_support::fixture;
use bpfkit_test_support::netns::{drain_udp, send_udp};
use common::FdCheck;

const PORT: u16 = 4797;
const PRIMARY: &str = "nkvm0";
const PEER: &str = "nkvm1";
const PRIMARY_ADDR: Ipv4Addr = Ipv4Addr::new(10, 204, 0, 1);
const PEER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 204, 0, 2);
const FROM_PEER: u32 = 12;
const FROM_PRIMARY: u32 = 7;

fn sockaddr(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size; the bytes are a valid sockaddr.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// Sets `addr/24` on `dev` of the calling thread's namespace and brings it up (the ioctls
/// `ifconfig` uses).
fn configure(dev: &str, addr: Ipv4Addr) {
    // SAFETY: socket(2) with constant arguments; the fd is owned right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: `raw` is a new fd nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(dev.bytes()) {
        *d = s as libc::c_char;
    }
    let ioctl = |request, req: &mut libc::ifreq, what: &str| {
        // SAFETY: each request reads or writes one ifreq, which `req` is.
        let ret = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, req as *mut libc::ifreq) };
        assert_eq!(ret, 0, "{what} {dev}: {}", std::io::Error::last_os_error());
    };
    req.ifr_ifru.ifru_addr = sockaddr(addr);
    ioctl(libc::SIOCSIFADDR, &mut req, "SIOCSIFADDR");
    req.ifr_ifru.ifru_netmask = sockaddr(Ipv4Addr::new(255, 255, 255, 0));
    ioctl(libc::SIOCSIFNETMASK, &mut req, "SIOCSIFNETMASK");
    ioctl(libc::SIOCGIFFLAGS, &mut req, "SIOCGIFFLAGS");
    // SAFETY: SIOCGIFFLAGS filled the flags member.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    ioctl(libc::SIOCSIFFLAGS, &mut req, "SIOCSIFFLAGS");
}

fn ifindex(dev: &str) -> u32 {
    let name = CString::new(dev).unwrap();
    // SAFETY: `name` is NUL-terminated.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "{dev}: {}", std::io::Error::last_os_error());
    index
}

fn udp_count(object: &Object) -> u64 {
    let mut value = [0u8; 8];
    assert!(object
        .map("counts")
        .expect("counts map")
        .lookup_bytes(&2u32.to_ne_bytes(), &mut value, 0)
        .expect("lookup counts"));
    u64::from_ne_bytes(value)
}

fn load() -> Object {
    Loader::new()
        .set_global("udp_port", &PORT.to_ne_bytes())
        .load_file(fixture("net_counters"))
        .expect("net_counters loads")
}

/// What the peer thread is told to do next.
enum Step {
    /// The pair exists: configure the peer end and bind the receiver.
    Configure,
    /// The programs are attached: send to the primary.
    Send,
    /// The primary sent: count what arrived.
    Drain,
    /// Creating the pair failed: end.
    Stop,
}

#[test]
fn netkit_primary_and_peer_links_count_both_directions_in_the_vm() {
    if std::env::var_os("BPFKIT_VM").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIP vm_netkit: uses the kernel-matrix VM's own network namespace (BPFKIT_VM=1; \
             run `cargo xtask vm-test --kernel 6.12`); attach_netkit covers the host"
        );
        return;
    }
    let fds = FdCheck::start();
    let skipped = std::thread::scope(|scope| {
        let (ns_tx, ns_rx) = mpsc::channel::<File>();
        let (step_tx, step_rx) = mpsc::channel::<Step>();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let peer = scope.spawn(move || -> u32 {
            // SAFETY: unshare of the network namespace affects only this thread.
            let ret = unsafe { libc::unshare(libc::CLONE_NEWNET) };
            assert_eq!(ret, 0, "unshare: {}", std::io::Error::last_os_error());
            ns_tx
                .send(File::open("/proc/thread-self/ns/net").expect("open own netns"))
                .unwrap();
            let mut receiver = None;
            let mut received = 0;
            for step in step_rx {
                match step {
                    Step::Configure => {
                        configure(PEER, PEER_ADDR);
                        receiver = Some(UdpSocket::bind((PEER_ADDR, PORT)).expect("bind peer"));
                    }
                    Step::Send => send_udp(PRIMARY_ADDR, PORT, FROM_PEER),
                    Step::Drain => received = drain_udp(receiver.as_ref().expect("bound")),
                    Step::Stop => break,
                }
                done_tx.send(()).unwrap();
            }
            // The namespace, and the peer device with it, goes when this thread ends.
            received
        });
        let peer_ns = ns_rx.recv().expect("peer namespace");
        let created = RouteSocket::open()
            .and_then(|s| s.netkit_create(PRIMARY, PEER, Some(peer_ns.as_fd()), true));
        drop(peer_ns);
        if let Err(e) = created {
            step_tx.send(Step::Stop).unwrap();
            peer.join().unwrap();
            assert!(
                matches!(e.errno(), Some(libc::EOPNOTSUPP | libc::EINVAL)),
                "creating a netkit pair: {e}"
            );
            println!("SKIP vm_netkit: this kernel cannot create netkit devices ({e})");
            return true;
        }
        let primary_index = ifindex(PRIMARY);
        configure(PRIMARY, PRIMARY_ADDR);
        step_tx.send(Step::Configure).unwrap();
        done_rx.recv().unwrap();

        let on_primary = load();
        let on_peer = load();
        let (prog_primary, prog_peer) = (
            on_primary.program("tc_count").unwrap(),
            on_peer.program("tc_count").unwrap(),
        );
        let options = NetkitOptions::default();
        let link_primary = netkit::attach(prog_primary, PRIMARY, NetkitSide::Primary, &options)
            .unwrap_or_else(|e| panic!("{e}"));
        let link_peer = netkit::attach(prog_peer, PRIMARY, NetkitSide::Peer, &options)
            .unwrap_or_else(|e| panic!("{e}"));
        for (side, program, link) in [
            (NetkitSide::Primary, prog_primary, &link_primary),
            (NetkitSide::Peer, prog_peer, &link_peer),
        ] {
            let q = netkit::query(PRIMARY, side).expect("query");
            assert_eq!(q.prog_ids, [program.id().unwrap()], "{side:?}");
            assert_eq!(q.link_ids, [link.info().unwrap().id], "{side:?}");
        }

        let receiver = UdpSocket::bind((PRIMARY_ADDR, PORT)).expect("bind primary");
        step_tx.send(Step::Send).unwrap();
        done_rx.recv().unwrap();
        assert_eq!(drain_udp(&receiver), FROM_PEER, "datagrams from the peer");
        send_udp(PEER_ADDR, PORT, FROM_PRIMARY);
        step_tx.send(Step::Drain).unwrap();
        done_rx.recv().unwrap();
        assert_eq!(
            (udp_count(&on_primary), udp_count(&on_peer)),
            (u64::from(FROM_PRIMARY), u64::from(FROM_PEER)),
            "(primary hook, peer hook) counts"
        );
        println!(
            "vm_netkit: primary hook counted {}, peer hook {}",
            udp_count(&on_primary),
            udp_count(&on_peer)
        );
        drop(link_primary);
        drop(link_peer);
        for side in [NetkitSide::Primary, NetkitSide::Peer] {
            let q = netkit::query(PRIMARY, side).expect("query after detach");
            assert!(
                q.prog_ids.is_empty() && q.link_ids.is_empty(),
                "{side:?}: {q:?}"
            );
        }
        drop(step_tx);
        assert_eq!(
            peer.join().unwrap(),
            FROM_PRIMARY,
            "datagrams from the primary"
        );
        // The peer's namespace is gone with its thread, and the pair with it; delete the
        // primary in case it is still there.
        match RouteSocket::open().and_then(|s| s.link_delete(primary_index)) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            Err(e) => panic!("deleting {PRIMARY}: {e}"),
        }
        let name = CString::new(PRIMARY).unwrap();
        // SAFETY: `name` is NUL-terminated.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert_eq!(index, 0, "{PRIMARY} removed");
        false
    });
    if !skipped {
        fds.assert_no_leak();
    }
}
