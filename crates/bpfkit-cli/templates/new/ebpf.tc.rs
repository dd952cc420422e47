//! {{name}}'s kernel side: {{kernel_doc}}
#![no_std]
#![no_main]

use bpfkit_ebpf::macros::classifier;
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::TcContext;
use {{name_snake}}_common::Packet;

/// Packets to userspace, 256 KiB of ring buffer shared by all CPUs.
#[bpfkit_ebpf::macros::map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

/// `TC_ACT_OK`: let the packet go on (`TC_ACT_SHOT`, 2, would drop it).
const TC_ACT_OK: i32 = 0;

/// Runs for every packet on the interface's tc ingress hook.
#[classifier]
fn {{program}}(ctx: TcContext) -> i32 {
    let packet = Packet {
        len: ctx.len(),
        ether_type: u16::from_be(ctx.protocol() as u16) as u32,
    };
    // A full ring drops the record, never the packet.
    let _ = EVENTS.output(&packet, 0);
    TC_ACT_OK
}

bpfkit_ebpf::license!("GPL");
