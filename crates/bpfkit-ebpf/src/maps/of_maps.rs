//! `BPF_MAP_TYPE_ARRAY_OF_MAPS` and `HASH_OF_MAPS`: maps whose values are other maps.
//!
//! The inner map's definition `M` is given as `__array(values, M)` does in C, a zero-length
//! array of pointers to the inner definition, so libbpf creates the inner template from it.

use core::ptr::NonNull;

use super::{map_ptr, Uint};
use crate::bindings::map_type::{BPF_MAP_TYPE_ARRAY_OF_MAPS, BPF_MAP_TYPE_HASH_OF_MAPS};
use crate::helpers::bpf_map_lookup_elem;

/// `BPF_MAP_TYPE_ARRAY_OF_MAPS`: `u32` index → inner map of definition `M`.
#[repr(C)]
pub struct ArrayOfMaps<M, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: Uint<BPF_MAP_TYPE_ARRAY_OF_MAPS>,
    key: *const u32,
    max_entries: Uint<MAX_ENTRIES>,
    map_flags: Uint<FLAGS>,
    values: [*const M; 0],
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<M, const N: usize, const F: usize> Sync for ArrayOfMaps<M, N, F> {}

impl<M, const MAX_ENTRIES: usize, const FLAGS: usize> ArrayOfMaps<M, MAX_ENTRIES, FLAGS> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            max_entries: core::ptr::null(),
            map_flags: core::ptr::null(),
            values: [],
        }
    }

    /// The inner map at `index`, on which `M`'s own methods work; `None` when unset.
    #[inline(always)]
    pub fn get(&self, index: u32) -> Option<&M> {
        // SAFETY: the key is a live `u32`; a non-null result is a kernel map pointer, which
        // stays valid for the program run (the kernel holds a reference while it runs).
        let ptr = unsafe { bpf_map_lookup_elem(map_ptr(self), (&index as *const u32).cast()) };
        // SAFETY: see above; `M`'s methods only pass the pointer back to helpers.
        NonNull::new(ptr.cast::<M>()).map(|p| unsafe { p.as_ref() })
    }
}

/// `BPF_MAP_TYPE_HASH_OF_MAPS`: key `K` → inner map of definition `M`.
#[repr(C)]
pub struct HashOfMaps<K, M, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
    r#type: Uint<BPF_MAP_TYPE_HASH_OF_MAPS>,
    key: *const K,
    max_entries: Uint<MAX_ENTRIES>,
    map_flags: Uint<FLAGS>,
    values: [*const M; 0],
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<K, M, const N: usize, const F: usize> Sync for HashOfMaps<K, M, N, F> {}

impl<K, M, const MAX_ENTRIES: usize, const FLAGS: usize> HashOfMaps<K, M, MAX_ENTRIES, FLAGS> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            key: core::ptr::null(),
            max_entries: core::ptr::null(),
            map_flags: core::ptr::null(),
            values: [],
        }
    }

    /// The inner map stored under `key`; `None` when absent.
    #[inline(always)]
    pub fn get(&self, key: &K) -> Option<&M> {
        // SAFETY: the key is a live `K`; a non-null result is a kernel map pointer.
        let ptr = unsafe { bpf_map_lookup_elem(map_ptr(self), (key as *const K).cast()) };
        // SAFETY: `M`'s methods only pass the pointer back to helpers.
        NonNull::new(ptr.cast::<M>()).map(|p| unsafe { p.as_ref() })
    }
}
