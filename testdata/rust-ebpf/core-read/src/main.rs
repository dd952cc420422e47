//! CO-RE from Rust through bpfkit-ebpf's `core_read!` chains: the caller's tgid and its parent's
//! tgid read from `task_struct` at the running kernel's offsets, on `getppid`.
#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::flags::BPF_ANY;
use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::HashMap;
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::{core_field_exists, core_field_size, core_read};

/// The kernel's `task_struct`, reduced to what is read; offsets come from CO-RE.
#[allow(non_camel_case_types)]
#[repr(C)]
pub struct task_struct {
    pub real_parent: *const task_struct,
    pub tgid: i32,
    pub bpfkit_not_in_any_kernel: u64,
}

/// What the program read for one process.
#[repr(C)]
pub struct Seen {
    pub tgid: i32,
    pub ppid: i32,
    pub tgid_size: u32,
    pub missing_exists: u32,
}

#[map]
static SEEN: HashMap<u32, Seen, 256> = HashMap::new();

#[tracepoint(category = "syscalls", name = "sys_enter_getppid")]
fn on_getppid(_ctx: TracePointContext) -> u32 {
    let task = helpers::current_task().cast::<task_struct>();
    let tgid = core_read!(task, tgid).unwrap_or(-1);
    let ppid = core_read!(task, real_parent, tgid).unwrap_or(-1);
    let seen = Seen {
        tgid,
        ppid,
        tgid_size: core_field_size!(task, tgid),
        missing_exists: core_field_exists!(task, bpfkit_not_in_any_kernel) as u32,
    };
    let _ = SEEN.insert(&helpers::current_tgid(), &seen, BPF_ANY);
    0
}

bpfkit_ebpf::license!("GPL");
