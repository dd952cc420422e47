//! {{name}}'s kernel side: {{kernel_doc}}
#![no_std]
#![no_main]

use bpfkit_ebpf::macros::cgroup_skb;
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::CgroupSkbContext;
use {{name_snake}}_common::Packet;

/// Packets to userspace, 256 KiB of ring buffer shared by all CPUs.
#[bpfkit_ebpf::macros::map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

/// Runs for every packet a socket of the cgroup (or its children) receives.
#[cgroup_skb(attach = "ingress")]
fn {{program}}(ctx: CgroupSkbContext) -> i32 {
    let packet = Packet {
        len: ctx.len(),
        ether_type: u16::from_be(ctx.protocol() as u16) as u32,
    };
    // A full ring drops the record, never the packet.
    let _ = EVENTS.output(&packet, 0);
    // 1 allows the packet; 0 would drop it.
    1
}

bpfkit_ebpf::license!("GPL");
