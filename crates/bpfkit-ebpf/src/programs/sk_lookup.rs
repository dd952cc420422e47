//! sk_lookup (`BPF_PROG_TYPE_SK_LOOKUP`) context: choose the socket an incoming connection
//! or datagram goes to.

use core::ffi::c_void;

use super::{context, fields};
use crate::bindings::bpf_sk_lookup;
use crate::helpers::{bpf_sk_assign, check};

/// Context of an `sk_lookup` program (`struct bpf_sk_lookup`).
pub struct SkLookupContext {
    lookup: *mut bpf_sk_lookup,
}

context!(SkLookupContext, lookup: bpf_sk_lookup);

impl SkLookupContext {
    fields!(lookup;
        /// `AF_INET` or `AF_INET6`.
        family => family: u32,
        /// `IPPROTO_TCP` or `IPPROTO_UDP`.
        protocol => protocol: u32,
        /// Remote IPv4 address, network byte order.
        remote_ip4 => remote_ip4: u32,
        /// Remote port, network byte order.
        remote_port => remote_port: u16,
        /// Local IPv4 address, network byte order.
        local_ip4 => local_ip4: u32,
        /// Local port, host byte order.
        local_port => local_port: u32,
        /// Interface the packet arrived on.
        ingress_ifindex => ingress_ifindex: u32,
    );

    /// `bpf_sk_assign`: selects `sk` (from a sockmap lookup) for this lookup.
    ///
    /// # Safety
    /// `sk` must be a socket pointer the verifier tracks (a referenced socket).
    #[inline(always)]
    pub unsafe fn assign(&mut self, sk: *mut c_void, flags: u64) -> Result<(), i64> {
        // SAFETY: the caller vouches for `sk`; the context is an sk_lookup context.
        check(unsafe { bpf_sk_assign(self.lookup.cast(), sk, flags) }).map(|_| ())
    }
}
