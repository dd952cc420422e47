//! "Hello, tracepoint": one event per exec.

// ANCHOR: hello
use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::TracePointContext;
use guide_common::ExecEvent;

/// Exec events to userspace: 256 KiB of ring buffer shared by all CPUs.
#[map]
static EXECS_RING: RingBuf<{ 256 * 1024 }> = RingBuf::new();
// The record type in the object's BTF, for tools that decode the ring's records.
bpfkit_ebpf::btf_types!(ExecEvent);

/// Runs at every successful exec, in the new program (`sched:sched_process_exec`).
#[tracepoint(category = "sched", name = "sched_process_exec")]
fn hello(_ctx: TracePointContext) -> u32 {
    let event = ExecEvent {
        pid: helpers::current_tgid(),
        uid: helpers::current_uid(),
        comm: helpers::current_comm().unwrap_or([0; 16]),
    };
    // A full ring drops the event; the program never blocks.
    let _ = EXECS_RING.output(&event, 0);
    0
}
// ANCHOR_END: hello
