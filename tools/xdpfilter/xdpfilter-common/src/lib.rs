//! Types and constants shared by xdpfilter's kernel side and its userspace (which reads
//! the maps through its typed skeleton: key and value types from the object's BTF).
//!
//! The rule table (`RULES`) is what userspace reads back for `list`; the kernel only reads
//! a rule's action. Matching goes through masks userspace derives from the table: bit `i`
//! of a mask stands for rule `i` (so at most [`MAX_RULES`] = 64 rules). A packet's mask is
//! `ACTIVE & SRC_trie(src) & DST_trie(dst) & PROTO[l4 proto] & (DPORT[dport] | ANY_DPORT)`
//! and the lowest set bit wins: **the lowest rule id among the matching rules decides**.
#![no_std]

/// Rules the filter holds at once (bits of a `u64` mask).
pub const MAX_RULES: u32 = 64;
/// Entries of each LPM trie (distinct prefixes).
pub const MAX_PREFIXES: u32 = 256;
/// Entries of the destination-port map (distinct ports).
pub const MAX_PORTS: u32 = 256;

/// `CONFIG` index: the mask of rules in use (the kernel matches nothing else).
pub const CONFIG_ACTIVE: u32 = 0;
/// `CONFIG` index: the mask of rules without a destination port.
pub const CONFIG_ANY_DPORT: u32 = 1;
/// Entries of `CONFIG`.
pub const CONFIG_LEN: u32 = 2;

/// Rule flag: the slot holds a rule.
pub const RULE_IN_USE: u32 = 1;
/// Rule flag: `src`/`src_len` restrict the source.
pub const RULE_HAS_SRC: u32 = 1 << 1;
/// Rule flag: `dst`/`dst_len` restrict the destination.
pub const RULE_HAS_DST: u32 = 1 << 2;
/// Rule flag: `proto` restricts the L4 protocol.
pub const RULE_HAS_PROTO: u32 = 1 << 3;
/// Rule flag: `dport` restricts the TCP/UDP destination port.
pub const RULE_HAS_DPORT: u32 = 1 << 4;

/// Action: drop matching packets (and count them).
pub const ACTION_DROP: u32 = 1;
/// Action: count matching packets and let them pass.
pub const ACTION_COUNT: u32 = 2;

/// One rule as `RULES` stores it (48 bytes, no padding).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// `RULE_*` flags.
    pub flags: u32,
    /// `ACTION_*`.
    pub action: u32,
    /// IP protocol number (`RULE_HAS_PROTO`; ICMP rules also match ICMPv6).
    pub proto: u8,
    /// Address family the rule applies to: 0 both, 4 or 6 (from its CIDRs).
    pub family: u8,
    /// Destination port, host order (`RULE_HAS_DPORT`).
    pub dport: u16,
    /// Source prefix bytes, network order (first 4 for IPv4).
    pub src: [u8; 16],
    /// Destination prefix bytes, network order.
    pub dst: [u8; 16],
    /// Source prefix length in bits.
    pub src_len: u8,
    /// Destination prefix length in bits.
    pub dst_len: u8,
    /// Zero.
    pub _pad: [u8; 2],
}

/// Per-rule counters (one copy per CPU in `STATS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets the rule decided.
    pub packets: u64,
    /// Their bytes (frame length from the Ethernet header on).
    pub bytes: u64,
}
