//! One program per program type the host kernel runs (BPF_PROG_TEST_RUN) or attaches
//! (raw tracepoint open, perf events), each recording what its context showed in `RESULTS`.
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{
    btf_tracepoint, cgroup_skb, classifier, flow_dissector, map, perf_event, raw_tracepoint,
    socket_filter,
};
use bpfkit_ebpf::bindings::flags::BPF_ANY;
use bpfkit_ebpf::bindings::flags::BPF_LOCAL_STORAGE_GET_F_CREATE;
use bpfkit_ebpf::maps::{Array, LruHashMap, StackTrace, TaskStorage};
use bpfkit_ebpf::programs::{
    BtfTracePointContext, CgroupSkbContext, FlowDissectorContext, PerfEventContext,
    RawTracePointContext, SocketFilterContext, TcContext,
};

#[map]
static RESULTS: Array<u64, 16> = Array::new();
#[map]
static EXECED: LruHashMap<u32, u32, 1024> = LruHashMap::new();
#[map]
static EXECS_PER_TASK: TaskStorage<u64> = TaskStorage::new();
#[map]
static STACKS: StackTrace<64> = StackTrace::new();

fn store(slot: u32, value: u64) {
    let _ = RESULTS.set(slot, &value, 0);
}

/// tc (cls_bpf): packet length and EtherType; marks the packet and returns TC_ACT_OK.
#[classifier]
fn tc_observe(mut ctx: TcContext) -> i32 {
    store(0, ctx.len() as u64);
    store(1, u16::from_be(ctx.protocol() as u16) as u64);
    ctx.set_mark(0x42);
    store(2, ctx.mark() as u64);
    0
}

/// Socket filter: keeps the first 20 bytes of every packet.
#[socket_filter]
fn socket_observe(ctx: SocketFilterContext) -> u32 {
    store(3, ctx.len() as u64);
    store(4, ctx.load::<u8>(12).map_or(0, |b| b as u64));
    20
}

/// cgroup_skb egress: allows the packet after recording its length.
#[cgroup_skb(attach = "egress")]
fn cgroup_egress(ctx: CgroupSkbContext) -> i32 {
    store(5, ctx.len() as u64);
    1
}

/// Flow dissector: records where the network header starts and the packet's length.
#[flow_dissector]
fn dissect(mut ctx: FlowDissectorContext) -> i32 {
    let len = (ctx.data_end() - ctx.data()) as u64;
    let nhoff = ctx.flow_keys().map_or(0, |k| {
        // SAFETY: the kernel's flow keys for this run.
        unsafe { k.as_ref().nhoff as u64 }
    });
    store(6, nhoff * 1000 + len);
    0 // BPF_OK
}

/// Raw tracepoint (run with BPF_PROG_TEST_RUN and two arguments).
#[raw_tracepoint(tracepoint = "sys_enter")]
fn raw_args(ctx: RawTracePointContext) -> i32 {
    // SAFETY: the test run passes two u64 arguments.
    let (a, b) = unsafe { (ctx.arg::<u64>(0), ctx.arg::<u64>(1)) };
    store(7, a * 1000 + b);
    0
}

/// BTF tracepoint on sched_process_exec: every pid that exec'd.
#[btf_tracepoint(function = "sched_process_exec")]
fn on_exec(_ctx: BtfTracePointContext) -> i32 {
    // Task-local storage of the exec'ing task counts its execs.
    // SAFETY: bpf_get_current_task_btf returns the current task as a BTF pointer.
    let task = unsafe { helpers::bpf_get_current_task_btf() };
    // SAFETY: a trusted task_struct pointer, as task storage requires.
    let count = unsafe { EXECS_PER_TASK.get_ptr_mut(task, None, BPF_LOCAL_STORAGE_GET_F_CREATE) };
    let execs = count.map_or(0, |mut c| {
        // SAFETY: the task's storage, alive while the task is.
        unsafe {
            *c.as_mut() += 1;
            *c.as_ref()
        }
    });
    let _ = EXECED.insert(&helpers::current_tgid(), &(execs as u32), BPF_ANY);
    0
}

/// perf_event (software cpu-clock): counts samples of the traced thread.
#[perf_event]
fn on_sample(ctx: PerfEventContext) -> i32 {
    if let Some(mut count) = RESULTS.get_ptr_mut(9) {
        // SAFETY: a live array element; a lost increment under a race only lowers the count.
        unsafe { *count.as_mut() += 1 };
    }
    store(10, ctx.sample_period());
    // The sampled user stack (the test spins in user space), stored for userspace.
    if let Ok(id) = STACKS.get_stackid(&ctx, bpfkit_ebpf::bindings::flags::BPF_F_USER_STACK) {
        store(11, id as u64 + 1);
    }
    0
}

bpfkit_ebpf::license!("GPL");
