//! sk_msg (`BPF_PROG_TYPE_SK_MSG`) context: a message sent on a socket in a sockmap.

use super::{context, fields};
use crate::bindings::sk_msg_md;

/// Context of an `sk_msg` program (`struct sk_msg_md`).
pub struct SkMsgContext {
    pub(crate) msg: *mut sk_msg_md,
}

context!(SkMsgContext, msg: sk_msg_md);

impl SkMsgContext {
    fields!(msg;
        /// Socket family.
        family => family: u32,
        /// Remote IPv4 address, network byte order.
        remote_ip4 => remote_ip4: u32,
        /// Local IPv4 address, network byte order.
        local_ip4 => local_ip4: u32,
        /// Remote port, network byte order.
        remote_port => remote_port: u32,
        /// Local port, host byte order.
        local_port => local_port: u32,
        /// Total message size.
        size => size: u32,
    );

    /// Address of the first byte of the message's current scatterlist element.
    #[inline(always)]
    pub fn data(&self) -> usize {
        // SAFETY: the verifier rewrites this load into the data pointer.
        unsafe { core::ptr::addr_of!((*self.msg).data.ptr).read_volatile() as usize }
    }

    /// Address one past it.
    #[inline(always)]
    pub fn data_end(&self) -> usize {
        // SAFETY: as for `data`.
        unsafe { core::ptr::addr_of!((*self.msg).data_end.ptr).read_volatile() as usize }
    }
}
