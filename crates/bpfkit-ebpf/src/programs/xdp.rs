//! XDP (`BPF_PROG_TYPE_XDP`) context: the frame's packet bounds and receive queue.

use core::ptr::NonNull;

use super::{context, fields};
use crate::bindings::xdp_md;
use crate::helpers::{bpf_xdp_adjust_head, bpf_xdp_adjust_meta, bpf_xdp_adjust_tail, check};

/// `XDP_ABORTED`: drop and raise the `xdp_exception` tracepoint.
pub const XDP_ABORTED: u32 = 0;
/// `XDP_DROP`: drop the frame.
pub const XDP_DROP: u32 = 1;
/// `XDP_PASS`: hand the frame to the network stack.
pub const XDP_PASS: u32 = 2;
/// `XDP_TX`: bounce the frame out of the receiving interface.
pub const XDP_TX: u32 = 3;
/// `XDP_REDIRECT`: send the frame where `bpf_redirect*` said.
pub const XDP_REDIRECT: u32 = 4;

/// Context of an `xdp` program (`struct xdp_md`).
pub struct XdpContext {
    md: *mut xdp_md,
}

context!(XdpContext, md: xdp_md);

impl XdpContext {
    fields!(md;
        /// Interface index the frame arrived on.
        ingress_ifindex => ingress_ifindex: u32,
        /// Receive queue index.
        rx_queue_index => rx_queue_index: u32,
        /// Interface index of the transmit device (devmap programs only).
        egress_ifindex => egress_ifindex: u32,
    );

    /// Address of the first packet byte.
    #[inline(always)]
    pub fn data(&self) -> usize {
        // SAFETY: the verifier rewrites this 32-bit context load into the packet pointer.
        unsafe { core::ptr::addr_of!((*self.md).data).read_volatile() as usize }
    }

    /// Address one past the last packet byte.
    #[inline(always)]
    pub fn data_end(&self) -> usize {
        // SAFETY: as for `data`.
        unsafe { core::ptr::addr_of!((*self.md).data_end).read_volatile() as usize }
    }

    /// Address of the metadata area in front of the packet.
    #[inline(always)]
    pub fn data_meta(&self) -> usize {
        // SAFETY: as for `data`.
        unsafe { core::ptr::addr_of!((*self.md).data_meta).read_volatile() as usize }
    }

    /// Pointer to a `T` at `offset` in the packet, `None` when it would pass the end (the
    /// comparison is the bounds check the verifier needs).
    #[inline(always)]
    pub fn ptr_at<T>(&self, offset: usize) -> Option<NonNull<T>> {
        let start = self.data() + offset;
        if start + core::mem::size_of::<T>() > self.data_end() {
            return None;
        }
        NonNull::new(start as *mut T)
    }

    /// A copy of the `T` at `offset` in the packet, `None` when out of bounds.
    #[inline(always)]
    pub fn load<T: Copy>(&self, offset: usize) -> Option<T> {
        // SAFETY: `ptr_at` checked the whole `T` lies inside the packet.
        self.ptr_at::<T>(offset)
            .map(|p| unsafe { p.as_ptr().read_unaligned() })
    }

    /// Writes `value` at `offset` in the packet; `None` (nothing written) when it would pass
    /// the end. With the header types of [`crate::net`]: load, change, store, no `unsafe`.
    #[inline(always)]
    pub fn store<T: Copy>(&mut self, offset: usize, value: &T) -> Option<()> {
        let p = self.ptr_at::<T>(offset)?;
        // SAFETY: `ptr_at` checked the whole `T` lies inside the packet, which the program
        // may write.
        unsafe { p.as_ptr().write_unaligned(*value) };
        Some(())
    }

    /// Writes `value` at `offset` of the metadata area (between [`data_meta`](Self::data_meta)
    /// and [`data`](Self::data), made with [`adjust_meta`](Self::adjust_meta)); `None` when
    /// it does not fit.
    #[inline(always)]
    pub fn store_meta<T: Copy>(&mut self, offset: usize, value: &T) -> Option<()> {
        let start = self.data_meta() + offset;
        if start + core::mem::size_of::<T>() > self.data() {
            return None;
        }
        let p = NonNull::new(start as *mut T)?;
        // SAFETY: the comparison above keeps the whole `T` inside the metadata area, which
        // the program may write.
        unsafe { p.as_ptr().write_unaligned(*value) };
        Some(())
    }

    /// A copy of the `T` at `offset` of the metadata area, `None` when out of bounds.
    #[inline(always)]
    pub fn load_meta<T: Copy>(&self, offset: usize) -> Option<T> {
        let start = self.data_meta() + offset;
        if start + core::mem::size_of::<T>() > self.data() {
            return None;
        }
        let p = NonNull::new(start as *mut T)?;
        // SAFETY: checked to lie inside the metadata area.
        Some(unsafe { p.as_ptr().read_unaligned() })
    }

    /// `bpf_xdp_adjust_meta`: moves the start of the metadata area by `delta` bytes (negative:
    /// reserves room in front of the packet for data a later tc program reads). Some kernel
    /// builds refuse the helper at load ("program of this type cannot use helper").
    #[inline(always)]
    pub fn adjust_meta(&mut self, delta: i32) -> Result<(), i64> {
        // SAFETY: the context is an XDP context; the kernel bounds-checks `delta`.
        check(unsafe { bpf_xdp_adjust_meta(self.md, delta) }).map(|_| ())
    }

    /// `bpf_xdp_adjust_head`: moves the packet start by `delta` bytes (negative: grows the
    /// packet in front, e.g. to push a header). Packet pointers taken before are invalid after.
    #[inline(always)]
    pub fn adjust_head(&mut self, delta: i32) -> Result<(), i64> {
        // SAFETY: the context is an XDP context; the kernel bounds-checks `delta`.
        check(unsafe { bpf_xdp_adjust_head(self.md, delta) }).map(|_| ())
    }

    /// `bpf_xdp_adjust_tail`: moves the packet end by `delta` bytes.
    #[inline(always)]
    pub fn adjust_tail(&mut self, delta: i32) -> Result<(), i64> {
        // SAFETY: the context is an XDP context; the kernel bounds-checks `delta`.
        check(unsafe { bpf_xdp_adjust_tail(self.md, delta) }).map(|_| ())
    }
}
