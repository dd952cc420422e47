//! CO-RE chains from Rust over generated kernel types, the twin of
//! `testdata/c/core_chains.bpf.c` (same accesses, same record): `core_read!` through
//! `real_parent`, `core_read_str_into!` of the parent's `comm`, `core_read_bitfield!` of
//! `sched_reset_on_fork`, `core_enum_value!`/`core_enum_value_exists!` of
//! `BPF_MAP_TYPE_ARENA`, `core_field_exists!` of `bpf_net_context` (6.11+), the offset of
//! `tgid` and size of `comm`, and `task_struct`/`list_head` type relocations.
#![no_std]
#![no_main]

bpfkit_ebpf::generated_types!(mod vmlinux = "vmlinux.rs");

use bpfkit_ebpf::bindings::flags::BPF_NOEXIST;
use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::HashMap;
use bpfkit_ebpf::programs::{EbpfContext, TracePointContext};
use bpfkit_ebpf::{
    core_enum_value, core_enum_value_exists, core_field_exists, core_field_offset,
    core_field_size, core_read, core_read_bitfield, core_read_str_into, core_type_exists,
    core_type_matches, core_type_size,
};
use vmlinux::{bpf_map_type, list_head, task_struct, trace_event_raw_sys_enter};

/// The first syscall argument the test passes, so other processes are ignored.
const MAGIC: u64 = 0x7ead_beef;

/// What the program saw (the layout of the C twin's `struct seen`).
#[repr(C)]
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
    pub pad: u32,
    pub parent_comm: [u8; 16],
}

#[map]
static SEEN: HashMap<u32, Seen, 64> = HashMap::new();

#[tracepoint(category = "raw_syscalls", name = "sys_enter")]
fn on_sys_enter(ctx: TracePointContext) -> u32 {
    let record = ctx.as_ptr().cast::<trace_event_raw_sys_enter>();
    // SAFETY: a raw_syscalls/sys_enter program's context is this record; the verifier checks
    // the load against the record's size.
    if unsafe { (*record).args[0] } != MAGIC {
        return 0;
    }
    let task = helpers::current_task().cast::<task_struct>();
    let mut s = Seen {
        tgid: core_read!(task, tgid).unwrap_or(-1),
        ppid: core_read!(task, real_parent, tgid).unwrap_or(-1),
        reset_on_fork: 0,
        arena: 0,
        arena_exists: 0,
        net_context_exists: 0,
        tgid_offset: 0,
        comm_size: 0,
        task_exists: 0,
        task_size: 0,
        list_head_matches: 0,
        pad: 0,
        parent_comm: [0; 16],
    };
    core_read_str_into!(s.parent_comm, task, real_parent, comm);
    s.reset_on_fork = core_read_bitfield!(task, sched_reset_on_fork);
    // Kernels before 6.9 have no BPF_MAP_TYPE_ARENA: the value's relocation fails there, so
    // it sits behind the existence check (the verifier skips the dead branch).
    s.arena_exists = core_enum_value_exists!(bpf_map_type, BPF_MAP_TYPE_ARENA) as u32;
    if s.arena_exists != 0 {
        s.arena = core_enum_value!(bpf_map_type, BPF_MAP_TYPE_ARENA);
    }
    s.net_context_exists = core_field_exists!(task, bpf_net_context) as u32;
    s.tgid_offset = core_field_offset!(task, tgid);
    s.comm_size = core_field_size!(task, comm);
    s.task_exists = core_type_exists!(task_struct) as u32;
    s.task_size = core_type_size!(task_struct);
    s.list_head_matches = core_type_matches!(list_head) as u32;
    let _ = SEEN.insert(&helpers::current_tgid(), &s, BPF_NOEXIST);
    0
}

bpfkit_ebpf::license!("GPL");
