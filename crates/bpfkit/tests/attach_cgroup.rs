//! cgroup programs on a cgroup v2 directory the test creates, with the test process moved
//! into it while it makes traffic on loopback (and back out on every exit path): cgroup skb
//! counting and dropping, connect4 rewriting and denying, sysctl reads denied, getsockopt
//! and socket creation seen, device opens denied, sock_ops callbacks; by link and by
//! `BPF_PROG_ATTACH` with exclusive/override/multi flags. Every test reads the counts the
//! programs kept and what `bpftool cgroup show` lists.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;

use bpfkit::links::Link;
use bpfkit::loader::{Loader, Object};
use bpfkit::programs::cgroup::{self, CgroupAttachFlags, CgroupAttachMethod, CgroupOptions};
use bpfkit_obj::object::AttachType;
use bpfkit_test_support::cgroup::TestCgroup;
use bpfkit_test_support::fixture;
use common::FdCheck;

fn count(object: &Object, slot: u32) -> u64 {
    let mut value = [0u8; 8];
    assert!(object
        .map("counts")
        .unwrap()
        .lookup_bytes(&slot.to_ne_bytes(), &mut value, 0)
        .unwrap());
    u64::from_ne_bytes(value)
}

fn id(object: &Object, program: &str) -> u32 {
    object.program(program).unwrap().id().unwrap()
}

/// `bpftool cgroup show PATH -j`: (program id, attach type) of the attached programs.
fn bpftool_cgroup(path: &Path) -> Vec<(u64, String)> {
    let out = std::process::Command::new("bpftool")
        .args(["-j", "cgroup", "show", path.to_str().unwrap()])
        .output()
        .expect("bpftool runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing attached: bpftool prints nothing at all.
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut out: Vec<(u64, String)> = v
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
    out.sort();
    out
}

fn attach(object: &Object, program: &str, cg: &TestCgroup, options: &CgroupOptions) -> Link {
    cgroup::attach(object.program(program).unwrap(), &cg.dir, options)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn prog_attach(flags: CgroupAttachFlags) -> CgroupOptions {
    CgroupOptions {
        method: CgroupAttachMethod::ProgAttach,
        flags,
        attach_type: None,
    }
}

/// An unused local port (bound then released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn load_counters(udp_port: u16) -> Object {
    Loader::new()
        .set_global("udp_port", &udp_port.to_ne_bytes())
        .load_file(fixture("net_counters"))
        .expect("net_counters loads")
}

#[test]
fn cgroup_skb_egress_link_counts_every_datagram_sent_from_the_cgroup() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("skb-egress");
        let receiver = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = receiver.local_addr().unwrap().port();
        let object = load_counters(port);
        let link = attach(&object, "cgroup_skb_count", &cg, &CgroupOptions::default());
        assert_eq!(
            bpftool_cgroup(&cg.path),
            [(
                u64::from(id(&object, "cgroup_skb_count")),
                AttachType::CgroupInetEgress.kernel_name().to_owned()
            )]
        );
        let q = cgroup::query(&cg.dir, AttachType::CgroupInetEgress, false).unwrap();
        assert_eq!(q.prog_ids, [id(&object, "cgroup_skb_count")]);

        {
            let _in = cg.enter();
            let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            for i in 0..20u8 {
                sender
                    .send_to(&[i; 8], (Ipv4Addr::LOCALHOST, port))
                    .unwrap();
            }
        }
        assert_eq!(bpfkit_test_support::netns::drain_udp(&receiver), 20);
        assert_eq!(count(&object, 5), 20);

        drop(link);
        assert!(bpftool_cgroup(&cg.path).is_empty());
    }
    fds.assert_no_leak();
}

