//! CO-RE chains from Rust over generated kernel types (`testdata/rust-ebpf/core-chains`)
//! against their C twin (`testdata/c/core_chains.bpf.c`, clang-19 with libbpf's
//! `bpf_core_read.h`): the `.BTF.ext` CO-RE records (kind, root type, access string) are
//! the same, and both programs, loaded by libbpf, read the same values, which match the
//! running kernel's BTF and what userspace knows (pid, parent pid, the parent's comm, the
//! `SCHED_RESET_ON_FORK` flag this thread sets). Needs root, rust-src and clang-19.

use std::path::{Path, PathBuf};

use bpfkit_obj::btf::{Btf, Kind, Type};
use bpfkit_obj::object::ObjectSpec;
use bpfkit_test_support::{attach_tracepoint, fixture, map_dump, prog_loadall};

const MAGIC: u64 = 0x7ead_beef;

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

fn kernel_btf() -> Btf<'static> {
    Btf::parse_owned(std::fs::read("/sys/kernel/btf/vmlinux").expect("read vmlinux BTF"))
        .expect("parse vmlinux BTF")
}

/// The layout of `struct seen` in both programs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    tgid: i32,
    ppid: i32,
    reset_on_fork: u64,
    arena: i64,
    arena_exists: u32,
    net_context_exists: u32,
    tgid_offset: u32,
    comm_size: u32,
    task_exists: u32,
    task_size: u32,
    list_head_matches: u32,
    parent_comm: String,
}

fn decode(v: &[u8]) -> Seen {
    let u32_at = |at: usize| u32::from_le_bytes(v[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(v[at..at + 8].try_into().expect("8 bytes"));
    let comm = &v[56..72];
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    Seen {
        tgid: u32_at(0) as i32,
        ppid: u32_at(4) as i32,
        reset_on_fork: u64_at(8),
        arena: u64_at(16) as i64,
        arena_exists: u32_at(24),
        net_context_exists: u32_at(28),
        tgid_offset: u32_at(32),
        comm_size: u32_at(36),
        task_exists: u32_at(40),
        task_size: u32_at(44),
        list_head_matches: u32_at(48),
        parent_comm: String::from_utf8_lossy(&comm[..end]).into_owned(),
    }
}

/// Makes the MAGIC syscall from this thread (with `SCHED_RESET_ON_FORK` set when
/// `reset_on_fork`, cleared after).
fn magic_syscall(reset_on_fork: bool) {
    // SAFETY: sched_param is plain integers (more of them on musl); all-zero is priority 0.
    let param: libc::sched_param = unsafe { std::mem::zeroed() };
    // The raw syscall: musl's sched_setscheduler() is a stub returning ENOSYS.
    let setscheduler = |policy: libc::c_int| {
        // SAFETY: changes only this thread's scheduling policy; `param` outlives the call.
        unsafe {
            libc::syscall(
                libc::SYS_sched_setscheduler,
                0 as libc::c_long,
                policy as libc::c_long,
                &param as *const libc::sched_param,
            )
        }
    };
    let flag = if reset_on_fork {
        libc::SCHED_RESET_ON_FORK
    } else {
        0
    };
    let set = setscheduler(libc::SCHED_OTHER | flag);
    assert_eq!(set, 0, "sched_setscheduler(SCHED_RESET_ON_FORK)");
    // SAFETY: no memory effects; getpgid of a pid that does not exist only returns ESRCH.
    unsafe { libc::syscall(libc::SYS_getpgid, MAGIC as libc::c_long) };
    let restored = setscheduler(libc::SCHED_OTHER);
    assert_eq!(restored, 0, "sched_setscheduler(SCHED_OTHER)");
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

/// What the running kernel's BTF and userspace say the program must read.
fn expected() -> Seen {
    let btf = kernel_btf();
    let task = btf
        .id_by_name_kind("task_struct", Kind::Struct)
        .expect("task_struct");
    let Ok(Type::Struct(task_type)) = btf.type_by_id(task) else {
        panic!("task_struct is a struct");
    };
    let member = |name: &str| task_type.members.iter().find(|m| m.name == name);
    let map_type = btf
        .id_by_name_kind("bpf_map_type", Kind::Enum)
        .expect("enum bpf_map_type");
    let Ok(Type::Enum(map_type)) = btf.type_by_id(map_type) else {
        panic!("bpf_map_type is an enum");
    };
    let arena = map_type
        .values
        .iter()
        .find(|v| v.name == "BPF_MAP_TYPE_ARENA");
    // SAFETY: getpid/getppid have no memory effects.
    let (pid, ppid) = unsafe { (libc::getpid(), libc::getppid()) };
    let mut parent_comm = std::fs::read_to_string(format!("/proc/{ppid}/comm"))
        .expect("parent's comm")
        .trim_end_matches('\n')
        .to_string();
    parent_comm.truncate(15);
    Seen {
        tgid: pid,
        ppid,
        reset_on_fork: 1,
        arena: arena.map_or(0, |v| v.raw as i64),
        arena_exists: arena.is_some() as u32,
        net_context_exists: member("bpf_net_context").is_some() as u32,
        tgid_offset: member("tgid").expect("tgid").bit_offset / 8,
        comm_size: 16,
        task_exists: 1,
        task_size: task_type.size,
        list_head_matches: 1,
        parent_comm,
    }
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
