//! Packet headers and Internet checksums for XDP and tc programs.
//!
//! Each header is a `#[repr(C)]` struct of byte fields (alignment 1, so any offset in a
//! packet is fine) whose accessors convert from and to network byte order. Read one with
//! `XdpContext::load::<Ipv4Hdr>(offset)` / `TcContext::load`, which check the bounds the
//! verifier needs, change it, and write it back with `XdpContext::store` or `TcContext::store`:
//! no `unsafe` in the program.
//!
//! ```ignore
//! let eth: EthHdr = ctx.load(0)?;
//! if eth.ether_type() != ETH_P_IP { return XDP_PASS; }
//! let mut ip: Ipv4Hdr = ctx.load(EthHdr::LEN)?;
//! let old = ip.ttl_protocol_word();
//! ip.ttl -= 1;
//! ip.set_checksum(csum_replace2(ip.checksum(), old, ip.ttl_protocol_word()));
//! ctx.store(EthHdr::LEN, &ip)?;
//! ```
//!
//! Checksums follow RFC 1071 (one's complement sum of 16-bit words) and RFC 1624
//! (incremental update: `HC' = ~(~HC + ~m + m')`). Values are in host order as the accessors
//! return them.

/// `ETH_P_IP`: IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_ARP`.
pub const ETH_P_ARP: u16 = 0x0806;
/// `ETH_P_8021Q`: a VLAN tag follows.
pub const ETH_P_8021Q: u16 = 0x8100;
/// `ETH_P_8021AD`: an outer (QinQ) VLAN tag follows.
pub const ETH_P_8021AD: u16 = 0x88a8;
/// `ETH_P_IPV6`.
pub const ETH_P_IPV6: u16 = 0x86dd;

/// `BPF_F_PSEUDO_HDR` for `l4_csum_replace`: the field is part of the pseudo-header (an
/// address).
pub const BPF_F_PSEUDO_HDR: u64 = 1 << 4;
/// `BPF_F_MARK_MANGLED_0` for `l4_csum_replace`: keep UDP's "no checksum" 0.
pub const BPF_F_MARK_MANGLED_0: u64 = 1 << 5;

/// `IPPROTO_ICMP`.
pub const IPPROTO_ICMP: u8 = 1;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u8 = 17;
/// `IPPROTO_ICMPV6`.
pub const IPPROTO_ICMPV6: u8 = 58;

#[inline(always)]
fn be16(b: [u8; 2]) -> u16 {
    u16::from_be_bytes(b)
}

#[inline(always)]
fn be32(b: [u8; 4]) -> u32 {
    u32::from_be_bytes(b)
}

/// An Ethernet header (`struct ethhdr`, 14 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EthHdr {
    /// Destination MAC.
    pub dst: [u8; 6],
    /// Source MAC.
    pub src: [u8; 6],
    proto: [u8; 2],
}

impl EthHdr {
    /// Its size.
    pub const LEN: usize = 14;

    /// The EtherType (`ETH_P_*`).
    #[inline(always)]
    pub fn ether_type(&self) -> u16 {
        be16(self.proto)
    }

    /// Sets the EtherType.
    #[inline(always)]
    pub fn set_ether_type(&mut self, ether_type: u16) {
        self.proto = ether_type.to_be_bytes();
    }

    /// Swaps source and destination MACs (to send a frame back with `XDP_TX`).
    #[inline(always)]
    pub fn swap_addresses(&mut self) {
        core::mem::swap(&mut self.dst, &mut self.src);
    }
}

/// An 802.1Q VLAN tag as it follows the Ethernet addresses' EtherType (4 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VlanHdr {
    tci: [u8; 2],
    proto: [u8; 2],
}

impl VlanHdr {
    /// Its size.
    pub const LEN: usize = 4;

    /// The VLAN id (12 bits).
    #[inline(always)]
    pub fn vid(&self) -> u16 {
        be16(self.tci) & 0x0fff
    }

