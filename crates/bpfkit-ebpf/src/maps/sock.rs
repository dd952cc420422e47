//! `BPF_MAP_TYPE_SOCKMAP` and `SOCKHASH`: sockets to redirect messages and packets to.

use super::{map_ptr, Uint};
use crate::bindings::map_type::{BPF_MAP_TYPE_SOCKHASH, BPF_MAP_TYPE_SOCKMAP};
use crate::helpers::{
    bpf_msg_redirect_hash, bpf_msg_redirect_map, bpf_sk_redirect_hash, bpf_sk_redirect_map,
    bpf_sock_hash_update, bpf_sock_map_update, check,
};
use crate::programs::{SkBuffContext, SkMsgContext, SockOpsContext};

/// `BPF_MAP_TYPE_SOCKMAP`: `u32` index → socket.
#[repr(C)]
pub struct SockMap<const MAX_ENTRIES: usize> {
    r#type: Uint<BPF_MAP_TYPE_SOCKMAP>,
    key: *const u32,
    value: *const u32,
    max_entries: Uint<MAX_ENTRIES>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<const M: usize> Sync for SockMap<M> {}

impl<const MAX_ENTRIES: usize> SockMap<MAX_ENTRIES> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            value: core::ptr::null(),
            max_entries: core::ptr::null(),
        }
    }

    /// Stores the sock_ops program's socket at `index`.
    #[inline(always)]
    pub fn update(&self, ctx: &SockOpsContext, mut index: u32, flags: u64) -> Result<(), i64> {
        // SAFETY: the context is a sock_ops context; the key is a live `u32`.
        let ret = unsafe {
            bpf_sock_map_update(
                ctx.ops,
                map_ptr(self),
                (&mut index as *mut u32).cast(),
                flags,
            )
        };
        check(ret).map(|_| ())
    }

    /// sk_msg verdict: redirect the message to the socket at `index` (`SK_PASS` on success).
    #[inline(always)]
    pub fn redirect_msg(&self, ctx: &SkMsgContext, index: u32, flags: u64) -> i64 {
        // SAFETY: the context is an sk_msg context.
        unsafe { bpf_msg_redirect_map(ctx.msg, map_ptr(self), index, flags) }
    }

    /// sk_skb verdict: redirect the packet to the socket at `index` (`SK_PASS` on success).
    #[inline(always)]
    pub fn redirect_skb(&self, ctx: &SkBuffContext, index: u32, flags: u64) -> i64 {
        // SAFETY: the context is an sk_skb context.
        unsafe { bpf_sk_redirect_map(ctx.skb, map_ptr(self), index, flags) }
    }
}

/// `BPF_MAP_TYPE_SOCKHASH`: key `K` → socket.
#[repr(C)]
pub struct SockHash<K, const MAX_ENTRIES: usize> {
    r#type: Uint<BPF_MAP_TYPE_SOCKHASH>,
    key: *const K,
    value: *const u32,
    max_entries: Uint<MAX_ENTRIES>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<K, const M: usize> Sync for SockHash<K, M> {}

impl<K, const MAX_ENTRIES: usize> SockHash<K, MAX_ENTRIES> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            value: core::ptr::null(),
            max_entries: core::ptr::null(),
        }
    }

    /// Stores the sock_ops program's socket under `key`.
    #[inline(always)]
    pub fn update(&self, ctx: &SockOpsContext, key: &K, flags: u64) -> Result<(), i64> {
        // SAFETY: the context is a sock_ops context; the key is a live `K` (only read).
        let ret = unsafe {
            bpf_sock_hash_update(
                ctx.ops,
                map_ptr(self),
                (key as *const K as *mut K).cast(),
                flags,
            )
        };
        check(ret).map(|_| ())
    }

    /// sk_msg verdict: redirect the message to the socket under `key`.
    #[inline(always)]
    pub fn redirect_msg(&self, ctx: &SkMsgContext, key: &K, flags: u64) -> i64 {
        // SAFETY: the context is an sk_msg context; the key is only read.
        unsafe {
            bpf_msg_redirect_hash(
                ctx.msg,
                map_ptr(self),
                (key as *const K as *mut K).cast(),
                flags,
            )
        }
    }

    /// sk_skb verdict: redirect the packet to the socket under `key`.
    #[inline(always)]
    pub fn redirect_skb(&self, ctx: &SkBuffContext, key: &K, flags: u64) -> i64 {
        // SAFETY: the context is an sk_skb context; the key is only read.
        unsafe {
            bpf_sk_redirect_hash(
                ctx.skb,
                map_ptr(self),
                (key as *const K as *mut K).cast(),
                flags,
            )
        }
    }
}
