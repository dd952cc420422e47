
/// Runs at every successful exec (`sched:sched_process_exec`), in the new program.
#[tracepoint(category = "sched", name = "sched_process_exec")]
fn {{program}}(_ctx: TracePointContext) -> u32 {
    send(helpers::current_uid());
    0
}

bpfkit_ebpf::license!("GPL");
