//! `struct __sk_buff` context, shared by socket filter, tc (cls_bpf/tcx), cgroup_skb and
//! sk_skb programs.

use core::ptr::NonNull;

use super::{context, fields};
use crate::bindings::__sk_buff;
use crate::helpers::{
    bpf_l3_csum_replace, bpf_l4_csum_replace, bpf_redirect, bpf_skb_change_tail,
    bpf_skb_load_bytes, bpf_skb_pull_data, bpf_skb_store_bytes, check,
};

/// A `T` at the start of an 8-byte aligned slot.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Align8<T>(T);

/// Context of a program that sees a socket buffer (`struct __sk_buff`). Which fields are
/// readable or writable depends on the program type; the verifier enforces it.
pub struct SkBuffContext {
    pub(crate) skb: *mut __sk_buff,
}

context!(SkBuffContext, skb: __sk_buff);

/// Context of a `tc`/`tcx/*` classifier (`BPF_PROG_TYPE_SCHED_CLS`).
pub type TcContext = SkBuffContext;
/// Context of a `socket` filter (`BPF_PROG_TYPE_SOCKET_FILTER`).
pub type SocketFilterContext = SkBuffContext;
/// Context of a `cgroup_skb/*` program (`BPF_PROG_TYPE_CGROUP_SKB`).
pub type CgroupSkbContext = SkBuffContext;
/// Context of an `sk_skb/*` program (`BPF_PROG_TYPE_SK_SKB`).
pub type SkSkbContext = SkBuffContext;

#[allow(clippy::len_without_is_empty)] // `len` is `skb->len`, not a container length
impl SkBuffContext {
    fields!(skb;
        /// Packet length in bytes.
        len => len: u32,
        /// `PACKET_*` type (host, broadcast, …).
        pkt_type => pkt_type: u32,
        /// `skb->mark`.
        mark / set_mark => mark: u32,
        /// Transmit queue mapping.
        queue_mapping / set_queue_mapping => queue_mapping: u32,
        /// Link-layer protocol (`ETH_P_*`, network byte order).
        protocol => protocol: u32,
        /// Priority (tc class).
        priority / set_priority => priority: u32,
        /// Interface index the packet arrived on.
        ingress_ifindex => ingress_ifindex: u32,
        /// Interface index of the device the packet is on.
        ifindex => ifindex: u32,
        /// tc index.
        tc_index / set_tc_index => tc_index: u32,
        /// Packet hash.
        hash => hash: u32,
        /// tc class id (`TC_H_MAKE`).
        tc_classid / set_tc_classid => tc_classid: u32,
        /// Address family of the socket (cgroup_skb, sk_skb).
        family => family: u32,
        /// Remote IPv4 address, network byte order.
        remote_ip4 => remote_ip4: u32,
        /// Local IPv4 address, network byte order.
        local_ip4 => local_ip4: u32,
        /// Remote port, network byte order.
        remote_port => remote_port: u32,
        /// Local port, host byte order.
        local_port => local_port: u32,
        /// Timestamp (`skb->tstamp`).
        tstamp / set_tstamp => tstamp: u64,
        /// Length on the wire.
        wire_len => wire_len: u32,
        /// GSO segment count.
        gso_segs => gso_segs: u32,
        /// GSO segment size.
        gso_size => gso_size: u32,
    );

    /// Control buffer word `index` (0..5) shared between programs.
    #[inline(always)]
    pub fn cb(&self, index: usize) -> Option<u32> {
        if index >= 5 {
            return None;
        }
        // SAFETY: the context pointer is valid and `index < 5`.
        Some(unsafe { core::ptr::addr_of!((*self.skb).cb[index]).read_volatile() })
    }

    /// Address of the first byte of linear packet data (direct packet access).
    #[inline(always)]
    pub fn data(&self) -> usize {
        // SAFETY: the verifier rewrites this 32-bit context load into the packet pointer.
        unsafe { core::ptr::addr_of!((*self.skb).data).read_volatile() as usize }
    }

    /// Address one past the linear packet data.
    #[inline(always)]
    pub fn data_end(&self) -> usize {
        // SAFETY: as for `data`.
        unsafe { core::ptr::addr_of!((*self.skb).data_end).read_volatile() as usize }
    }

    /// Pointer to a `T` at `offset` of the linear data, `None` when it would pass the end.
    #[inline(always)]
    pub fn ptr_at<T>(&self, offset: usize) -> Option<NonNull<T>> {
        let start = self.data() + offset;
        if start + core::mem::size_of::<T>() > self.data_end() {
            return None;
        }
        NonNull::new(start as *mut T)
    }

