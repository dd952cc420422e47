//! CO-RE chains on other kernels (`cargo xtask vm-test --kernel 5.10|6.1|6.12`, x86_64 and
//! arm64): the Rust program `testdata/rust-ebpf/core-chains`, built on the host against the
//! host kernel's generated types, and its C twin `testdata/c/core_chains.bpf.c` are loaded
//! by bpfkit's loader in the guest, attached to `raw_syscalls/sys_enter`, and must read what the
//! guest kernel's BTF says: `real_parent->tgid`, the parent's comm, the
//! `sched_reset_on_fork` bitfield this thread sets, `BPF_MAP_TYPE_ARENA` (absent on 6.1,
//! 33 on 6.12), whether `task_struct.bpf_net_context` exists (6.11+), `tgid`'s offset and
//! `task_struct`'s size (both differ between kernels). Outside the VM it prints `SKIP`
//! (bpfkit-gen's `core_chains` test covers the host kernel).

use std::path::Path;

use bpfkit_test_support::core_chains::{decode, expected, magic_syscall, Seen};

/// Loads `object` with bpfkit, attaches `on_sys_enter`, makes the MAGIC syscall from this
/// thread with `SCHED_RESET_ON_FORK` set, and returns what the program recorded.
fn run(object: &Path) -> Seen {
    let loaded = bpfkit::loader::Loader::new()
        .load_file(object)
        .unwrap_or_else(|e| panic!("bpfkit relocates and loads {}: {e}", object.display()));
    let program = loaded
        .program("on_sys_enter")
        .expect("program on_sys_enter");
    let link = bpfkit::programs::auto::attach(program).expect("attach to raw_syscalls/sys_enter");
    magic_syscall(true);
    drop(link);
    // SAFETY: getpid has no memory effects.
    let pid = unsafe { libc::getpid() };
    let mut value = [0u8; 72];
    let found = loaded
        .map("SEEN")
        .expect("SEEN map")
        .lookup_bytes(&(pid as u32).to_ne_bytes(), &mut value, 0)
        .expect("lookup SEEN");
    assert!(found, "no entry for pid {pid} from {}", object.display());
    decode(&value)
}

#[test]
fn core_chains_read_this_kernels_layout_from_rust_and_c() {
    if std::env::var_os("BPFKIT_VM").is_none_or(|v| v != "1") {
        eprintln!(
            "SKIP vm_core_chains: runs in the kernel-matrix VM (BPFKIT_VM=1; `cargo xtask \
             vm-test`); bpfkit-gen's core_chains test covers the host kernel"
        );
        return;
    }
    let dir = std::env::var_os("BPFKIT_VM_FIXTURES").expect("BPFKIT_VM_FIXTURES is set in the VM");
    let want = expected();
    eprintln!("vm_core_chains: this kernel's BTF says {want:?}");
    let rust = run(&Path::new(&dir).join("core-chains.bpf.o"));
    assert_eq!(rust, want, "what the Rust program read");
    let c = run(&Path::new(&dir).join("core_chains.bpf.o"));
    assert_eq!(c, want, "what the C program read");
}
