//! {{name}}'s kernel side: {{kernel_doc}}
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{{macro}};
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::{{context}};
use {{name_snake}}_common::Event;

/// Events to userspace, 256 KiB of ring buffer shared by all CPUs.
#[bpfkit_ebpf::macros::map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

/// Sends one event for the current task; a full ring drops it.
fn send(value: u32) {
    let event = Event {
        pid: helpers::current_tgid(),
        value,
        comm: helpers::current_comm().unwrap_or([0; 16]),
    };
    let _ = EVENTS.output(&event, 0);
}
