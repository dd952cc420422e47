//! CO-RE chains on other kernels (`cargo xtask vm-test --kernel 6.1|6.12`, x86_64): the Rust
//! program `testdata/rust-ebpf/core-chains`, built on the host against the host kernel's
//! generated types, and its C twin `testdata/c/core_chains.bpf.c` are loaded by bpfkit's
//! loader in the guest, attached to `raw_syscalls/sys_enter`, and must read what the
//! guest kernel's BTF says: `real_parent->tgid`, the parent's comm, the
//! `sched_reset_on_fork` bitfield this thread sets, `BPF_MAP_TYPE_ARENA` (absent on 6.1,
//! 33 on 6.12), whether `task_struct.bpf_net_context` exists (6.11+), `tgid`'s offset and
//! `task_struct`'s size (both differ between kernels). Outside the VM it prints `SKIP`
//! (bpfkit-gen's `core_chains` test covers the host kernel).

use std::path::Path;

use bpfkit_obj::btf::{Btf, Kind, Type};

const MAGIC: u64 = 0x7ead_beef;

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
    let u32_at = |at: usize| u32::from_ne_bytes(v[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_ne_bytes(v[at..at + 8].try_into().expect("8 bytes"));
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

/// What the running kernel's BTF and userspace say the programs must read.
fn expected() -> Seen {
    let btf = Btf::parse_owned(std::fs::read("/sys/kernel/btf/vmlinux").expect("vmlinux BTF"))
        .expect("parse vmlinux BTF");
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
    let set = setscheduler(libc::SCHED_OTHER | libc::SCHED_RESET_ON_FORK);
    assert_eq!(set, 0, "sched_setscheduler(SCHED_RESET_ON_FORK)");
    // SAFETY: no memory effects; getpgid of a pid that does not exist only returns ESRCH.
    unsafe { libc::syscall(libc::SYS_getpgid, MAGIC as libc::c_long) };
    let restored = setscheduler(libc::SCHED_OTHER);
    assert_eq!(restored, 0, "sched_setscheduler(SCHED_OTHER)");
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
