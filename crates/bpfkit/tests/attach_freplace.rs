//! freplace: an extension program replaces a global function of a loaded XDP program while
//! its link lives.

mod common;

use bpfkit::loader::Loader;
use bpfkit::programs::{self, extension};
use bpfkit::sys::{self, TestRunAttr};
use bpfkit_test_support::fixture;
use common::FdCheck;

fn run_xdp(prog: std::os::fd::BorrowedFd<'_>) -> u32 {
    let packet = [0u8; 64];
    sys::prog_test_run(
        prog,
        TestRunAttr {
            data_in: &packet,
            ..Default::default()
        },
    )
    .unwrap()
    .retval
}

#[test]
fn freplace_swaps_the_target_function_until_the_link_is_dropped() {
    let fds = FdCheck::start();
    let target_object = Loader::new()
        .load_file(fixture("attach_freplace_target"))
        .unwrap();
    let target = target_object.program("xdp_verdict").unwrap();
    assert_eq!(
        run_xdp(target.fd()),
        1,
        "XDP_DROP from the original verdict()"
    );

    let btf_id = extension::target_btf_id(target.fd(), "verdict").unwrap();
    let missing = extension::target_btf_id(target.fd(), "no_such_function").unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("no function 'no_such_function'"),
        "{missing}"
    );

    let without_target = Loader::new()
        .load_file(fixture("attach_freplace"))
        .unwrap_err();
    assert!(
        without_target.to_string().contains("extension_target"),
        "{without_target}"
    );

    let loaded = Loader::new()
        .extension_target("new_verdict", target.fd(), btf_id)
        .unwrap()
        .load_file(fixture("attach_freplace"));
    let ext_object = match loaded {
        Ok(o) => o,
        Err(e) => {
            // This host refuses EXT programs at load like every trampoline program (EPERM,
            // ftrace locked down); the error names the program and the reason. The full
            // path runs in the VM.
            let text = bpfkit::Report(&e).to_string();
            assert!(text.contains("program 'new_verdict'"), "{text}");
            assert!(text.contains("Operation not permitted"), "{text}");
            assert!(text.contains("freplace"), "{text}");
            assert_eq!(run_xdp(target.fd()), 1, "the target is unchanged");
            drop(target_object);
            fds.assert_no_leak();
            return;
        }
    };
    let ext = ext_object.program("new_verdict").unwrap();
    let link = programs::auto::attach(ext).unwrap();
    assert_eq!(
        link.info().unwrap().link_type,
        bpfkit::sys::uapi::BPF_LINK_TYPE_TRACING
    );
    assert_eq!(run_xdp(target.fd()), 2, "XDP_PASS from the replacement");
    drop(link);
    assert_eq!(run_xdp(target.fd()), 1, "the original is back after detach");
    drop((ext_object, target_object));
    fds.assert_no_leak();
}
