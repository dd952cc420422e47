//! `BPF_MAP_TYPE_LPM_TRIE`: longest-prefix-match lookups (routing tables, CIDR allow lists).

use core::ptr::NonNull;

use super::{map_ptr, Uint};
use crate::bindings::flags::BPF_F_NO_PREALLOC;
use crate::bindings::map_type::BPF_MAP_TYPE_LPM_TRIE;
use crate::helpers::{bpf_map_delete_elem, bpf_map_lookup_elem, bpf_map_update_elem, check};

/// Key of an LPM trie (`struct bpf_lpm_trie_key_u8` with typed data): the number of
/// significant leading bits of `data`, then `data` in network byte order.
#[repr(C, packed(4))]
#[derive(Clone, Copy)]
pub struct LpmKey<K> {
    /// Number of significant leading bits of `data`.
    pub prefix_len: u32,
    /// The address bytes, most significant first.
    pub data: K,
}

impl<K> LpmKey<K> {
    /// A key matching the first `prefix_len` bits of `data`.
    pub const fn new(prefix_len: u32, data: K) -> Self {
        Self { prefix_len, data }
    }
}

/// `BPF_MAP_TYPE_LPM_TRIE` (the kernel requires `BPF_F_NO_PREALLOC`, which is the default
/// `FLAGS`).
#[repr(C)]
pub struct LpmTrie<K, V, const MAX_ENTRIES: usize, const FLAGS: usize = BPF_F_NO_PREALLOC> {
    r#type: Uint<BPF_MAP_TYPE_LPM_TRIE>,
    key: *const LpmKey<K>,
    value: *const V,
    max_entries: Uint<MAX_ENTRIES>,
    map_flags: Uint<FLAGS>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<K, V, const M: usize, const F: usize> Sync for LpmTrie<K, V, M, F> {}

impl<K, V, const MAX_ENTRIES: usize, const FLAGS: usize> LpmTrie<K, V, MAX_ENTRIES, FLAGS> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            value: core::ptr::null(),
            max_entries: core::ptr::null(),
            map_flags: core::ptr::null(),
        }
    }

    /// Pointer to the value of the longest prefix matching `key`.
    #[inline(always)]
    pub fn get_ptr_mut(&self, key: &LpmKey<K>) -> Option<NonNull<V>> {
        // SAFETY: the key points to a live `LpmKey<K>`, the map's key type.
        let ptr = unsafe { bpf_map_lookup_elem(map_ptr(self), (key as *const LpmKey<K>).cast()) };
        NonNull::new(ptr.cast())
    }

    /// A copy of the value of the longest prefix matching `key`.
    #[inline(always)]
    pub fn get_copy(&self, key: &LpmKey<K>) -> Option<V>
    where
        V: Copy,
    {
        // SAFETY: the pointer came from a successful lookup and is read once, right away.
        self.get_ptr_mut(key).map(|p| unsafe { p.as_ptr().read() })
    }

    /// Inserts or updates the prefix `key`.
    #[inline(always)]
    pub fn insert(&self, key: &LpmKey<K>, value: &V, flags: u64) -> Result<(), i64> {
        // SAFETY: key and value point to live values of the map's key and value types.
        let ret = unsafe {
            bpf_map_update_elem(
                map_ptr(self),
                (key as *const LpmKey<K>).cast(),
                (value as *const V).cast(),
                flags,
            )
        };
        check(ret).map(|_| ())
    }

    /// Removes the exact prefix `key`.
    #[inline(always)]
    pub fn remove(&self, key: &LpmKey<K>) -> Result<(), i64> {
        // SAFETY: the key points to a live `LpmKey<K>`.
        let ret = unsafe { bpf_map_delete_elem(map_ptr(self), (key as *const LpmKey<K>).cast()) };
        check(ret).map(|_| ())
    }
}
