//! CO-RE chains from Rust over generated kernel types (`testdata/rust-ebpf/core-chains`)
//! against their C twin (`testdata/c/core_chains.bpf.c`, clang-19 with libbpf's
//! `bpf_core_read.h`): the `.BTF.ext` CO-RE records (kind, root type, access string) are
//! the same, and both programs, loaded by libbpf, read the same values, which match the
//! running kernel's BTF and what userspace knows (pid, parent pid, the parent's comm, the
//! `SCHED_RESET_ON_FORK` flag this thread sets). Needs root, rust-src and clang-19.

use std::path::{Path, PathBuf};

use bpfkit_obj::btf::Btf;
use bpfkit_obj::object::ObjectSpec;
use bpfkit_test_support::core_chains::{decode, expected, magic_syscall, Seen};
use bpfkit_test_support::{attach_tracepoint, fixture, map_dump, prog_loadall};

/// `(kind, root type as "kind name", access string)` of every CO-RE record of the object,
/// sorted, duplicates removed (the optimiser may share one relocated value between two
/// identical accesses).
fn core_records(object: &Path) -> Vec<(String, String, String)> {
    let bytes = std::fs::read(object).expect("read object");
    let spec = ObjectSpec::parse(&bytes).expect("parse object");
    let btf_bytes = spec.btf.clone().expect("object has BTF");
    let btf = Btf::parse(&btf_bytes).expect("parse BTF");
    let mut out: Vec<(String, String, String)> = spec
        .programs
        .iter()
        .chain(&spec.subprograms)
        .flat_map(|p| &p.btf_ext.core_relos)
        .map(|r| {
            let kind = btf.kind(r.type_id).expect("root type kind");
            let name = btf.name(r.type_id).expect("root type name");
            (
                format!("{:?}", r.kind),
                format!("{kind:?} {name}"),
                r.access.clone(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Loads `object` with libbpf, attaches `on_sys_enter`, makes the MAGIC syscall and returns
/// what the program recorded.
fn run(object: &Path, reset_on_fork: bool) -> Seen {
    let loaded = prog_loadall(object)
        .unwrap_or_else(|e| panic!("libbpf relocates and loads {}: {e}", object.display()));
    let attached = attach_tracepoint(
        &loaded.pin_dir().join("on_sys_enter"),
        "raw_syscalls",
        "sys_enter",
        0,
        -1,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    magic_syscall(reset_on_fork);
    drop(attached);
    // SAFETY: getpid has no memory effects.
    let pid = unsafe { libc::getpid() };
    let seen = map_dump(loaded.map("SEEN").expect("SEEN map").id).expect("dump SEEN");
    let mine = seen
        .iter()
        .find(|e| u32::from_le_bytes(e.key[..4].try_into().expect("key")) == pid as u32)
        .unwrap_or_else(|| panic!("no entry for pid {pid} from {}", object.display()));
    decode(&mine.value)
}

/// Like [`run`], with bpfkit's loader and attach (what the 6.1/6.12 VMs use).
fn run_bpfkit(object: &Path) -> Seen {
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

fn build_rust() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let started = std::time::Instant::now();
    let objects = bpfkit_build::EbpfBuild::new(root.join("testdata/rust-ebpf/core-chains"))
        .target_dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-ebpf"))
        .quiet(true)
        .build()
        .unwrap_or_else(|e| panic!("building core-chains: {e}"));
    eprintln!(
        "built core-chains in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    objects
        .into_iter()
        .find(|o| o.name == "core-chains")
        .expect("core-chains object")
        .path
}

#[test]
fn rust_core_chains_emit_clangs_records_and_read_the_kernels_values() {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        println!("SKIP no /sys/kernel/btf/vmlinux");
        return;
    }
    let rust = build_rust();
    let c = fixture("core_chains");

    let ours = core_records(&rust);
    let clangs = core_records(&c);
    for (kind, root, access) in &ours {
        eprintln!("rust  {kind:<16} {root:<24} {access}");
    }
    for (kind, root, access) in &clangs {
        eprintln!("clang {kind:<16} {root:<24} {access}");
    }
    assert_eq!(ours, clangs, "CO-RE records: Rust (left) and clang (right)");
    assert_eq!(ours.len(), 15, "distinct CO-RE records");

    let want = expected();
    let from_rust = run(&rust, true);
    eprintln!("Rust program read {from_rust:?}");
    assert_eq!(from_rust, want, "what the Rust program read");
    let from_c = run(&c, true);
    assert_eq!(from_c, want, "what the C program read");
    // The bitfield is read, not a constant: without the flag it is 0.
    let without = run(&rust, false);
    assert_eq!(
        without,
        Seen {
            reset_on_fork: 0,
            ..want.clone()
        },
        "the Rust program without SCHED_RESET_ON_FORK"
    );

    // bpfkit's loader relocates both the same way.
    assert_eq!(run_bpfkit(&rust), want, "the Rust program loaded by bpfkit");
    assert_eq!(run_bpfkit(&c), want, "the C program loaded by bpfkit");
}
