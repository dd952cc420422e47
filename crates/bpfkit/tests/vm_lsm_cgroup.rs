//! `lsm_cgroup/<hook>` programs (`BPF_LSM_CGROUP`, Linux 6.0) attached to a cgroup the test
//! creates, in the kernel-matrix VMs (Debian's 6.1 and 6.12 have `bpf` in their LSM list).
//! The `lsm_cgroup` fixture denies user-space AF_INET SOCK_DGRAM sockets and counts each
//! denial: while the test process is in the cgroup `socket(2)` fails with EPERM, outside
//! it succeeds and is not counted; the program is listed by `BPF_PROG_QUERY` on the cgroup
//! while attached and gone after the link drops (then sockets succeed in the cgroup too).
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
    // SAFETY: socket(2) with constant arguments; a new fd is owned (and closed) right away.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
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
    let mut value = [0u8; 8];
    assert!(object
        .map("counts")
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
