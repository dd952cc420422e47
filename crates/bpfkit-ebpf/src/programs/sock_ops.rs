//! sock_ops (`BPF_PROG_TYPE_SOCK_OPS`) context: TCP events of a socket.

use super::{context, fields};
use crate::bindings::bpf_sock_ops;
use crate::helpers::{bpf_sock_ops_cb_flags_set, check};

/// Context of a `sockops` program (`struct bpf_sock_ops`).
pub struct SockOpsContext {
    pub(crate) ops: *mut bpf_sock_ops,
}

context!(SockOpsContext, ops: bpf_sock_ops);

impl SockOpsContext {
    fields!(ops;
        /// `BPF_SOCK_OPS_*` operation.
        op => op: u32,
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
        /// TCP state.
        state => state: u32,
        /// Callback flags in force.
        cb_flags => bpf_sock_ops_cb_flags: u32,
        /// Smoothed RTT in µs << 3.
        srtt_us => srtt_us: u32,
    );

    /// Operation argument `index` (0..4).
    #[inline(always)]
    pub fn arg(&self, index: usize) -> Option<u32> {
        if index >= 4 {
            return None;
        }
        // SAFETY: the context pointer is valid and `index < 4`.
        Some(unsafe { core::ptr::addr_of!((*self.ops).args[index]).read_volatile() })
    }

    /// Sets the reply (shares storage with `args[0]`).
    #[inline(always)]
    pub fn set_reply(&mut self, reply: u32) {
        // SAFETY: `reply` is writable in sock_ops programs.
        unsafe { core::ptr::addr_of_mut!((*self.ops).args[0]).write_volatile(reply) }
    }

    /// `bpf_sock_ops_cb_flags_set`: chooses which further TCP events call the program.
    #[inline(always)]
    pub fn set_cb_flags(&mut self, flags: i32) -> Result<(), i64> {
        // SAFETY: the context is a sock_ops context.
        check(unsafe { bpf_sock_ops_cb_flags_set(self.ops, flags) }).map(|_| ())
    }
}