#[test]
fn cgroup_skb_ingress_prog_attach_multi_drops_exactly_the_datagrams_sent() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("skb-ingress");
        let receiver = {
            let _in = cg.enter();
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()
        };
        let port = receiver.local_addr().unwrap().port();
        let object = load_counters(port);
        let link = attach(
            &object,
            "cgroup_skb_drop",
            &cg,
            &prog_attach(CgroupAttachFlags::AllowMulti),
        );
        assert_eq!(link.kind(), "prog_attach");
        let q = cgroup::query(&cg.dir, AttachType::CgroupInetIngress, false).unwrap();
        assert_eq!(q.prog_ids, [id(&object, "cgroup_skb_drop")]);
        assert_eq!(q.attach_flags, CgroupAttachFlags::AllowMulti.bits());

        let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        for i in 0..15u8 {
            sender
                .send_to(&[i; 8], (Ipv4Addr::LOCALHOST, port))
                .unwrap();
        }
        assert_eq!(bpfkit_test_support::netns::drain_udp(&receiver), 0);
        assert_eq!(count(&object, 7), 15);

        drop(link);
        assert!(bpftool_cgroup(&cg.path).is_empty());
        sender
            .send_to(&[1; 8], (Ipv4Addr::LOCALHOST, port))
            .unwrap();
        assert_eq!(bpfkit_test_support::netns::drain_udp(&receiver), 1);
    }
    fds.assert_no_leak();
}

fn load_cgroup(from_port: u16, to_port: u16, deny_port: u16) -> Object {
    Loader::new()
        .set_global("from_port", &from_port.to_ne_bytes())
        .set_global("to_port", &to_port.to_ne_bytes())
        .set_global("deny_port", &deny_port.to_ne_bytes())
        .load_file(fixture("net_cgroup"))
        .expect("net_cgroup loads")
}

#[test]
fn connect4_rewrites_and_denies_and_sock_ops_sees_the_connection() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("connect4");
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let to_port = listener.local_addr().unwrap().port();
        let (from_port, deny_port) = (free_port(), free_port());
        let object = load_cgroup(from_port, to_port, deny_port);
        let rewrite = attach(&object, "connect4_rewrite", &cg, &CgroupOptions::default());
        // A link and a multi prog_attach share the hook.
        let deny = attach(
            &object,
            "connect4_deny",
            &cg,
            &prog_attach(CgroupAttachFlags::AllowMulti),
        );
        let sockops = attach(&object, "sockops_count", &cg, &CgroupOptions::default());
        let mut ids = vec![
            id(&object, "connect4_rewrite"),
            id(&object, "connect4_deny"),
        ];
        ids.sort();
        let mut attached = cgroup::query(&cg.dir, AttachType::CgroupInet4Connect, false)
            .unwrap()
            .prog_ids;
        attached.sort();
        assert_eq!(attached, ids);
        assert_eq!(bpftool_cgroup(&cg.path).len(), 3);

        {
            let _in = cg.enter();
            let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, from_port))
                .expect("connect to from_port reaches the listener on to_port");
            assert_eq!(stream.peer_addr().unwrap().port(), to_port);
            let (mut accepted, _) = listener.accept().unwrap();
            stream.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            accepted.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"ping");
            let err = TcpStream::connect((Ipv4Addr::LOCALHOST, deny_port)).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        }
        assert_eq!(count(&object, 0), 1, "one connect rewritten");
        assert_eq!(count(&object, 1), 1, "one connect denied");
        assert_eq!(count(&object, 6), 1, "active established");

        drop((rewrite, deny, sockops));
        assert!(bpftool_cgroup(&cg.path).is_empty());
        let err = TcpStream::connect((Ipv4Addr::LOCALHOST, from_port)).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::ECONNREFUSED),
            "no rewrite after drop"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn sysctl_read_is_denied_with_an_override_prog_attach() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("sysctl");
        let object = load_cgroup(0, 0, 0);
        let link = attach(
            &object,
            "sysctl_deny",
            &cg,
            &prog_attach(CgroupAttachFlags::AllowOverride),
        );
        let q = cgroup::query(&cg.dir, AttachType::CgroupSysctl, false).unwrap();
        assert_eq!(q.attach_flags, CgroupAttachFlags::AllowOverride.bits());
        assert_eq!(
            bpftool_cgroup(&cg.path),
            [(
                u64::from(id(&object, "sysctl_deny")),
                AttachType::CgroupSysctl.kernel_name().to_owned()
            )]
        );
        let (denied, other) = {
            let _in = cg.enter();
            (
                std::fs::read_to_string("/proc/sys/kernel/ostype"),
                std::fs::read_to_string("/proc/sys/kernel/osrelease"),
            )
        };
        assert_eq!(denied.unwrap_err().raw_os_error(), Some(libc::EPERM));
        assert!(!other.unwrap().is_empty(), "other sysctls stay readable");
        assert_eq!(count(&object, 2), 1);
        drop(link);
        assert!(bpftool_cgroup(&cg.path).is_empty());
    }
    fds.assert_no_leak();
}

