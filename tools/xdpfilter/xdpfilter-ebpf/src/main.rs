//! xdpfilter's kernel side: one classifier, two entry points (`xdpfilter` for XDP,
//! `xdpfilter_tc` for tcx ingress).
//!
//! Parses Ethernet (up to two VLAN tags), IPv4 or IPv6 (no extension headers walked), and the
//! TCP/UDP destination port, then ANDs the rule masks userspace keeps in the maps
//! (`xdpfilter_common` documents them): the lowest set bit is the rule that decides. Its
//! per-CPU counters grow by one packet and the frame's bytes; `drop` rules drop, `count`
//! rules pass. IPv4 fragments carry no port: only rules without `--dport` match them.
#![no_std]
#![no_main]

use core::cell::Cell;
use core::mem::offset_of;

use bpfkit_ebpf::macros::{classifier, map, xdp};
use bpfkit_ebpf::maps::{Array, HashMap, LpmKey, LpmTrie, PerCpuArray};
use bpfkit_ebpf::net::{
    EthHdr, Ipv4Hdr, Ipv6Hdr, TcpHdr, UdpHdr, VlanHdr, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP,
    ETH_P_IPV6, IPPROTO_TCP, IPPROTO_UDP,
};
use bpfkit_ebpf::programs::{TcContext, XdpContext, XDP_DROP, XDP_PASS};
use xdpfilter_common::{
    Rule, ACTION_DROP, CONFIG_ACTIVE, CONFIG_ANY_DPORT, CONFIG_LEN, MAX_PORTS, MAX_PREFIXES,
    MAX_RULES,
};

/// `TCX_NEXT`: let the next program (or the stack) decide.
const TCX_NEXT: i32 = -1;
/// `TCX_DROP`.
const TCX_DROP: i32 = 2;

#[map]
static RULES: Array<Rule, { MAX_RULES as usize }> = Array::new();
#[map]
static STATS: PerCpuArray<CpuCounters, { MAX_RULES as usize }> = PerCpuArray::new();
#[map]
static CONFIG: Array<u64, { CONFIG_LEN as usize }> = Array::new();
#[map]
static PROTO: Array<u64, 256> = Array::new();
#[map]
static DPORT: HashMap<u16, u64, { MAX_PORTS as usize }> = HashMap::new();
#[map]
static SRC4: LpmTrie<[u8; 4], u64, { MAX_PREFIXES as usize }> = LpmTrie::new();
#[map]
static DST4: LpmTrie<[u8; 4], u64, { MAX_PREFIXES as usize }> = LpmTrie::new();
#[map]
static SRC6: LpmTrie<[u8; 16], u64, { MAX_PREFIXES as usize }> = LpmTrie::new();
#[map]
static DST6: LpmTrie<[u8; 16], u64, { MAX_PREFIXES as usize }> = LpmTrie::new();

/// `xdpfilter_common::Counters` as this CPU's copy: `Cell`s, so the program adds to them
/// through the shared reference the map hands out (per-CPU: no other writer).
#[repr(C)]
struct CpuCounters {
    packets: Cell<u64>,
    bytes: Cell<u64>,
}

/// Offsets of `struct iphdr`'s `saddr` and `daddr`.
const IPV4_SRC: usize = 12;
const IPV4_DST: usize = 16;

/// Reads packet bytes: XDP direct access or `bpf_skb_load_bytes`.
trait Packet {
    fn read<T: Copy>(&self, offset: usize) -> Option<T>;

    /// Fills `dest` with the `N` packet bytes at `offset`, which `copy` (part of a header
    /// read before) holds too. XDP reads them from the packet here, right before their
    /// lookup (C's order): taken from `copy`, both addresses were loaded before the first
    /// lookup and kept across the helper call in spilled registers. tc has them on the
    /// stack already (one `bpf_skb_load_bytes` for the header).
    fn fill<const N: usize>(&self, offset: usize, copy: &[u8; N], dest: &mut [u8; N]);

    /// The `T` at `offset` again, after helper calls (`copy`: the one read before). XDP
    /// reads it from the packet here (the compiler folds the bounds check into the first
    /// read's), so fields used after the LPM lookups are loaded after them as in C, not
    /// loaded before and kept across the calls in spilled registers; tc returns `copy`.
    fn reread<T: Copy>(&self, offset: usize, copy: T) -> T;
}

/// XDP direct access with the packet bounds read from the context once, as C keeps its
/// `data`/`data_end` pointers: `XdpContext::load` reads both (volatile) at every call, a
/// pair of context loads and their register moves at each header.
struct XdpPacket {
    data: usize,
    end: usize,
}

impl Packet for XdpPacket {
    #[inline(always)]
    fn read<T: Copy>(&self, offset: usize) -> Option<T> {
        let start = self.data + offset;
        if start + core::mem::size_of::<T>() > self.end {
            return None;
        }
        // SAFETY: the comparison above (the verifier's bounds check) keeps the whole `T`
        // inside the packet, which lies between `data` and `data_end` of this program's run.
        Some(unsafe { (start as *const T).read_unaligned() })
    }

    #[inline(always)]
    fn fill<const N: usize>(&self, offset: usize, copy: &[u8; N], dest: &mut [u8; N]) {
        let start = self.data + offset;
        if start + N > self.end {
            *dest = *copy;
            return;
        }
        // SAFETY: the comparison above keeps the `N` bytes inside the packet; `dest` is a
        // distinct `N`-byte buffer.
        unsafe { core::ptr::copy_nonoverlapping(start as *const u8, dest.as_mut_ptr(), N) };
    }

