//! The hash map family: `BPF_MAP_TYPE_HASH`, `LRU_HASH`, `PERCPU_HASH`, `LRU_PERCPU_HASH`.

use core::ptr::NonNull;

use super::{map_ptr, Uint, LIBBPF_PIN_BY_NAME};
use crate::bindings::map_type::{
    BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH,
    BPF_MAP_TYPE_PERCPU_HASH,
};
use crate::helpers::{bpf_map_delete_elem, bpf_map_lookup_elem, bpf_map_update_elem, check};

macro_rules! hash_map {
    ($(#[$doc:meta])* $name:ident, $map_type:expr $(, $pinning:ident)?) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $name<K, V, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
            r#type: Uint<{ $map_type }>,
            key: *const K,
            value: *const V,
            max_entries: Uint<MAX_ENTRIES>,
            map_flags: Uint<FLAGS>,
            $($pinning: Uint<LIBBPF_PIN_BY_NAME>,)?
        }

        // SAFETY: the struct holds type-level pointers that are never dereferenced; the map
        // lives in the kernel.
        unsafe impl<K, V, const M: usize, const F: usize> Sync for $name<K, V, M, F> {}

        impl<K, V, const MAX_ENTRIES: usize, const FLAGS: usize>
            $name<K, V, MAX_ENTRIES, FLAGS>
        {
            /// The map definition (its type is the definition; the value is all null).
            #[allow(clippy::new_without_default)]
            pub const fn new() -> Self {
                Self {
                    r#type: core::ptr::null(),
                    key: core::ptr::null(),
                    value: core::ptr::null(),
                    max_entries: core::ptr::null(),
                    map_flags: core::ptr::null(),
                    $($pinning: core::ptr::null(),)?
                }
            }

            /// Pointer to the value stored under `key`, `None` when absent.
            #[inline(always)]
            pub fn get_ptr_mut(&self, key: &K) -> Option<NonNull<V>> {
                // SAFETY: the map pointer is this map's definition and the key a live `K`.
                let ptr = unsafe { bpf_map_lookup_elem(map_ptr(self), (key as *const K).cast()) };
                NonNull::new(ptr.cast())
            }

            /// Reference to the value stored under `key`.
            ///
            /// # Safety
            /// The element may be deleted (and its memory reused) by another CPU or by
            /// userspace while the reference is alive; the caller accepts reading such data.
            #[inline(always)]
            pub unsafe fn get(&self, key: &K) -> Option<&V> {
                // SAFETY: the caller accepts concurrent deletion, see above.
                self.get_ptr_mut(key).map(|p| unsafe { p.as_ref() })
            }

            /// A copy of the value stored under `key`, `None` when absent.
            #[inline(always)]
            pub fn get_copy(&self, key: &K) -> Option<V>
            where
                V: Copy,
            {
                // SAFETY: the pointer came from a successful lookup; the read copies the value
                // out (element memory stays mapped until an RCU grace period ends).
                self.get_ptr_mut(key).map(|p| unsafe { p.as_ptr().read() })
            }

            /// Inserts or updates `key` (`flags`: `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`).
            ///
            /// `key` and `value` should live on the stack or in a map value: Linux 6.1
            /// refuses ring buffer memory (a [`RingBufEntry`](crate::maps::RingBufEntry)'s
            /// `write` result) here, newer kernels accept it.
            #[inline(always)]
            pub fn insert(&self, key: &K, value: &V, flags: u64) -> Result<(), i64> {
                // SAFETY: key and value point to live values of the map's key and value types.
                let ret = unsafe {
                    bpf_map_update_elem(
                        map_ptr(self),
                        (key as *const K).cast(),
                        (value as *const V).cast(),
                        flags,
                    )
                };
                check(ret).map(|_| ())
            }

            /// Removes `key`; `Err(-ENOENT)` when it was absent.
            #[inline(always)]
            pub fn remove(&self, key: &K) -> Result<(), i64> {
                // SAFETY: the key points to a live `K`.
                let ret = unsafe { bpf_map_delete_elem(map_ptr(self), (key as *const K).cast()) };
                check(ret).map(|_| ())
            }
        }
    };
}

hash_map!(
    /// `BPF_MAP_TYPE_HASH`: up to `MAX_ENTRIES` key/value pairs.
    HashMap,
    BPF_MAP_TYPE_HASH
);
hash_map!(
    /// `BPF_MAP_TYPE_LRU_HASH`: a hash map that evicts the least recently used entry when full.
    LruHashMap,
    BPF_MAP_TYPE_LRU_HASH
);
hash_map!(
    /// `BPF_MAP_TYPE_PERCPU_HASH`: a hash map whose values are per CPU.
    PerCpuHashMap,
    BPF_MAP_TYPE_PERCPU_HASH
);
hash_map!(
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`: an LRU hash map whose values are per CPU.
    LruPerCpuHashMap,
    BPF_MAP_TYPE_LRU_PERCPU_HASH
);
hash_map!(
    /// A [`HashMap`] that the loader pins by name (`pinning = LIBBPF_PIN_BY_NAME`), sharing it
    /// with every object loaded with the same pin directory.
    PinnedHashMap,
    BPF_MAP_TYPE_HASH,
    pinning
);
hash_map!(
    /// An [`LruHashMap`] that the loader pins by name (`pinning = LIBBPF_PIN_BY_NAME`).
    PinnedLruHashMap,
    BPF_MAP_TYPE_LRU_HASH,
    pinning
);
