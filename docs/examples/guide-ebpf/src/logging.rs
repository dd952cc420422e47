//! Logging from the kernel with bpfkit-log.

// ANCHOR: logging
use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::tracepoint;
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_log_ebpf::{debug, info};

#[tracepoint(category = "syscalls", name = "sys_enter_getppid")]
fn log_getppid(_ctx: TracePointContext) -> u32 {
    if !crate::is_target() {
        return 0;
    }
    let comm = helpers::current_comm().unwrap_or([0; 16]);
    // Checked at compile time: two placeholders, two arguments of printable types.
    info!("getppid from pid {} ({})", helpers::current_pid(), comm);
    // Above the level built in (`info` by default): the verifier never walks this call.
    debug!("cpu {:x}", helpers::smp_processor_id());
    0
}
// ANCHOR_END: logging