    #[inline(always)]
    fn reread<T: Copy>(&self, offset: usize, copy: T) -> T {
        self.read(offset).unwrap_or(copy)
    }
}

impl Packet for TcContext {
    #[inline(always)]
    fn read<T: Copy>(&self, offset: usize) -> Option<T> {
        self.load(offset as u32).ok()
    }

    #[inline(always)]
    fn fill<const N: usize>(&self, _offset: usize, copy: &[u8; N], dest: &mut [u8; N]) {
        *dest = *copy;
    }

    #[inline(always)]
    fn reread<T: Copy>(&self, _offset: usize, copy: T) -> T {
        copy
    }
}

#[inline(always)]
fn config(index: u32) -> u64 {
    CONFIG.get(index).copied().unwrap_or(0)
}

/// Index of the lowest set bit of a non-zero mask (BPF has no count-trailing-zeros).
#[inline(always)]
fn lowest_bit(mut mask: u64) -> u32 {
    let mut index = 0;
    if mask & 0xffff_ffff == 0 {
        index += 32;
        mask >>= 32;
    }
    if mask & 0xffff == 0 {
        index += 16;
        mask >>= 16;
    }
    if mask & 0xff == 0 {
        index += 8;
        mask >>= 8;
    }
    if mask & 0xf == 0 {
        index += 4;
        mask >>= 4;
    }
    if mask & 0x3 == 0 {
        index += 2;
        mask >>= 2;
    }
    if mask & 0x1 == 0 {
        index += 1;
    }
    index
}

/// The deciding rule's action for this packet, after counting it; `None`: no rule matched.
#[inline(always)]
fn classify<P: Packet>(pkt: &P, len: u64) -> Option<u32> {
    let active = config(CONFIG_ACTIVE);
    if active == 0 {
        return None;
    }
    let eth: EthHdr = pkt.read(0)?;
    let mut offset = EthHdr::LEN;
    let mut ether_type = eth.ether_type();
    for _ in 0..2 {
        if ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD {
            let vlan: VlanHdr = pkt.read(offset)?;
            ether_type = vlan.ether_type();
            offset += VlanHdr::LEN;
        }
    }
    let mut mask = active;
    let proto;
    let has_ports;
    if ether_type == ETH_P_IP {
        let ip: Ipv4Hdr = pkt.read(offset)?;
        let header_len = ip.header_len();
        if header_len < Ipv4Hdr::LEN {
            return None;
        }
        mask &= lookup(pkt, &SRC4, offset + IPV4_SRC, &ip.src().to_be_bytes());
        mask &= lookup(pkt, &DST4, offset + IPV4_DST, &ip.dst().to_be_bytes());
        let ip = pkt.reread(offset, ip);
        proto = ip.protocol;
        has_ports = !ip.is_fragment();
        offset += header_len;
    } else if ether_type == ETH_P_IPV6 {
        let ip: Ipv6Hdr = pkt.read(offset)?;
        mask &= lookup(pkt, &SRC6, offset + offset_of!(Ipv6Hdr, src), &ip.src);
        mask &= lookup(pkt, &DST6, offset + offset_of!(Ipv6Hdr, dst), &ip.dst);
        let ip = pkt.reread(offset, ip);
        proto = ip.next_header;
        has_ports = true;
        offset += Ipv6Hdr::LEN;
    } else {
        return None;
    }
    if mask == 0 {
        return None;
    }
    mask &= PROTO.get(u32::from(proto)).copied().unwrap_or(0);
    let mut port_mask = config(CONFIG_ANY_DPORT);
    if has_ports {
        let dport = if proto == IPPROTO_UDP {
            pkt.read::<UdpHdr>(offset).map(|udp| udp.dst_port())
        } else if proto == IPPROTO_TCP {
            pkt.read::<TcpHdr>(offset).map(|tcp| tcp.dst_port())
        } else {
            None
        };
        if let Some(port) = dport {
            port_mask |= DPORT.get_copy(&port).unwrap_or(0);
        }
    }
    mask &= port_mask;
    if mask == 0 {
        return None;
    }
    let id = lowest_bit(mask);
    if let Some(counters) = STATS.get(id) {
        counters.packets.set(counters.packets.get() + 1);
        counters.bytes.set(counters.bytes.get() + len);
    }
    RULES.get(id).map(|rule| rule.action)
}

/// The trie's mask for the address at `offset` (`copy`: the same bytes, read before).
#[inline(always)]
fn lookup<P: Packet, const N: usize>(
    pkt: &P,
    trie: &LpmTrie<[u8; N], u64, { MAX_PREFIXES as usize }>,
    offset: usize,
    copy: &[u8; N],
) -> u64 {
    let mut data = [0; N];
    pkt.fill(offset, copy, &mut data);
    trie.get_copy(&LpmKey::new(N as u32 * 8, data)).unwrap_or(0)
}

/// XDP entry point.
#[xdp]
fn xdpfilter(ctx: XdpContext) -> u32 {
    let pkt = XdpPacket {
        data: ctx.data(),
        end: ctx.data_end(),
    };
    let len = (pkt.end - pkt.data) as u64;
    match classify(&pkt, len) {
        Some(ACTION_DROP) => XDP_DROP,
        _ => XDP_PASS,
    }
}

/// tcx ingress entry point (same rules, same maps).
#[classifier(attach = "ingress")]
fn xdpfilter_tc(ctx: TcContext) -> i32 {
    match classify(&ctx, u64::from(ctx.len())) {
        Some(ACTION_DROP) => TCX_DROP,
        _ => TCX_NEXT,
    }
}
