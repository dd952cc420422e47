//! `BPF_MAP_TYPE_USER_RINGBUF`: a ring buffer that userspace writes and the program drains.

use core::ffi::c_void;
use core::mem::MaybeUninit;

use super::{map_ptr, Uint};
use crate::bindings::bpf_dynptr;
use crate::bindings::map_type::BPF_MAP_TYPE_USER_RINGBUF;
use crate::helpers::{bpf_dynptr_read, bpf_user_ringbuf_drain, check};
use crate::loops::LoopControl;

/// `BPF_MAP_TYPE_USER_RINGBUF` of `BYTE_SIZE` bytes.
#[repr(C)]
pub struct UserRingBuf<const BYTE_SIZE: usize> {
    r#type: Uint<BPF_MAP_TYPE_USER_RINGBUF>,
    max_entries: Uint<BYTE_SIZE>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<const B: usize> Sync for UserRingBuf<B> {}

/// One sample userspace submitted, seen through the kernel's dynptr.
pub struct UserRingBufSample {
    dynptr: *const bpf_dynptr,
}

impl UserRingBufSample {
    /// Copies a `T` from `offset` in the sample; `Err` when the sample is too short.
    #[inline(always)]
    pub fn read<T: Copy>(&self, offset: u32) -> Result<T, i64> {
        let mut value = MaybeUninit::<T>::uninit();
        // SAFETY: the destination is a `T`-sized slot; the dynptr came from the kernel and the
        // helper bounds-checks `offset + size`.
        let ret = unsafe {
            bpf_dynptr_read(
                value.as_mut_ptr().cast(),
                core::mem::size_of::<T>() as u32,
                self.dynptr,
                offset,
                0,
            )
        };
        check(ret)?;
        // SAFETY: the helper wrote all bytes of `T` (any bit pattern of a `Copy` sample type).
        Ok(unsafe { value.assume_init() })
    }
}

#[inline(never)]
extern "C" fn drain_trampoline<F: FnMut(&UserRingBufSample) -> LoopControl>(
    dynptr: *mut bpf_dynptr,
    ctx: *mut c_void,
) -> i64 {
    // SAFETY: `ctx` is the `&mut F` that `drain` passed to the helper, alive for the call.
    let f = unsafe { &mut *ctx.cast::<F>() };
    f(&UserRingBufSample { dynptr }) as i64
}

impl<const BYTE_SIZE: usize> UserRingBuf<BYTE_SIZE> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            max_entries: core::ptr::null(),
        }
    }

    /// Calls `f` on each pending sample until it returns [`LoopControl::Break`] or the buffer is
    /// empty; returns the number of samples drained.
    #[inline(always)]
    pub fn drain<F: FnMut(&UserRingBufSample) -> LoopControl>(
        &self,
        mut f: F,
        flags: u64,
    ) -> Result<u32, i64> {
        let callback = drain_trampoline::<F> as *const () as *mut c_void;
        // SAFETY: the callback has the `long (*)(struct bpf_dynptr *, void *)` shape the helper
        // calls; `ctx` points to `f`, alive until the helper returns.
        let ret = unsafe {
            bpf_user_ringbuf_drain(map_ptr(self), callback, (&mut f as *mut F).cast(), flags)
        };
        check(ret).map(|n| n as u32)
    }
}
