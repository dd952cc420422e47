//! {{name}}'s kernel side: {{kernel_doc}}
#![no_std]
#![no_main]

use bpfkit_ebpf::macros::xdp;
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::net::EthHdr;
use bpfkit_ebpf::programs::{XdpContext, XDP_PASS};
use {{name_snake}}_common::Packet;

/// Packets to userspace, 256 KiB of ring buffer shared by all CPUs.
#[bpfkit_ebpf::macros::map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

/// Runs for every frame the interface receives, before the kernel's network stack.
#[xdp]
fn {{program}}(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u32;
    // A bounds-checked read: `None` when the frame is shorter than an Ethernet header.
    let ether_type = ctx
        .load::<EthHdr>(0)
        .map_or(0, |eth| eth.ether_type() as u32);
    // A full ring drops the record, never the packet.
    let _ = EVENTS.output(&Packet { len, ether_type }, 0);
    // XDP_DROP here would drop the frame.
    XDP_PASS
}

bpfkit_ebpf::license!("GPL");
