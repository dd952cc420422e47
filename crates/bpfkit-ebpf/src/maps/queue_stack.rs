//! `BPF_MAP_TYPE_QUEUE` (FIFO) and `BPF_MAP_TYPE_STACK` (LIFO): keyless value containers.

use core::mem::MaybeUninit;

use super::{map_ptr, Uint};
use crate::bindings::map_type::{BPF_MAP_TYPE_QUEUE, BPF_MAP_TYPE_STACK};
use crate::helpers::{bpf_map_peek_elem, bpf_map_pop_elem, bpf_map_push_elem, check};

macro_rules! queue_like {
    ($(#[$doc:meta])* $name:ident, $map_type:expr) => {
        $(#[$doc])*
        #[repr(C)]
        pub struct $name<V, const MAX_ENTRIES: usize, const FLAGS: usize = 0> {
            r#type: Uint<{ $map_type }>,
            value: *const V,
            max_entries: Uint<MAX_ENTRIES>,
            map_flags: Uint<FLAGS>,
        }

        // SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
        unsafe impl<V, const M: usize, const F: usize> Sync for $name<V, M, F> {}

        impl<V: Copy, const MAX_ENTRIES: usize, const FLAGS: usize> $name<V, MAX_ENTRIES, FLAGS> {
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

            /// Adds `value`; with `BPF_EXIST` in `flags` a full container drops its oldest
            /// element instead of failing with `-E2BIG`.
            #[inline(always)]
            pub fn push(&self, value: &V, flags: u64) -> Result<(), i64> {
                // SAFETY: the value points to a live `V`, the map's value type.
                let ret = unsafe { bpf_map_push_elem(map_ptr(self), (value as *const V).cast(), flags) };
                check(ret).map(|_| ())
            }

            /// Removes and returns the next element, `None` when empty.
            #[inline(always)]
            pub fn pop(&self) -> Option<V> {
                let mut value = MaybeUninit::<V>::uninit();
                // SAFETY: the destination is a `V`-sized stack slot.
                let ret = unsafe { bpf_map_pop_elem(map_ptr(self), value.as_mut_ptr().cast()) };
                // SAFETY: on success the kernel wrote a whole `V`.
                (ret == 0).then(|| unsafe { value.assume_init() })
            }

            /// Returns the next element without removing it, `None` when empty.
            #[inline(always)]
            pub fn peek(&self) -> Option<V> {
                let mut value = MaybeUninit::<V>::uninit();
                // SAFETY: the destination is a `V`-sized stack slot.
                let ret = unsafe { bpf_map_peek_elem(map_ptr(self), value.as_mut_ptr().cast()) };
                // SAFETY: on success the kernel wrote a whole `V`.
                (ret == 0).then(|| unsafe { value.assume_init() })
            }
        }
    };
}

queue_like!(
    /// `BPF_MAP_TYPE_QUEUE`: first in, first out.
    Queue,
    BPF_MAP_TYPE_QUEUE
);
queue_like!(
    /// `BPF_MAP_TYPE_STACK`: last in, first out.
    Stack,
    BPF_MAP_TYPE_STACK
);
