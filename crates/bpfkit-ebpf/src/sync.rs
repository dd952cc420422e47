//! `bpf_spin_lock`: a lock inside a map value, held through a guard that unlocks on drop.

use crate::bindings::bpf_spin_lock;
use crate::helpers::{bpf_spin_lock as lock_helper, bpf_spin_unlock};

/// The kernel's spin lock type; put it in a map value (the kernel finds it by this BTF name).
pub type SpinLock = bpf_spin_lock;

impl bpf_spin_lock {
    /// An unlocked lock (map values start zeroed, which is the same).
    pub const fn new() -> Self {
        Self { val: 0 }
    }

    /// Takes the lock; it is released when the guard drops. While held, the verifier forbids
    /// helper calls and a second lock.
    #[inline(always)]
    pub fn lock(&self) -> SpinLockGuard<'_> {
        let ptr = self as *const bpf_spin_lock as *mut bpf_spin_lock;
        // SAFETY: `ptr` points to a lock inside a map value (the verifier rejects others).
        unsafe { lock_helper(ptr) };
        SpinLockGuard {
            lock: ptr,
            _lock: core::marker::PhantomData,
        }
    }
}

impl Default for bpf_spin_lock {
    fn default() -> Self {
        Self::new()
    }
}

/// Proof that a [`SpinLock`] is held; unlocks on drop.
pub struct SpinLockGuard<'a> {
    lock: *mut bpf_spin_lock,
    _lock: core::marker::PhantomData<&'a bpf_spin_lock>,
}

impl Drop for SpinLockGuard<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: the lock was taken by `lock` and is released once.
        unsafe { bpf_spin_unlock(self.lock) };
    }
}
