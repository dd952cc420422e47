//! Flow dissector (`BPF_PROG_TYPE_FLOW_DISSECTOR`) context: packet bounds and the
//! `bpf_flow_keys` the program fills in.

use core::ptr::NonNull;

use super::context;
use crate::bindings::{__sk_buff, bpf_flow_keys};

/// Context of a `flow_dissector` program.
pub struct FlowDissectorContext {
    skb: *mut __sk_buff,
}

context!(FlowDissectorContext, skb: __sk_buff);

impl FlowDissectorContext {
    /// The flow keys to fill in (`nhoff`/`thoff` arrive preset).
    #[inline(always)]
    pub fn flow_keys(&mut self) -> Option<NonNull<bpf_flow_keys>> {
        // SAFETY: the verifier rewrites this context load into the flow keys pointer.
        NonNull::new(unsafe { core::ptr::addr_of!((*self.skb).flow_keys.ptr).read_volatile() })
    }

    /// Address of the first packet byte.
    #[inline(always)]
    pub fn data(&self) -> usize {
        // SAFETY: the verifier rewrites this 32-bit context load into the packet pointer.
        unsafe { core::ptr::addr_of!((*self.skb).data).read_volatile() as usize }
    }

    /// Address one past the last packet byte.
    #[inline(always)]
    pub fn data_end(&self) -> usize {
        // SAFETY: as for `data`.
        unsafe { core::ptr::addr_of!((*self.skb).data_end).read_volatile() as usize }
    }

    /// Pointer to a `T` at `offset`, `None` when it would pass the end.
    #[inline(always)]
    pub fn ptr_at<T>(&self, offset: usize) -> Option<NonNull<T>> {
        let start = self.data() + offset;
        if start + core::mem::size_of::<T>() > self.data_end() {
            return None;
        }
        NonNull::new(start as *mut T)
    }
}
