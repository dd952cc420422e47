//! CO-RE over generated kernel types.

// ANCHOR: core_read
use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::HashMap;
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::{core_field_exists, core_read, core_read_str_into};

use crate::vmlinux::task_struct;

/// What the program read from the current task, by thread id.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Lineage {
    /// `current->real_parent->tgid`.
    pub ppid: i32,
    /// Whether this kernel's `task_struct` has `bpf_net_context` (6.11+).
    pub has_net_context: u32,
    /// `current->real_parent->comm`.
    pub parent_comm: [u8; 16],
}

#[map]
static LINEAGE: HashMap<u32, Lineage, 64> = HashMap::new();

#[tracepoint(category = "syscalls", name = "sys_enter_getppid")]
fn lineage(_ctx: TracePointContext) -> u32 {
    if !crate::is_target() {
        return 0;
    }
    let task = helpers::current_task().cast::<task_struct>();
    let mut seen = Lineage {
        // task->real_parent->tgid: each step is a CO-RE relocated read; -1 if one faults.
        ppid: core_read!(task, real_parent, tgid).unwrap_or(-1),
        // A field some kernels lack: the check is relocated too (0 where it is missing).
        has_net_context: core_field_exists!(task, bpf_net_context) as u32,
        parent_comm: [0; 16],
    };
    // A string at the end of a chain, copied into an array.
    core_read_str_into!(seen.parent_comm, task, real_parent, comm);
    let _ = LINEAGE.insert(&helpers::current_pid(), &seen, 0);
    0
}
// ANCHOR_END: core_read