#[test]
fn getsockopt_bind_sendmsg_and_socket_creation_are_seen() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("sockopt");
        let port = free_port();
        let object = load_cgroup(port, 0, 0);
        let links: Vec<Link> = [
            "getsockopt_seen",
            "sock_create_count",
            "bind4_count",
            "sendmsg4_count",
        ]
        .iter()
        .map(|p| attach(&object, p, &cg, &CgroupOptions::default()))
        .collect();
        {
            let _in = cg.enter();
            let sockets: Vec<UdpSocket> = (0..3)
                .map(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
                .collect();
            let bound = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
            for _ in 0..5 {
                sockets[0]
                    .send_to(b"x", (Ipv4Addr::LOCALHOST, port))
                    .unwrap();
            }
            for s in &sockets {
                let mut value: libc::c_int = 0;
                let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
                // SAFETY: value and len are live and sized for the option.
                let ret = unsafe {
                    libc::getsockopt(
                        s.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_TYPE,
                        &mut value as *mut libc::c_int as *mut libc::c_void,
                        &mut len,
                    )
                };
                assert_eq!(ret, 0);
                assert_eq!(
                    value,
                    libc::SOCK_DGRAM,
                    "the kernel's answer passes through"
                );
            }
            assert_eq!(bpfkit_test_support::netns::drain_udp(&bound), 5);
        }
        assert_eq!(count(&object, 3), 3, "getsockopt(SO_TYPE) calls");
        assert_eq!(count(&object, 4), 4, "AF_INET datagram sockets created");
        assert_eq!(count(&object, 8), 1, "binds to the port");
        assert_eq!(count(&object, 9), 5, "sendmsg to the port");
        assert_eq!(bpftool_cgroup(&cg.path).len(), 4);
        drop(links);
        assert!(bpftool_cgroup(&cg.path).is_empty());
    }
    fds.assert_no_leak();
}

#[test]
fn device_open_is_denied_by_a_cgroup_device_link() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("dev");
        let object = load_cgroup(0, 0, 0);
        let link = attach(&object, "dev_deny", &cg, &CgroupOptions::default());
        let (zero, null) = {
            let _in = cg.enter();
            (
                std::fs::File::open("/dev/zero").map(drop),
                std::fs::File::open("/dev/null").map(drop),
            )
        };
        assert_eq!(zero.unwrap_err().raw_os_error(), Some(libc::EPERM));
        assert!(null.is_ok(), "other devices stay open to the cgroup");
        assert_eq!(count(&object, 5), 1);
        drop(link);
        let _in = cg.enter();
        assert!(std::fs::File::open("/dev/zero").is_ok());
    }
    fds.assert_no_leak();
}

#[test]
fn exclusive_prog_attach_refuses_a_link_and_update_swaps_the_program() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("exclusive");
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let to_port = listener.local_addr().unwrap().port();
        let from_port = free_port();
        let object = load_cgroup(from_port, to_port, from_port);
        let attached = attach(
            &object,
            "connect4_rewrite",
            &cg,
            &prog_attach(CgroupAttachFlags::Exclusive),
        );
        let err = cgroup::attach(
            object.program("connect4_deny").unwrap(),
            &cg.dir,
            &CgroupOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.errno(), Some(libc::EPERM), "{err}");
        assert!(
            bpfkit::Report(&err)
                .to_string()
                .contains("BPF_F_ALLOW_MULTI"),
            "{err}"
        );

        attached
            .update_program(object.program("connect4_deny").unwrap().fd(), None)
            .unwrap();
        assert_eq!(
            bpftool_cgroup(&cg.path),
            [(
                u64::from(id(&object, "connect4_deny")),
                AttachType::CgroupInet4Connect.kernel_name().to_owned()
            )]
        );
        {
            let _in = cg.enter();
            let err = TcpStream::connect((Ipv4Addr::LOCALHOST, from_port)).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        }
        assert_eq!(count(&object, 1), 1);
        assert_eq!(count(&object, 0), 0);
        drop(attached);
        assert!(bpftool_cgroup(&cg.path).is_empty());
    }
    fds.assert_no_leak();
}

