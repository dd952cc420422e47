//! XDP and TC.

// ANCHOR: xdp
use bpfkit_ebpf::macros::{classifier, map, xdp};
use bpfkit_ebpf::maps::PerCpuArray;
use bpfkit_ebpf::net::{EthHdr, Ipv4Hdr, UdpHdr, ETH_P_IP, IPPROTO_UDP};
use bpfkit_ebpf::programs::{TcContext, XdpContext, XDP_DROP, XDP_PASS};

/// UDP destination port whose datagrams `drop_udp_port` drops.
const BLOCKED_PORT: u16 = 9;

/// Slot 0: packets dropped, slot 1: packets passed (per CPU).
#[map]
static VERDICTS: PerCpuArray<u64, 2> = PerCpuArray::new();

#[xdp]
fn drop_udp_port(ctx: XdpContext) -> u32 {
    let verdict = if is_blocked(&ctx) { XDP_DROP } else { XDP_PASS };
    if let Some(mut count) = VERDICTS.get_ptr_mut((verdict == XDP_PASS) as u32) {
        // SAFETY: this CPU's slot of a per-CPU array.
        unsafe { *count.as_mut() += 1 };
    }
    verdict
}

/// An IPv4 UDP datagram to `BLOCKED_PORT`? Every `load` is bounds-checked against the
/// packet (`None` past its end), which is what the verifier wants to see.
fn is_blocked(ctx: &XdpContext) -> bool {
    let Some(eth) = ctx.load::<EthHdr>(0) else {
        return false;
    };
    if eth.ether_type() != ETH_P_IP {
        return false;
    }
    let Some(ip) = ctx.load::<Ipv4Hdr>(EthHdr::LEN) else {
        return false;
    };
    if ip.protocol != IPPROTO_UDP || ip.is_fragment() {
        return false;
    }
    ctx.load::<UdpHdr>(EthHdr::LEN + ip.header_len())
        .is_some_and(|udp| udp.dst_port() == BLOCKED_PORT)
}
// ANCHOR_END: xdp

// ANCHOR: tc
/// `TC_ACT_OK`: let the packet go on; `TC_ACT_SHOT` (2) would drop it.
const TC_ACT_OK: i32 = 0;

/// Marks every IPv4 packet on the tc hook with `skb->mark = 0x42` (other programs and
/// `ip rule` can match the mark).
#[classifier]
fn mark_ipv4(mut ctx: TcContext) -> i32 {
    if u16::from_be(ctx.protocol() as u16) == ETH_P_IP {
        ctx.set_mark(0x42);
    }
    TC_ACT_OK
}
// ANCHOR_END: tc
