//! Large map values without a stack copy.
//!
//! The BPF stack is 512 bytes, so a value larger than that cannot be built on it and passed
//! to `insert`. The way out is a value the kernel copies from elsewhere: all-zero bytes in
//! `.rodata`. [`zeroed!`](crate::zeroed) makes that source for a type, and the hash maps'
//! `insert_zeroed`/`get_or_insert_zeroed` insert it and hand back a pointer to the entry,
//! which the program then fills in place:
//!
//! ```ignore
//! #[map]
//! static EXECS: HashMap<u32, ExecEvent, 10240> = HashMap::new();  // ExecEvent: 7 KiB
//!
//! let Some(mut event) = EXECS.get_or_insert_zeroed(&pid, bpfkit_ebpf::zeroed!(ExecEvent)) else {
//!     return 0;
//! };
//! ```
//!
//! Array maps need none of this: the kernel creates their values zeroed.

use core::marker::PhantomData;
use core::ptr::NonNull;

use super::PinnedLruHashMap;
use super::{map_ptr, HashMap, LruHashMap, LruPerCpuHashMap, PerCpuHashMap, PinnedHashMap};
use crate::bindings::flags::BPF_NOEXIST;
use crate::helpers::{bpf_map_update_elem, check};

/// All-zero bytes the size of a `T`, in a `static` (`.rodata`): the value source of
/// `insert_zeroed`. Made by [`zeroed!`](crate::zeroed).
#[derive(Clone, Copy)]
pub struct Zeroed<T> {
    bytes: *const u8,
    _type: PhantomData<*const T>,
}

impl<T> Zeroed<T> {
    /// Wraps a static zero buffer.
    ///
    /// # Safety
    /// `bytes` must point to at least `size_of::<T>()` zero bytes that live for the whole
    /// program and are never written. [`zeroed!`](crate::zeroed) guarantees this.
    #[doc(hidden)]
    pub const unsafe fn from_static(bytes: *const u8) -> Self {
        Self {
            bytes,
            _type: PhantomData,
        }
    }

    /// The zero bytes, as the helpers take them.
    #[inline(always)]
    fn source(self) -> *const core::ffi::c_void {
        self.bytes.cast()
    }
}

/// A [`Zeroed`] for type `T`: a `static` of `size_of::<T>()` zero bytes (8-byte aligned),
/// for inserting map values larger than the BPF stack (see [`maps`](crate::maps)'s
/// `insert_zeroed`).
///
/// ```ignore
/// let zero = bpfkit_ebpf::zeroed!(ExecEvent);
/// ```
#[macro_export]
macro_rules! zeroed {
    ($t:ty) => {{
        const WORDS: usize = ::core::mem::size_of::<$t>().div_ceil(8);
        const _: () = ::core::assert!(
            ::core::mem::align_of::<$t>() <= 8,
            "zeroed!: types aligned to more than 8 bytes are not supported"
        );
        static ZEROED: [u64; WORDS] = [0; WORDS];
        // SAFETY: ZEROED is an immutable static of at least size_of::<$t>() zero bytes.
        unsafe { $crate::maps::Zeroed::<$t>::from_static(ZEROED.as_ptr().cast()) }
    }};
}

macro_rules! zeroed_inserts {
    ($($name:ident),+) => {$(
        impl<K, V, const MAX_ENTRIES: usize, const FLAGS: usize> $name<K, V, MAX_ENTRIES, FLAGS> {
            /// Inserts or updates `key` with an all-zero value copied by the kernel from
            /// `zeroed` (`flags`: `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`): no `V` on the stack.
            #[inline(always)]
            pub fn insert_zeroed(&self, key: &K, zeroed: Zeroed<V>, flags: u64) -> Result<(), i64> {
                // SAFETY: the key points to a live `K`; `zeroed` to size_of::<V>() readable bytes.
                let ret = unsafe {
                    bpf_map_update_elem(map_ptr(self), (key as *const K).cast(), zeroed.source(), flags)
                };
                check(ret).map(|_| ())
            }

            /// The entry for `key`, created all-zero first if there is none: a pointer to fill
            /// the value in place. `None` when the map is full (or the entry was deleted
            /// between the insert and the lookup).
            #[inline(always)]
            pub fn get_or_insert_zeroed(&self, key: &K, zeroed: Zeroed<V>) -> Option<NonNull<V>> {
                // EEXIST (already there) is what we want too; any other failure shows below.
                let _ = self.insert_zeroed(key, zeroed, BPF_NOEXIST);
                self.get_ptr_mut(key)
            }
        }
    )+};
}

zeroed_inserts!(
    HashMap,
    LruHashMap,
    PerCpuHashMap,
    LruPerCpuHashMap,
    PinnedHashMap,
    PinnedLruHashMap
);
