//! `lsm_cgroup/<hook>` programs (`BPF_LSM_CGROUP`, Linux 6.0) attached to a cgroup the test
//! creates, in the kernel-matrix VMs (Debian's 6.1 and 6.12 have `bpf` in their LSM list).
//! The `lsm_cgroup` fixture denies user-space AF_INET SOCK_DGRAM sockets and counts each
//! denial: while the test process is in the cgroup `socket(2)` fails with EPERM, outside
//! it succeeds and is not counted; the program is listed by `BPF_PROG_QUERY` on the cgroup
//! while attached and gone after the link drops (then sockets succeed in the cgroup too).
//! Its Rust twin (`testdata/rust-ebpf/lsm-cgroup`, `#[lsm(hook = "socket_create", cgroup)]`,
//! shipped prebuilt in `$BPFKIT_VM_FIXTURES`) denies AF_INET6 SOCK_DGRAM sockets; both are
//! attached to one cgroup at once and each counts exactly its own denials.
//!
//! A probe decides: where `/sys/kernel/security/lsm` lacks `bpf` (the host: no securityfs
//! list, and no trampolines for LSM programs) the tests print `SKIP` and return.

mod common;

use std::os::fd::{FromRawFd, OwnedFd};

use bpfkit::loader::{Loader, Object};
use bpfkit::programs::auto::{self, AutoTargets};
use bpfkit::programs::cgroup::{self, CgroupAttachFlags, CgroupAttachMethod, CgroupOptions};
use bpfkit::programs::{lsm, AttachError};
use bpfkit_obj::object::AttachType;
use bpfkit_test_support::cgroup::{cgroup2_root, TestCgroup};
use bpfkit_test_support::fixture;
use common::FdCheck;

/// Whether `test` can run here: the BPF LSM is active and cgroup2 is mounted. Otherwise
/// prints the `SKIP` line.
fn can_run(test: &str) -> bool {
    if !lsm::bpf_lsm_active() {
        println!(
            "SKIP {test}: the BPF LSM is not active here ('bpf' is not in \
             /sys/kernel/security/lsm); run `cargo xtask vm-test --arch x86_64 [--kernel 6.12]`"
        );
        return false;
    }
    if cgroup2_root().is_none() {
        println!("SKIP {test}: no cgroup2 mount");
        return false;
    }
    true
}

/// `socket(AF_INET, SOCK_DGRAM, 0)`: Ok, or the errno.
fn udp_socket() -> Result<(), i32> {
    socket(libc::AF_INET, libc::SOCK_DGRAM)
}

/// `socket(family, kind, 0)`: Ok, or the errno.
fn socket(family: i32, kind: i32) -> Result<(), i32> {
    // SAFETY: socket(2) with integer arguments; a new fd is owned (and closed) right away.
    let raw = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: `raw` is a new fd nobody else owns.
    drop(unsafe { OwnedFd::from_raw_fd(raw) });
    Ok(())
}

/// `socket(AF_INET, SOCK_STREAM, 0)` succeeds (the program allows every other socket).
fn tcp_socket_ok() -> bool {
    std::net::TcpListener::bind("127.0.0.1:0").is_ok()
}

fn load() -> Object {
    Loader::new()
        .load_file(fixture("lsm_cgroup"))
        .expect("lsm_cgroup loads")
}

fn denied(object: &Object) -> u64 {
    count(object, "counts")
}

/// Slot 0 of the object's `map`.
fn count(object: &Object, map: &str) -> u64 {
    let mut value = [0u8; 8];
    assert!(object
        .map(map)
        .unwrap()
        .lookup_bytes(&0u32.to_ne_bytes(), &mut value, 0)
        .unwrap());
    u64::from_ne_bytes(value)
}

/// The ids of the lsm_cgroup programs attached to the cgroup (`BPF_PROG_QUERY`).
fn attached(cgroup: &TestCgroup) -> Vec<u32> {
    cgroup::query(&cgroup.dir, AttachType::LsmCgroup, false)
        .expect("BPF_PROG_QUERY")
        .prog_ids
}