    /// The priority code point (3 bits).
    #[inline(always)]
    pub fn pcp(&self) -> u8 {
        (be16(self.tci) >> 13) as u8
    }

    /// The EtherType of what follows.
    #[inline(always)]
    pub fn ether_type(&self) -> u16 {
        be16(self.proto)
    }
}

/// An IPv4 header without options (`struct iphdr`, 20 bytes; options follow when
/// [`ihl`](Self::ihl) > 5).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ipv4Hdr {
    version_ihl: u8,
    /// Type of service (DSCP and ECN).
    pub tos: u8,
    tot_len: [u8; 2],
    id: [u8; 2],
    frag_off: [u8; 2],
    /// Time to live.
    pub ttl: u8,
    /// The payload protocol (`IPPROTO_*`).
    pub protocol: u8,
    check: [u8; 2],
    saddr: [u8; 4],
    daddr: [u8; 4],
}

impl Ipv4Hdr {
    /// Its size without options.
    pub const LEN: usize = 20;

    /// The version field (4).
    #[inline(always)]
    pub fn version(&self) -> u8 {
        self.version_ihl >> 4
    }

    /// The header length in 32-bit words (5 without options).
    #[inline(always)]
    pub fn ihl(&self) -> u8 {
        self.version_ihl & 0x0f
    }

    /// The header length in bytes.
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// Total length of the datagram.
    #[inline(always)]
    pub fn total_len(&self) -> u16 {
        be16(self.tot_len)
    }

    /// Whether this is a fragment (more fragments, or a fragment offset).
    #[inline(always)]
    pub fn is_fragment(&self) -> bool {
        be16(self.frag_off) & 0x3fff != 0
    }

    /// The header checksum field.
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(self.check)
    }

    /// Sets the header checksum field.
    #[inline(always)]
    pub fn set_checksum(&mut self, check: u16) {
        self.check = check.to_be_bytes();
    }

    /// The source address (host order: `0x7f000001` is 127.0.0.1).
    #[inline(always)]
    pub fn src(&self) -> u32 {
        be32(self.saddr)
    }

    /// The destination address (host order).
    #[inline(always)]
    pub fn dst(&self) -> u32 {
        be32(self.daddr)
    }

    /// Sets the source address, updating the header checksum.
    #[inline(always)]
    pub fn set_src(&mut self, addr: u32) {
        self.check = csum_replace4(self.checksum(), self.src(), addr).to_be_bytes();
        self.saddr = addr.to_be_bytes();
    }

    /// Sets the destination address, updating the header checksum.
    #[inline(always)]
    pub fn set_dst(&mut self, addr: u32) {
        self.check = csum_replace4(self.checksum(), self.dst(), addr).to_be_bytes();
        self.daddr = addr.to_be_bytes();
    }

    /// The 16-bit word holding TTL and protocol, as checksums see it.
    #[inline(always)]
    pub fn ttl_protocol_word(&self) -> u16 {
        u16::from_be_bytes([self.ttl, self.protocol])
    }

    /// Decrements the TTL, updating the checksum; returns the new TTL (0 stays 0).
    #[inline(always)]
    pub fn decrement_ttl(&mut self) -> u8 {
        if self.ttl == 0 {
            return 0;
        }
        let old = self.ttl_protocol_word();
        self.ttl -= 1;
        self.check = csum_replace2(self.checksum(), old, self.ttl_protocol_word()).to_be_bytes();
        self.ttl
    }

    /// The checksum this header (without options) should carry: the one's complement sum of
    /// its words with the checksum field taken as 0.
    #[inline(always)]
    pub fn compute_checksum(&self) -> u16 {
        let [tl0, tl1] = self.tot_len;
        let [id0, id1] = self.id;
        let [f0, f1] = self.frag_off;
        let [s0, s1, s2, s3] = self.saddr;
        let [d0, d1, d2, d3] = self.daddr;
        let bytes = [
            self.version_ihl,
            self.tos,
            tl0,
            tl1,
            id0,
            id1,
            f0,
            f1,
            self.ttl,
            self.protocol,
            0,
            0,
            s0,
            s1,
            s2,
            s3,
            d0,
            d1,
            d2,
            d3,
        ];
        checksum(&bytes)
    }
}

