//! `BPF_MAP_TYPE_BLOOM_FILTER`: a probabilistic set (no false negatives).

use super::{map_ptr, Uint};
use crate::bindings::map_type::BPF_MAP_TYPE_BLOOM_FILTER;
use crate::helpers::{bpf_map_peek_elem, bpf_map_push_elem, check};

/// `BPF_MAP_TYPE_BLOOM_FILTER` of values `V`, sized for `MAX_ENTRIES` elements (the kernel
/// uses 5 hash functions unless the loader sets `map_extra`).
#[repr(C)]
pub struct BloomFilter<V, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: Uint<BPF_MAP_TYPE_BLOOM_FILTER>,
    value: *const V,
    max_entries: Uint<MAX_ENTRIES>,
    map_flags: Uint<FLAGS>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<V, const M: usize, const F: usize> Sync for BloomFilter<V, M, F> {}

impl<V, const MAX_ENTRIES: usize, const FLAGS: usize> BloomFilter<V, MAX_ENTRIES, FLAGS> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            value: core::ptr::null(),
            max_entries: core::ptr::null(),
            map_flags: core::ptr::null(),
        }
    }

    /// Adds `value` to the set.
    #[inline(always)]
    pub fn insert(&self, value: &V) -> Result<(), i64> {
        // SAFETY: the value points to a live `V`, the map's value type.
        let ret = unsafe { bpf_map_push_elem(map_ptr(self), (value as *const V).cast(), 0) };
        check(ret).map(|_| ())
    }

    /// `true` when `value` may be in the set, `false` when it certainly is not.
    #[inline(always)]
    pub fn contains(&self, value: &V) -> bool {
        // SAFETY: peek on a bloom filter only reads `value`, a live `V`.
        let ret = unsafe { bpf_map_peek_elem(map_ptr(self), (value as *const V as *mut V).cast()) };
        ret == 0
    }
}