#[test]
fn the_options_hook_overrides_the_sections_and_program_types_are_checked() {
    let fds = FdCheck::start();
    {
        let object = Loader::new()
            .load_file(fixture("prog_net"))
            .expect("prog_net loads");
        let cg = TestCgroup::new("nohook");
        let err = cgroup::attach(
            object.program("tc_pass").unwrap(),
            &cg.dir,
            &CgroupOptions::default(),
        )
        .unwrap_err();
        assert!(
            bpfkit::Report(&err)
                .to_string()
                .contains("a cgroup program"),
            "{err}"
        );
        let link = cgroup::attach_path(
            object.program("cgroup_skb_ingress").unwrap(),
            &cg.path,
            &CgroupOptions {
                attach_type: Some(AttachType::CgroupInetEgress),
                ..Default::default()
            },
        )
        .unwrap();
        let q = cgroup::query(&cg.dir, AttachType::CgroupInetEgress, false).unwrap();
        assert_eq!(q.prog_ids, [id(&object, "cgroup_skb_ingress")]);
        drop(link);
    }
    fds.assert_no_leak();
}

#[test]
fn auto_attach_with_a_cgroup_attaches_every_cgroup_program_by_its_section() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("auto");
        let object = load_cgroup(0, 0, 0);
        let targets = bpfkit::programs::auto::AutoTargets {
            cgroup: Some(&cg.path),
            ..Default::default()
        };
        let links: Vec<Link> = object
            .programs()
            .map(|p| bpfkit::programs::auto::attach_with(p, &targets).unwrap())
            .collect();
        let mut expected: Vec<(u64, String)> = object
            .programs()
            .map(|p| {
                (
                    u64::from(p.id().unwrap()),
                    p.section()
                        .expected_attach_type
                        .unwrap()
                        .kernel_name()
                        .to_owned(),
                )
            })
            .collect();
        expected.sort();
        assert_eq!(expected.len(), 10);
        assert_eq!(bpftool_cgroup(&cg.path), expected);
        drop(links);
        assert!(bpftool_cgroup(&cg.path).is_empty());

        // Without a cgroup they name no target.
        let err = bpfkit::programs::auto::attach(object.program("dev_deny").unwrap()).unwrap_err();
        assert!(
            matches!(err, bpfkit::programs::AttachError::NotAutoAttachable { .. }),
            "{err}"
        );
    }
    fds.assert_no_leak();
}

#[test]
fn connect6_link_denies_ipv6_connects_to_the_port() {
    let fds = FdCheck::start();
    {
        let cg = TestCgroup::new("connect6");
        let listener = match TcpListener::bind(("::1", 0)) {
            Ok(l) => l,
            Err(e) => {
                println!("SKIP connect6: no IPv6 loopback here ({e})");
                return;
            }
        };
        let port = listener.local_addr().unwrap().port();
        let object = load_cgroup(0, 0, port);
        let link = attach(&object, "connect6_deny", &cg, &CgroupOptions::default());
        let result = {
            let _in = cg.enter();
            TcpStream::connect(("::1", port))
        };
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EPERM));
        assert_eq!(count(&object, 10), 1);
        // The same port over IPv4 passes connect6 by (no IPv4 listener: refused, not denied).
        let v4 = {
            let _in = cg.enter();
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        };
        assert_ne!(v4.err().and_then(|e| e.raw_os_error()), Some(libc::EPERM));
        drop(link);
        assert!(
            TcpStream::connect(("::1", port)).is_ok(),
            "allowed after drop"
        );
    }
    fds.assert_no_leak();
}
