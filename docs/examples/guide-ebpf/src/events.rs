//! Ring buffer and perf buffer: the same record sent both ways.

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{PerCpuArray, PerfEventArray, RingBuf};
use bpfkit_ebpf::programs::TracePointContext;
use guide_common::Call;

// ANCHOR: event_maps
/// One ring shared by every CPU: records come out in the order they were reserved.
#[map]
static CALLS_RING: RingBuf<{ 64 * 1024 }> = RingBuf::new();

/// One perf ring per CPU; userspace opens them all (its size: the number of CPUs).
#[map]
static CALLS_PERF: PerfEventArray = PerfEventArray::new();

// `Call` is only written through `reserve`/`output`, which leave no trace in BTF: anchor it
// there so that `bpftool btf dump` and other tools can decode the records.
bpfkit_ebpf::btf_types!(Call);
// ANCHOR_END: event_maps

/// Calls counted so far, per CPU (each CPU numbers its own calls; the test sums them).
#[map]
static SEQ: PerCpuArray<u64, 1> = PerCpuArray::new();

// ANCHOR: ring_reserve
#[tracepoint(category = "syscalls", name = "sys_enter_getppid")]
fn ring_and_perf(ctx: TracePointContext) -> u32 {
    if !crate::is_target() {
        return 0;
    }
    let Some(mut seq) = SEQ.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: this CPU's slot of a per-CPU array; only this program run touches it.
    let seq = unsafe {
        *seq.as_mut() += 1;
        *seq.as_ref()
    };
    let call = Call {
        seq,
        tid: helpers::current_pid(),
        cpu: helpers::smp_processor_id(),
    };

    // Ring buffer, zero-copy: reserve room in the ring, fill it in place, submit.
    // `reserve` fails (None) when the ring is full; an unsubmitted entry is discarded on drop.
    if let Some(mut entry) = CALLS_RING.reserve::<Call>() {
        entry.write(call);
        entry.submit(0);
    }

    // Perf buffer: the helper copies the record into this CPU's ring.
    let _ = CALLS_PERF.output(&ctx, &call);
    0
}
// ANCHOR_END: ring_reserve
