//! Packet rewriting through the context APIs, run with BPF_PROG_TEST_RUN and checked on the
//! packet the kernel hands back.
#![no_std]
#![no_main]

use bpfkit_ebpf::macros::{classifier, map, xdp};
use bpfkit_ebpf::maps::PerfEventArray;
use bpfkit_ebpf::net::{
    EthHdr, Ipv4Hdr, UdpHdr, VlanHdr, BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR, ETH_P_8021Q,
    ETH_P_IP, IPPROTO_UDP,
};
use bpfkit_ebpf::programs::{TcContext, XdpContext, XDP_DROP, XDP_PASS, XDP_TX};

/// Swaps the Ethernet source and destination MACs in place (direct packet access).
#[xdp]
fn swap_macs(ctx: XdpContext) -> u32 {
    let Some(mut eth) = ctx.ptr_at::<[u8; 12]>(0) else {
        return XDP_DROP;
    };
    // SAFETY: `ptr_at` checked the 12 bytes lie inside the packet.
    let eth = unsafe { eth.as_mut() };
    let mut dst = [0u8; 6];
    dst.copy_from_slice(&eth[..6]);
    eth.copy_within(6..12, 0);
    eth[6..12].copy_from_slice(&dst);
    XDP_PASS
}

/// Pushes 4 bytes (`0xdeadbeef`) in front of the packet.
#[xdp]
fn push_tag(mut ctx: XdpContext) -> u32 {
    if ctx.adjust_head(-4).is_err() {
        return XDP_DROP;
    }
    let Some(mut tag) = ctx.ptr_at::<[u8; 4]>(0) else {
        return XDP_DROP;
    };
    // SAFETY: checked to lie inside the packet.
    unsafe { *tag.as_mut() = [0xde, 0xad, 0xbe, 0xef] };
    XDP_PASS
}

/// Rewrites the IPv4 TTL (byte 22 of the frame) with `bpf_skb_store_bytes` and trims the
/// packet to 34 bytes (Ethernet + IPv4 header).
#[classifier]
fn rewrite_ttl(mut ctx: TcContext) -> i32 {
    if ctx.store(22, &7u8, 0).is_err() || ctx.change_tail(34, 0).is_err() {
        return 2; // TC_ACT_SHOT
    }
    0
}

/// Prints the packet's first word and length to the kernel's trace buffer.
#[xdp]
fn print_packet(ctx: XdpContext) -> u32 {
    let first = ctx.load::<u32>(0).unwrap_or(0);
    let len = ctx.data_end() - ctx.data();
    let _ = bpfkit_ebpf::printk!("bpfkit-printk %x len %u", u32::from_be(first), len);
    XDP_PASS
}

#[map]
static SAMPLES: PerfEventArray = PerfEventArray::new();

/// Sends the packet's first 8 bytes to the current CPU's perf buffer.
#[xdp]
fn sample_packet(ctx: XdpContext) -> u32 {
    if let Some(head) = ctx.load::<[u8; 8]>(0) {
        let _ = SAMPLES.output(&ctx, &head);
    }
    XDP_PASS
}

/// Typed headers without `unsafe`: UDP to 10.0.0.2:5000 (behind one optional VLAN tag) is
/// rewritten to 10.0.0.3:6000 with the TTL decremented, the IPv4 and UDP checksums updated
/// incrementally, and sent back out (`XDP_TX`, MACs swapped); other packets pass.
#[xdp]
fn nat_udp(mut ctx: XdpContext) -> u32 {
    nat(&mut ctx).unwrap_or(XDP_PASS)
}

#[inline(always)]
fn nat(ctx: &mut XdpContext) -> Option<u32> {
    let mut eth: EthHdr = ctx.load(0)?;
    let mut offset = EthHdr::LEN;
    let mut ether_type = eth.ether_type();
    if ether_type == ETH_P_8021Q {
        let vlan: VlanHdr = ctx.load(offset)?;
        ether_type = vlan.ether_type();
        offset += VlanHdr::LEN;
    }
    if ether_type != ETH_P_IP {
        return None;
    }
    let mut ip: Ipv4Hdr = ctx.load(offset)?;
    if ip.ihl() != 5 || ip.protocol != IPPROTO_UDP || ip.dst() != 0x0a00_0002 {
        return None;
    }
    let udp_offset = offset + Ipv4Hdr::LEN;
    let mut udp: UdpHdr = ctx.load(udp_offset)?;
    if udp.dst_port() != 5000 {
        return None;
    }
    if ip.decrement_ttl() == 0 {
        return Some(XDP_DROP);
    }
    udp.update_for_address(ip.dst(), 0x0a00_0003);
    ip.set_dst(0x0a00_0003);
    udp.set_dst_port(6000);
    eth.swap_addresses();
    ctx.store(0, &eth)?;
    ctx.store(offset, &ip)?;
    ctx.store(udp_offset, &udp)?;
    Some(XDP_TX)
}

/// The same rewrite as `nat_udp` from tc (no VLAN): headers copied in and out with
/// `bpf_skb_load_bytes`/`store_bytes`; the IPv4 checksum updated in the header, the UDP one
/// by `bpf_l4_csum_replace` (address with `BPF_F_PSEUDO_HDR`, then port).
#[classifier]
fn tc_nat_udp(mut ctx: TcContext) -> i32 {
    tc_nat(&mut ctx).unwrap_or(0)
}

#[inline(always)]
fn tc_nat(ctx: &mut TcContext) -> Option<i32> {
    let eth: EthHdr = ctx.load(0).ok()?;
    if eth.ether_type() != ETH_P_IP {
        return None;
    }
    let ip_offset = EthHdr::LEN as u32;
    let mut ip: Ipv4Hdr = ctx.load(ip_offset).ok()?;
    if ip.ihl() != 5 || ip.protocol != IPPROTO_UDP || ip.dst() != 0x0a00_0002 {
        return None;
    }
    let udp_offset = ip_offset + Ipv4Hdr::LEN as u32;
    let udp: UdpHdr = ctx.load(udp_offset).ok()?;
    if udp.dst_port() != 5000 {
        return None;
    }
    let check = udp_offset + 6;
    let old_dst = 0x0a00_0002u32.to_be() as u64;
    let new_dst = 0x0a00_0003u32.to_be() as u64;
    let flags = BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4;
    ctx.l4_csum_replace(check, old_dst, new_dst, flags).ok()?;
    let port_flags = BPF_F_MARK_MANGLED_0 | 2;
    let (old_port, new_port) = (5000u16.to_be() as u64, 6000u16.to_be() as u64);
    ctx.l4_csum_replace(check, old_port, new_port, port_flags)
        .ok()?;
    ctx.store(udp_offset + 2, &6000u16.to_be(), 0).ok()?;
    ip.set_dst(0x0a00_0003);
    ctx.store(ip_offset, &ip, 0).ok()?;
    Some(0)
}

bpfkit_ebpf::license!("GPL");