/// The link is a cgroup link of `BPF_LSM_CGROUP` on the test cgroup, holding `prog_id`.
fn assert_cgroup_link(link: &bpfkit::links::Link, cgroup: &TestCgroup, prog_id: u32) {
    use std::os::unix::fs::MetadataExt;
    let info = link.info().expect("link info");
    assert_eq!(info.prog_id, prog_id);
    assert_eq!(
        info.target,
        bpfkit::info::LinkTarget::Cgroup {
            cgroup_id: std::fs::metadata(&cgroup.path).unwrap().ino(),
            attach_type: AttachType::LsmCgroup as u32,
        }
    );
}

#[test]
fn lsm_cgroup_link_denies_sockets_only_inside_the_cgroup() {
    let test = "lsm_cgroup_link_denies_sockets_only_inside_the_cgroup";
    if !can_run(test) {
        return;
    }
    let fds = FdCheck::start();
    {
        let cgroup = TestCgroup::new("lsm-link");
        let object = load();
        let program = object.program("deny_udp4").unwrap();
        let link = lsm::attach_cgroup(program, &cgroup.dir, &CgroupOptions::default())
            .expect("lsm_cgroup link");
        let prog_id = program.id().unwrap();
        assert_cgroup_link(&link, &cgroup, prog_id);
        assert_eq!(attached(&cgroup), [prog_id]);

        const ATTEMPTS: u64 = 3;
        {
            let _member = cgroup.enter();
            for _ in 0..ATTEMPTS {
                assert_eq!(
                    udp_socket(),
                    Err(libc::EPERM),
                    "UDP socket inside the cgroup"
                );
            }
            assert!(tcp_socket_ok(), "TCP sockets are allowed inside the cgroup");
        }
        assert_eq!(udp_socket(), Ok(()), "UDP socket outside the cgroup");
        assert_eq!(denied(&object), ATTEMPTS);

        drop(link);
        assert_eq!(attached(&cgroup), Vec::<u32>::new(), "detached on drop");
        {
            let _member = cgroup.enter();
            assert_eq!(
                udp_socket(),
                Ok(()),
                "UDP socket in the cgroup once detached"
            );
        }
        assert_eq!(denied(&object), ATTEMPTS);
    }
    fds.assert_no_leak();
}

#[test]
fn lsm_cgroup_attaches_by_auto_and_prog_attach_and_refuses_the_wrong_call() {
    let test = "lsm_cgroup_attaches_by_auto_and_prog_attach_and_refuses_the_wrong_call";
    if !can_run(test) {
        return;
    }
    let fds = FdCheck::start();
    {
        let cgroup = TestCgroup::new("lsm-auto");
        let object = load();
        let program = object.program("deny_udp4").unwrap();
        let prog_id = program.id().unwrap();

        let err = lsm::attach(program).expect_err("lsm::attach of an lsm_cgroup program");
        assert!(
            err.to_string().contains("lsm::attach_cgroup"),
            "{}",
            bpfkit::Report(&err)
        );
        assert!(matches!(
            auto::attach_with(program, &AutoTargets::default()),
            Err(AttachError::NotAutoAttachable { .. })
        ));

        // `bpfkit run --cgroup` path: a cgroup link.
        let targets = AutoTargets {
            cgroup: Some(&cgroup.path),
            ..Default::default()
        };
        let link = auto::attach_with(program, &targets).expect("auto attach to the cgroup");
        assert_cgroup_link(&link, &cgroup, prog_id);
        assert_eq!(attached(&cgroup), [prog_id]);
        {
            let _member = cgroup.enter();
            assert_eq!(udp_socket(), Err(libc::EPERM));
        }
        drop(link);
        assert_eq!(attached(&cgroup), Vec::<u32>::new());

        // BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI: no link id, detached on drop too.
        let options = CgroupOptions {
            method: CgroupAttachMethod::ProgAttach,
            flags: CgroupAttachFlags::AllowMulti,
            ..Default::default()
        };
        let attachment = lsm::attach_cgroup_path(program, &cgroup.path, &options)
            .expect("lsm_cgroup BPF_PROG_ATTACH");
        assert!(
            attachment.info().is_err(),
            "no bpf link behind BPF_PROG_ATTACH"
        );
        assert_eq!(attached(&cgroup), [prog_id]);
        {
            let _member = cgroup.enter();
            assert_eq!(udp_socket(), Err(libc::EPERM));
        }
        drop(attachment);
        assert_eq!(attached(&cgroup), Vec::<u32>::new());
        {
            let _member = cgroup.enter();
            assert_eq!(udp_socket(), Ok(()));
        }
        assert_eq!(denied(&object), 2);
    }
    fds.assert_no_leak();
}

