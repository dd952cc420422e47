//! The `core-chains` test programs (`testdata/rust-ebpf/core-chains` and its C twin
//! `testdata/c/core_chains.bpf.c`): the record they write, the syscall that triggers them and
//! what the running kernel says they must read. Shared by bpfkit-gen's host test and the
//! VM test in `crates/bpfkit/tests/vm_core_chains.rs`.

use bpfkit_obj::btf::{Btf, Kind, Type};

/// The `getpgid` argument the programs react to.
pub const MAGIC: u64 = 0x7ead_beef;

/// The layout of `struct seen` in both programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub tgid: i32,
    pub ppid: i32,
    pub reset_on_fork: u64,
    pub arena: i64,
    pub arena_exists: u32,
    pub net_context_exists: u32,
    pub tgid_offset: u32,
    pub comm_size: u32,
    pub task_exists: u32,
    pub task_size: u32,
    pub list_head_matches: u32,
    pub parent_comm: String,
}

/// Decodes the 72-byte `struct seen` value.
pub fn decode(v: &[u8]) -> Seen {
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
pub fn magic_syscall(reset_on_fork: bool) {
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

/// What the running kernel's BTF and userspace say the program must read.
pub fn expected() -> Seen {
    let btf = Btf::parse_owned(std::fs::read("/sys/kernel/btf/vmlinux").expect("read vmlinux BTF"))
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