/// An IPv6 header (`struct ipv6hdr`, 40 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ipv6Hdr {
    version_class_flow: [u8; 4],
    payload_len: [u8; 2],
    /// The next header (`IPPROTO_*` or an extension header).
    pub next_header: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
}

impl Ipv6Hdr {
    /// Its size.
    pub const LEN: usize = 40;

    /// The version field (6).
    #[inline(always)]
    pub fn version(&self) -> u8 {
        self.version_class_flow[0] >> 4
    }

    /// The payload length.
    #[inline(always)]
    pub fn payload_len(&self) -> u16 {
        be16(self.payload_len)
    }

    /// The flow label (20 bits).
    #[inline(always)]
    pub fn flow_label(&self) -> u32 {
        be32(self.version_class_flow) & 0x000f_ffff
    }
}

/// A TCP header without options (`struct tcphdr`, 20 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpHdr {
    source: [u8; 2],
    dest: [u8; 2],
    seq: [u8; 4],
    ack_seq: [u8; 4],
    offset_flags: [u8; 2],
    window: [u8; 2],
    check: [u8; 2],
    urg_ptr: [u8; 2],
}

/// TCP flag bits as [`TcpHdr::flags`] returns them.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

impl TcpHdr {
    /// Its size without options.
    pub const LEN: usize = 20;

    /// Source port.
    #[inline(always)]
    pub fn src_port(&self) -> u16 {
        be16(self.source)
    }

    /// Destination port.
    #[inline(always)]
    pub fn dst_port(&self) -> u16 {
        be16(self.dest)
    }

    /// Sequence number.
    #[inline(always)]
    pub fn seq(&self) -> u32 {
        be32(self.seq)
    }

    /// Header length in bytes (data offset × 4).
    #[inline(always)]
    pub fn header_len(&self) -> usize {
        usize::from(self.offset_flags[0] >> 4) * 4
    }

    /// The flags byte (`tcp_flags::*`).
    #[inline(always)]
    pub fn flags(&self) -> u8 {
        self.offset_flags[1]
    }

    /// The checksum field.
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(self.check)
    }

    /// Sets the destination port, updating the checksum.
    #[inline(always)]
    pub fn set_dst_port(&mut self, port: u16) {
        self.check = csum_replace2(self.checksum(), self.dst_port(), port).to_be_bytes();
        self.dest = port.to_be_bytes();
    }

    /// Updates the checksum for an IPv4 address change from `old` to `new` (the
    /// pseudo-header covers the addresses).
    #[inline(always)]
    pub fn update_for_address(&mut self, old: u32, new: u32) {
        self.check = csum_replace4(self.checksum(), old, new).to_be_bytes();
    }
}

/// A UDP header (`struct udphdr`, 8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpHdr {
    source: [u8; 2],
    dest: [u8; 2],
    len: [u8; 2],
    check: [u8; 2],
}

impl UdpHdr {
    /// Its size.
    pub const LEN: usize = 8;

    /// Source port.
    #[inline(always)]
    pub fn src_port(&self) -> u16 {
        be16(self.source)
    }

    /// Destination port.
    #[inline(always)]
    pub fn dst_port(&self) -> u16 {
        be16(self.dest)
    }

    /// Length of header and payload.
    #[inline(always)]
    pub fn len(&self) -> u16 {
        be16(self.len)
    }

