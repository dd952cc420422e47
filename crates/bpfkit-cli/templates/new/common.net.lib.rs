//! Types shared by {{name}}'s kernel side and its userspace. `#![no_std]`, so the eBPF crate
//! can use it; `#[repr(C)]`, so both sides agree on the layout.
#![no_std]

/// One packet seen by the kernel side, sent through the `EVENTS` ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Packet {
    /// Length in bytes.
    pub len: u32,
    /// Link-layer protocol (`ETH_P_*`, host byte order): 0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP.
    pub ether_type: u32,
}

impl Packet {
    /// The record's size in bytes.
    pub const SIZE: usize = core::mem::size_of::<Packet>();

    /// Decodes a record as the kernel wrote it (native byte order); `None` if it is short.
    pub fn from_bytes(bytes: &[u8]) -> Option<Packet> {
        if bytes.len() < Self::SIZE {
            return None;
        }
        let word = |at: usize| {
            u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        Some(Packet {
            len: word(0),
            ether_type: word(4),
        })
    }
}
