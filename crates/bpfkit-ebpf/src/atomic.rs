//! Atomic integers for map values and globals: [`AtomicU32`] and [`AtomicU64`], lowered to
//! BPF's atomic instructions (`BPF_ATOMIC` with `BPF_FETCH`, `BPF_XCHG`, `BPF_CMPXCHG`).
//!
//! The same on both build routes and on stable: no `#![feature]`, no `core::sync::atomic`
//! (bpfel's `core` lacks `fetch_add`). Each operation calls a marker extern
//! (`bpfkit$atomic$<op>$<width>`) that bpfkit-link defines as one `seq_cst` instruction,
//! which also sidesteps LLVM 22's miscompile of relaxed read-modify-writes whose old value
//! is used. Needs `-mcpu=v3` (the default; Linux 5.12 for fetched results).
//!
//! ```ignore
//! #[no_mangle]
//! static HITS: AtomicU64 = AtomicU64::new(0);
//! let before = HITS.fetch_add(1);        // the value before this program's increment
//!
//! if let Some(value) = COUNTS.get_ptr_mut(&key) {
//!     // SAFETY: a map value pointer, valid and 8-byte aligned for this program run.
//!     let counter = unsafe { AtomicU64::from_ptr(value) };
//!     counter.fetch_add(1);
//! }
//! ```
//!
//! `load`/`store` are single volatile accesses (a BPF load or store of that width is
//! single-copy atomic); they order nothing else.

use core::cell::UnsafeCell;

macro_rules! atomic_int {
    ($name:ident, $int:ty, $align:literal, $markers:ident) => {
        #[doc = concat!("A `", stringify!($int), "` updated with BPF atomic instructions; same size and layout as `", stringify!($int), "`.")]
        #[repr(C, align($align))]
        pub struct $name {
            value: UnsafeCell<$int>,
        }

        // SAFETY: every access is a single atomic instruction or a volatile access of the
        // whole value.
        unsafe impl Sync for $name {}

        impl $name {
            /// A new atomic starting at `value`.
            pub const fn new(value: $int) -> Self {
                Self {
                    value: UnsafeCell::new(value),
                }
            }

            #[doc = concat!("Views a `", stringify!($int), "` (a field of a map value) as atomic.")]
            #[inline(always)]
            pub fn from_mut(value: &mut $int) -> &Self {
                // SAFETY: same layout (`repr(C)` over one field), alignment checked by the
                // type of `value` being aligned to its size on BPF; the borrow is exclusive
                // for the lifetime of the result.
                unsafe { &*(value as *mut $int as *const Self) }
            }

            /// Views the value at `ptr` as atomic.
            ///
            /// # Safety
            #[doc = concat!("`ptr` must be valid for reads and writes, aligned to ", stringify!($align), " bytes, and live for `'a` (a map value or a global).")]
            #[inline(always)]
            pub unsafe fn from_ptr<'a>(ptr: *mut $int) -> &'a Self {
                // SAFETY: the caller's guarantee; same layout.
                unsafe { &*(ptr as *const Self) }
            }

            /// The pointer to the value.
            #[inline(always)]
            pub const fn as_ptr(&self) -> *mut $int {
                self.value.get()
            }

            /// The current value (one volatile load).
            #[inline(always)]
            pub fn load(&self) -> $int {
                // SAFETY: the cell's pointer is valid and aligned.
                unsafe { core::ptr::read_volatile(self.value.get()) }
            }

            /// Sets the value (one volatile store).
            #[inline(always)]
            pub fn store(&self, value: $int) {
                // SAFETY: the cell's pointer is valid and aligned.
                unsafe { core::ptr::write_volatile(self.value.get(), value) }
            }

            /// Adds `value` (wrapping); returns the value before.
            #[inline(always)]
            pub fn fetch_add(&self, value: $int) -> $int {
                // SAFETY: the marker is one atomic add on a valid, aligned pointer.
                unsafe { markers::$markers::fetch_add(self.value.get(), value) }
            }

            /// Subtracts `value` (wrapping); returns the value before.
            #[inline(always)]
            pub fn fetch_sub(&self, value: $int) -> $int {
                // SAFETY: as for `fetch_add`.
                unsafe { markers::$markers::fetch_sub(self.value.get(), value) }
            }

            /// Bitwise and with `value`; returns the value before.
            #[inline(always)]
            pub fn fetch_and(&self, value: $int) -> $int {
                // SAFETY: as for `fetch_add`.
                unsafe { markers::$markers::fetch_and(self.value.get(), value) }
            }

            /// Bitwise or with `value`; returns the value before.
            #[inline(always)]
            pub fn fetch_or(&self, value: $int) -> $int {
                // SAFETY: as for `fetch_add`.
                unsafe { markers::$markers::fetch_or(self.value.get(), value) }
            }

            /// Bitwise xor with `value`; returns the value before.
            #[inline(always)]
            pub fn fetch_xor(&self, value: $int) -> $int {
                // SAFETY: as for `fetch_add`.
                unsafe { markers::$markers::fetch_xor(self.value.get(), value) }
            }

            /// Stores `value`; returns the value before (`BPF_XCHG`).
            #[inline(always)]
            pub fn swap(&self, value: $int) -> $int {
                // SAFETY: as for `fetch_add`.
                unsafe { markers::$markers::swap(self.value.get(), value) }
            }

            /// Stores `new` if the value is `current` (`BPF_CMPXCHG`): `Ok(current)` when it
            /// was stored, else `Err(actual value)`.
            #[inline(always)]
            pub fn compare_exchange(&self, current: $int, new: $int) -> Result<$int, $int> {
                // SAFETY: as for `fetch_add`.
                let old = unsafe { markers::$markers::cmpxchg(self.value.get(), current, new) };
                if old == current {
                    Ok(old)
                } else {
                    Err(old)
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new(0)
            }
        }
    };
}

atomic_int!(AtomicU32, u32, 4, u32);
atomic_int!(AtomicU64, u64, 8, u64);

/// The marker externs bpfkit-link defines (`bpfkit$atomic$<op>$<width>`), one module per
/// width, named after it.
mod markers {
    macro_rules! markers {
        ($int:ident) => {
            pub mod $int {
                unsafe extern "C" {
                    #[link_name = concat!("bpfkit$atomic$fetch_add$", stringify!($int))]
                    pub fn fetch_add(ptr: *mut $int, value: $int) -> $int;
                    #[link_name = concat!("bpfkit$atomic$fetch_sub$", stringify!($int))]
                    pub fn fetch_sub(ptr: *mut $int, value: $int) -> $int;
                    #[link_name = concat!("bpfkit$atomic$fetch_and$", stringify!($int))]
                    pub fn fetch_and(ptr: *mut $int, value: $int) -> $int;
                    #[link_name = concat!("bpfkit$atomic$fetch_or$", stringify!($int))]
                    pub fn fetch_or(ptr: *mut $int, value: $int) -> $int;
                    #[link_name = concat!("bpfkit$atomic$fetch_xor$", stringify!($int))]
                    pub fn fetch_xor(ptr: *mut $int, value: $int) -> $int;
                    #[link_name = concat!("bpfkit$atomic$swap$", stringify!($int))]
                    pub fn swap(ptr: *mut $int, value: $int) -> $int;
                    #[link_name = concat!("bpfkit$atomic$cmpxchg$", stringify!($int))]
                    pub fn cmpxchg(ptr: *mut $int, current: $int, new: $int) -> $int;
                }
            }
        };
    }

    markers!(u32);
    markers!(u64);
}
