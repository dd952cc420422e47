//! `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY`: fixed-size arrays indexed by `u32`.

use core::ptr::NonNull;

use super::{map_ptr, Uint, LIBBPF_PIN_BY_NAME};
use crate::bindings::map_type::{BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PERCPU_ARRAY};
use crate::helpers::{bpf_map_lookup_elem, bpf_map_update_elem, check};

macro_rules! array_map {
    ($(#[$doc:meta])* $name:ident, $map_type:expr $(, $pinning:ident)?) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $name<V, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
            r#type: Uint<{ $map_type }>,
            key: *const u32,
            value: *const V,
            max_entries: Uint<MAX_ENTRIES>,
            map_flags: Uint<FLAGS>,
            $($pinning: Uint<LIBBPF_PIN_BY_NAME>,)?
        }

        // SAFETY: the struct holds type-level pointers that are never dereferenced; the map
        // lives in the kernel.
        unsafe impl<V, const M: usize, const F: usize> Sync for $name<V, M, F> {}

        impl<V, const MAX_ENTRIES: usize, const FLAGS: usize>
            $name<V, MAX_ENTRIES, FLAGS>
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

            /// Pointer to the element at `index`, `None` when out of bounds.
            #[inline(always)]
            pub fn get_ptr_mut(&self, index: u32) -> Option<NonNull<V>> {
                // SAFETY: the map pointer is this map's definition and the key a live `u32`.
                let ptr = unsafe { bpf_map_lookup_elem(map_ptr(self), (&index as *const u32).cast()) };
                NonNull::new(ptr.cast())
            }

            /// The element at `index`, `None` when out of bounds.
            ///
            /// Array elements are never freed, so the reference stays valid; other CPUs (for
            /// per-CPU arrays: only this one) may update the value concurrently.
            #[inline(always)]
            pub fn get(&self, index: u32) -> Option<&V> {
                // SAFETY: array elements live as long as the map, which outlives the program.
                self.get_ptr_mut(index).map(|p| unsafe { p.as_ref() })
            }

            /// Overwrites the element at `index` (`flags`: `BPF_ANY` or `BPF_EXIST`).
            #[inline(always)]
            pub fn set(&self, index: u32, value: &V, flags: u64) -> Result<(), i64> {
                // SAFETY: key and value point to live values of the map's key and value types.
                let ret = unsafe {
                    bpf_map_update_elem(
                        map_ptr(self),
                        (&index as *const u32).cast(),
                        (value as *const V).cast(),
                        flags,
                    )
                };
                check(ret).map(|_| ())
            }
        }
    };
}

array_map!(
    /// `BPF_MAP_TYPE_ARRAY`: `MAX_ENTRIES` values of type `V`, preallocated and zeroed.
    Array,
    BPF_MAP_TYPE_ARRAY
);
array_map!(
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`: one array per CPU; lookups see the current CPU's copy.
    PerCpuArray,
    BPF_MAP_TYPE_PERCPU_ARRAY
);
array_map!(
    /// An [`Array`] that the loader pins by name (`pinning = LIBBPF_PIN_BY_NAME`): it reuses
    /// the map pinned under the same name in its pin directory, or pins the new one there.
    PinnedArray,
    BPF_MAP_TYPE_ARRAY,
    pinning
);