    /// Copies a `T` from `offset` of the packet (`bpf_skb_load_bytes`, works past the linear
    /// part too).
    ///
    /// The copy lands in an 8-byte aligned stack buffer whatever `T`'s alignment (the
    /// headers of [`crate::net`] have alignment 1): the compiler then knows each field's
    /// alignment and may read it with one word load, and a program built with misaligned
    /// accesses allowed (bpfkit-build's `misaligned_mem_access`) never issues a word access
    /// at a misaligned stack offset, which the verifier refuses on every architecture.
    #[inline(always)]
    pub fn load<T: Copy>(&self, offset: u32) -> Result<T, i64> {
        let mut value = core::mem::MaybeUninit::<Align8<T>>::uninit();
        // SAFETY: the destination is the `T` at the start of a stack slot at least `T`'s
        // size; the kernel bounds-checks offset.
        let ret = unsafe {
            bpf_skb_load_bytes(
                self.skb.cast(),
                offset,
                value.as_mut_ptr().cast(),
                core::mem::size_of::<T>() as u32,
            )
        };
        check(ret)?;
        // SAFETY: the helper filled all bytes of the `T` (plain `Copy` data); the rest of
        // the slot is padding.
        Ok(unsafe { value.assume_init() }.0)
    }

    /// Fills `dest` from `offset` of the packet.
    #[inline(always)]
    pub fn load_bytes(&self, offset: u32, dest: &mut [u8]) -> Result<(), i64> {
        // SAFETY: `dest` is writable for its length; the kernel bounds-checks offset.
        let ret = unsafe {
            bpf_skb_load_bytes(
                self.skb.cast(),
                offset,
                dest.as_mut_ptr().cast(),
                dest.len() as u32,
            )
        };
        check(ret).map(|_| ())
    }

    /// Writes `value` at `offset` of the packet (`bpf_skb_store_bytes`; `flags`:
    /// `BPF_F_RECOMPUTE_CSUM`, `BPF_F_INVALIDATE_HASH`).
    #[inline(always)]
    pub fn store<T>(&mut self, offset: u32, value: &T, flags: u64) -> Result<(), i64> {
        // SAFETY: `value` is readable for its size; the kernel bounds-checks offset.
        let ret = unsafe {
            bpf_skb_store_bytes(
                self.skb,
                offset,
                (value as *const T).cast(),
                core::mem::size_of::<T>() as u32,
                flags,
            )
        };
        check(ret).map(|_| ())
    }

    /// `bpf_skb_pull_data`: makes the first `len` bytes linear so direct packet access
    /// reaches them (0: all). Packet pointers taken before are invalid after.
    #[inline(always)]
    pub fn pull_data(&mut self, len: u32) -> Result<(), i64> {
        // SAFETY: the context is a socket buffer context.
        check(unsafe { bpf_skb_pull_data(self.skb, len) }).map(|_| ())
    }

    /// `bpf_skb_change_tail`: grows or trims the packet to `len` bytes.
    #[inline(always)]
    pub fn change_tail(&mut self, len: u32, flags: u64) -> Result<(), i64> {
        // SAFETY: the context is a socket buffer context.
        check(unsafe { bpf_skb_change_tail(self.skb, len, flags) }).map(|_| ())
    }

    /// `bpf_l3_csum_replace`: fixes the IP header checksum at `offset` for a `size`-byte (2
    /// or 4) field that changed from `from` to `to` (values as stored, network order).
    #[inline(always)]
    pub fn l3_csum_replace(
        &mut self,
        offset: u32,
        from: u64,
        to: u64,
        size: u64,
    ) -> Result<(), i64> {
        // SAFETY: the context is a socket buffer context; the kernel bounds-checks offset.
        check(unsafe { bpf_l3_csum_replace(self.skb, offset, from, to, size) }).map(|_| ())
    }

    /// `bpf_l4_csum_replace`: fixes the TCP/UDP checksum at `offset`; `flags` holds the
    /// field size (2 or 4) and `BPF_F_PSEUDO_HDR` for address changes, `BPF_F_MARK_MANGLED_0`
    /// for UDP's "no checksum" 0.
    #[inline(always)]
    pub fn l4_csum_replace(
        &mut self,
        offset: u32,
        from: u64,
        to: u64,
        flags: u64,
    ) -> Result<(), i64> {
        // SAFETY: the context is a socket buffer context; the kernel bounds-checks offset.
        check(unsafe { bpf_l4_csum_replace(self.skb, offset, from, to, flags) }).map(|_| ())
    }

    /// `bpf_redirect`: the tc verdict that sends the packet to interface `ifindex`
    /// (`BPF_F_INGRESS` in `flags`: to its ingress).
    #[inline(always)]
    pub fn redirect(&self, ifindex: u32, flags: u64) -> i32 {
        // SAFETY: takes no pointers; the kernel validates the interface.
        unsafe { bpf_redirect(ifindex, flags) as i32 }
    }
}
