//! Global variables in `.rodata` ([`Global`]) and `.data`/`.bss` ([`GlobalMut`]), read with
//! volatile loads so the compiler never folds in the compile-time value: the loader may
//! rewrite the section before loading, and for frozen `.rodata` the verifier sees the real
//! value and prunes branches that depend on it.
//!
//! Give the static `#[no_mangle]` so userspace finds it by its Rust name:
//!
//! ```ignore
//! #[no_mangle]
//! static TARGET_PID: Global<u32> = Global::new(0);
//! if TARGET_PID.get() != 0 && TARGET_PID.get() != pid { return 0; }
//! ```
//!
//! Use scalar `T`s: a volatile read of a struct becomes byte-by-byte copies.

use core::cell::UnsafeCell;

/// A read-only global (a `static` of it lands in `.rodata`, frozen by the loader).
#[repr(transparent)]
pub struct Global<T> {
    value: T,
}

// SAFETY: the value is never written by the program; the kernel freezes `.rodata`.
unsafe impl<T: Sync> Sync for Global<T> {}

impl<T: Copy> Global<T> {
    /// A global whose value is `value` unless the loader rewrites it.
    pub const fn new(value: T) -> Self {
        Self { value }
    }

    /// The value, as loaded into the kernel.
    #[inline(always)]
    pub fn get(&self) -> T {
        // SAFETY: `&self.value` is a valid, aligned `T`; volatile stops constant folding.
        unsafe { core::ptr::read_volatile(&self.value) }
    }
}

/// A writable global (a `static` of it lands in `.data`, or `.bss` when zero). Shared by all
/// CPUs running the program; updates are plain stores, not atomic.
#[repr(transparent)]
pub struct GlobalMut<T> {
    value: UnsafeCell<T>,
}

// SAFETY: accesses are single volatile loads/stores of `T`; concurrent programs may race as
// C globals do, which is the documented behaviour of BPF global data.
unsafe impl<T: Send> Sync for GlobalMut<T> {}

impl<T: Copy> GlobalMut<T> {
    /// A global starting at `value`.
    pub const fn new(value: T) -> Self {
        Self {
            value: UnsafeCell::new(value),
        }
    }

    /// The current value.
    #[inline(always)]
    pub fn get(&self) -> T {
        // SAFETY: the cell's pointer is valid and aligned for `T`.
        unsafe { core::ptr::read_volatile(self.value.get()) }
    }

    /// Replaces the value.
    #[inline(always)]
    pub fn set(&self, value: T) {
        // SAFETY: the cell's pointer is valid and aligned for `T`.
        unsafe { core::ptr::write_volatile(self.value.get(), value) }
    }

    /// Pointer to the value (for atomic helpers or `probe_read` destinations).
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut T {
        self.value.get()
    }
}
