//! kprobe.session inside the kernel-matrix VM (the host has no kprobes): the program of
//! `SEC("kprobe.session/do_unlinkat")` is auto-attached with its own attach type
//! (`BPF_TRACE_KPROBE_SESSION`, Linux 6.10) and runs on entry and on return of every
//! `unlink(2)` of this thread, passing the session cookie from one run to the other.
//!
//! The fixture is `testdata/c/kprobe_session.bpf.c`, prebuilt on the host and found through
//! `$BPFKIT_PREBUILT_FIXTURES`. Whether the kernel has the attach type is probed from its
//! BTF: `/sys/kernel/btf/vmlinux` names `BPF_TRACE_KPROBE_SESSION` exactly when it does
//! (6.12 has it; 6.1 SKIPs). Outside the VM the test prints `SKIP`.

use bpfkit::loader::{Loader, Object};
use bpfkit::programs::auto;

fn count(object: &Object, slot: u32) -> u64 {
    let map = object.map("counts").expect("counts map");
    let mut value = [0u8; 8];
    assert!(map
        .lookup_bytes(&slot.to_ne_bytes(), &mut value, 0)
        .expect("lookup counts"));
    u64::from_ne_bytes(value)
}

fn gettid() -> u32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

#[test]
fn kprobe_session_runs_on_entry_and_return_of_do_unlinkat_in_the_vm() {
    if std::env::var_os("BPFKIT_VM").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIP kprobe_session: needs the kernel-matrix VM (BPFKIT_VM=1; run `cargo xtask \
             vm-test --kernel 6.12`): the host kernel has no kprobes"
        );
        return;
    }
    let btf = std::fs::read("/sys/kernel/btf/vmlinux").expect("read /sys/kernel/btf/vmlinux");
    let name = b"\0BPF_TRACE_KPROBE_SESSION\0";
    if !btf.windows(name.len()).any(|w| w == name) {
        eprintln!(
            "SKIP kprobe_session: this kernel has no kprobe.session links (its BTF does not \
             name BPF_TRACE_KPROBE_SESSION; CONFIG_FPROBE, 6.10)"
        );
        return;
    }
    let tid = gettid();
    let object = Loader::new()
        .set_global("target_tid", &tid.to_ne_bytes())
        .load_file(bpfkit_test_support::fixture("kprobe_session"))
        .expect("kprobe_session loads");
    let link = auto::attach(object.program("unlink_session").expect("unlink_session"))
        .expect("attach kprobe.session");
    let dir = std::env::temp_dir().join(format!("bpfkit-kprobe-session-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let file = dir.join("f");
    const UNLINKS: u64 = 3;
    for _ in 0..UNLINKS {
        std::fs::write(&file, b"x").expect("create");
        std::fs::remove_file(&file).expect("unlink");
    }
    assert_eq!(
        (count(&object, 0), count(&object, 1)),
        (UNLINKS, UNLINKS),
        "(entries, returns) of {UNLINKS} unlinks"
    );
    assert_eq!(
        count(&object, 2),
        UNLINKS * u64::from(tid),
        "each return run saw the cookie its entry run stored"
    );
    drop(link);
    std::fs::remove_dir(&dir).expect("remove scratch dir");
    assert_eq!(count(&object, 0), UNLINKS, "nothing after detach");
}