    /// Whether the length field says there is no payload.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len() <= Self::LEN as u16
    }

    /// The checksum field (0: none, over IPv4).
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(self.check)
    }

    /// Sets the destination port, updating a present checksum (0 stays 0; a result of 0 is
    /// sent as `0xffff`, RFC 768).
    #[inline(always)]
    pub fn set_dst_port(&mut self, port: u16) {
        if self.checksum() != 0 {
            let c = csum_replace2(self.checksum(), self.dst_port(), port);
            self.check = if c == 0 { 0xffff } else { c }.to_be_bytes();
        }
        self.dest = port.to_be_bytes();
    }

    /// Updates a present checksum for an IPv4 address change from `old` to `new` (the
    /// pseudo-header covers the addresses).
    #[inline(always)]
    pub fn update_for_address(&mut self, old: u32, new: u32) {
        if self.checksum() != 0 {
            let c = csum_replace4(self.checksum(), old, new);
            self.check = if c == 0 { 0xffff } else { c }.to_be_bytes();
        }
    }

    /// Sets the source port, updating a present checksum.
    #[inline(always)]
    pub fn set_src_port(&mut self, port: u16) {
        if self.checksum() != 0 {
            let c = csum_replace2(self.checksum(), self.src_port(), port);
            self.check = if c == 0 { 0xffff } else { c }.to_be_bytes();
        }
        self.source = port.to_be_bytes();
    }
}

/// An ICMP (or ICMPv6) header: type, code, checksum and the 4 type-specific bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcmpHdr {
    /// Type (8: echo request, 0: echo reply).
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    check: [u8; 2],
    /// Identifier and sequence for echo; other types use it otherwise.
    pub rest: [u8; 4],
}

impl IcmpHdr {
    /// Its size.
    pub const LEN: usize = 8;

    /// The checksum field.
    #[inline(always)]
    pub fn checksum(&self) -> u16 {
        be16(self.check)
    }

    /// Sets the checksum field.
    #[inline(always)]
    pub fn set_checksum(&mut self, check: u16) {
        self.check = check.to_be_bytes();
    }

    /// Changes the type (e.g. echo request 8 → reply 0), updating the checksum.
    #[inline(always)]
    pub fn set_type(&mut self, icmp_type: u8) {
        let old = u16::from_be_bytes([self.icmp_type, self.code]);
        let new = u16::from_be_bytes([icmp_type, self.code]);
        self.check = csum_replace2(self.checksum(), old, new).to_be_bytes();
        self.icmp_type = icmp_type;
    }
}

/// Folds a 32-bit one's complement sum into 16 bits (not inverted).
#[inline(always)]
pub fn csum_fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// The Internet checksum of `bytes` (RFC 1071): the inverted one's complement sum of its
/// big-endian 16-bit words, an odd last byte padded with zero.
#[inline(always)]
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let words = bytes.chunks_exact(2);
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    for word in words {
        if let [hi, lo] = word {
            sum += u32::from(u16::from_be_bytes([*hi, *lo]));
        }
    }
    !csum_fold(sum)
}

/// Incremental update (RFC 1624) of checksum `check` when a 16-bit word changes from `old`
/// to `new`.
#[inline(always)]
pub fn csum_replace2(check: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!check) + u32::from(!old) + u32::from(new);
    !csum_fold(sum)
}

/// Incremental update of checksum `check` when a 32-bit value (an IPv4 address) changes.
#[inline(always)]
pub fn csum_replace4(check: u16, old: u32, new: u32) -> u16 {
    let sum = u32::from(!check)
        + u32::from(!(old >> 16) as u16)
        + u32::from(!(old as u16))
        + (new >> 16)
        + (new & 0xffff);
    !csum_fold(sum)
}

const _: () = {
    assert!(core::mem::size_of::<EthHdr>() == EthHdr::LEN);
    assert!(core::mem::size_of::<VlanHdr>() == VlanHdr::LEN);
    assert!(core::mem::size_of::<Ipv4Hdr>() == Ipv4Hdr::LEN);
    assert!(core::mem::size_of::<Ipv6Hdr>() == Ipv6Hdr::LEN);
    assert!(core::mem::size_of::<TcpHdr>() == TcpHdr::LEN);
    assert!(core::mem::size_of::<UdpHdr>() == UdpHdr::LEN);
    assert!(core::mem::size_of::<IcmpHdr>() == IcmpHdr::LEN);
};