#[test]
fn rust_lsm_cgroup_program_denies_udp6_sockets_beside_the_c_one() {
    let test = "rust_lsm_cgroup_program_denies_udp6_sockets_beside_the_c_one";
    if !can_run(test) {
        return;
    }
    let Some(dir) = std::env::var_os("BPFKIT_VM_FIXTURES") else {
        println!("SKIP {test}: no $BPFKIT_VM_FIXTURES (the VM ships the Rust object there)");
        return;
    };
    let fds = FdCheck::start();
    {
        let cgroup = TestCgroup::new("lsm-rust");
        let path = std::path::Path::new(&dir).join("lsm-cgroup.bpf.o");
        let rust = Loader::new()
            .load_file(&path)
            .unwrap_or_else(|e| panic!("loading {}: {:#}", path.display(), bpfkit::Report(&e)));
        let rust_program = rust.program("deny_udp6").expect("program deny_udp6");
        assert_eq!(rust_program.section().name, "lsm_cgroup/socket_create");
        assert_eq!(
            rust_program.section().expected_attach_type,
            Some(AttachType::LsmCgroup)
        );
        let c = load();
        let c_program = c.program("deny_udp4").unwrap();
        let targets = AutoTargets {
            cgroup: Some(&cgroup.path),
            ..Default::default()
        };
        let rust_link = auto::attach_with(rust_program, &targets).expect("attach the Rust one");
        let c_link = lsm::attach_cgroup(c_program, &cgroup.dir, &CgroupOptions::default())
            .expect("attach the C one");
        assert_cgroup_link(&rust_link, &cgroup, rust_program.id().unwrap());
        let mut both = vec![rust_program.id().unwrap(), c_program.id().unwrap()];
        both.sort();
        let mut listed = attached(&cgroup);
        listed.sort();
        assert_eq!(listed, both);

        const UDP6: u64 = 4;
        const UDP4: u64 = 2;
        {
            let _member = cgroup.enter();
            for _ in 0..UDP6 {
                assert_eq!(socket(libc::AF_INET6, libc::SOCK_DGRAM), Err(libc::EPERM));
            }
            for _ in 0..UDP4 {
                assert_eq!(udp_socket(), Err(libc::EPERM));
            }
            assert_eq!(socket(libc::AF_INET6, libc::SOCK_STREAM), Ok(()));
            assert!(tcp_socket_ok());
        }
        assert_eq!(socket(libc::AF_INET6, libc::SOCK_DGRAM), Ok(()), "outside");
        assert_eq!(count(&rust, "COUNTS"), UDP6, "the Rust program's denials");
        assert_eq!(denied(&c), UDP4, "the C program's denials");

        drop(rust_link);
        assert_eq!(attached(&cgroup), [c_program.id().unwrap()]);
        {
            let _member = cgroup.enter();
            assert_eq!(socket(libc::AF_INET6, libc::SOCK_DGRAM), Ok(()), "detached");
            assert_eq!(udp_socket(), Err(libc::EPERM), "the C one still denies");
        }
        drop(c_link);
        assert_eq!(attached(&cgroup), Vec::<u32>::new());
        assert_eq!(count(&rust, "COUNTS"), UDP6);
        assert_eq!(denied(&c), UDP4 + 1);
    }
    fds.assert_no_leak();
}
