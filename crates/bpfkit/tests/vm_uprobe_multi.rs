//! uprobe.multi inside the kernel-matrix VM: one link on two functions of this binary, each
//! with its own BPF cookie, asserting what the program summed — on the guest kernels the
//! host suite does not cover (6.12 has uprobe.multi links; 6.1 predates them and SKIPs).
//!
//! The fixture is `testdata/c/attach_multi.bpf.c`, prebuilt on the host and found through
//! `$BPFKIT_PREBUILT_FIXTURES`. Whether the kernel has the link is probed from its BTF:
//! `/sys/kernel/btf/vmlinux` names `BPF_TRACE_UPROBE_MULTI` exactly when it does.
//! Outside the VM the test prints `SKIP` (the host suite's `attach_uprobe` covers the host).

use bpfkit::loader::{Loader, Object};
use bpfkit::programs::uprobe;

/// First function the link covers (cookie 1000).
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_vm_uprobe_multi_one(value: i64) -> i64 {
    std::hint::black_box(value) * 3
}

/// Second function the link covers (cookie 1).
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfkit_vm_uprobe_multi_two(value: i64) -> i64 {
    std::hint::black_box(value) + 7
}

fn count(object: &Object, slot: u32) -> u64 {
    let map = object.map("counts").expect("counts map");
    let mut value = [0u8; 8];
    assert!(map
        .lookup_bytes(&slot.to_ne_bytes(), &mut value, 0)
        .expect("lookup counts"));
    u64::from_ne_bytes(value)
}

/// Whether the running kernel's BTF names the uprobe.multi attach type.
fn kernel_has_uprobe_multi() -> bool {
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").expect("read /sys/kernel/btf/vmlinux");
    let name = b"\0BPF_TRACE_UPROBE_MULTI\0";
    btf.windows(name.len()).any(|w| w == name)
}

#[test]
fn uprobe_multi_link_sums_each_functions_cookie_in_the_vm() {
    if std::env::var_os("BPFKIT_VM").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIP uprobe_multi: needs the kernel-matrix VM (BPFKIT_VM=1; run `cargo xtask \
             vm-test --kernel 6.12`); the host suite's attach_uprobe covers the host kernel"
        );
        return;
    }
    if !kernel_has_uprobe_multi() {
        eprintln!(
            "SKIP uprobe_multi: this kernel has no uprobe.multi links (its BTF does not name \
             BPF_TRACE_UPROBE_MULTI; CONFIG_UPROBES, 6.6)"
        );
        return;
    }
    let pid = std::process::id() as i32;
    let object = Loader::new()
        .set_global("target_pid", &pid.to_ne_bytes())
        .load_file(bpfkit_test_support::fixture("attach_multi"))
        .expect("attach_multi loads");
    let exe = std::env::current_exe().expect("current_exe");
    let offsets: Vec<u64> = ["bpfkit_vm_uprobe_multi_one", "bpfkit_vm_uprobe_multi_two"]
        .iter()
        .map(|s| {
            uprobe::symbol_file_offset(&exe, s)
                .unwrap_or_else(|e| panic!("offset of {s} in {}: {e}", exe.display()))
        })
        .collect();
    let link = uprobe::attach_multi(
        object.program("on_cookie").expect("on_cookie"),
        &exe,
        &offsets,
        &uprobe::UprobeMultiOptions {
            pid: Some(pid),
            cookies: vec![1000, 1],
            ..Default::default()
        },
    )
    .expect("attach uprobe.multi");
    assert_eq!(
        link.info().expect("link info").link_type,
        bpfkit::sys::uapi::BPF_LINK_TYPE_UPROBE_MULTI
    );
    assert_eq!(bpfkit_vm_uprobe_multi_one(5), 15);
    assert_eq!(bpfkit_vm_uprobe_multi_two(5), 12);
    assert_eq!(bpfkit_vm_uprobe_multi_two(6), 13);
    assert_eq!(
        (count(&object, 0), count(&object, 1)),
        (1000 + 1 + 1, 3),
        "cookie sum and hits: one call of the first function, two of the second"
    );
    drop(link);
    bpfkit_vm_uprobe_multi_one(5);
    assert_eq!(count(&object, 1), 3, "nothing counted after detach");
}
