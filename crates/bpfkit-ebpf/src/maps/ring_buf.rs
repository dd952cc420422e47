//! `BPF_MAP_TYPE_RINGBUF`: the shared ring buffer; reserve a typed entry, fill it, submit it.

use core::mem::{ManuallyDrop, MaybeUninit};
use core::ptr::NonNull;

use super::{map_ptr, Uint};
use crate::bindings::map_type::BPF_MAP_TYPE_RINGBUF;
use crate::helpers::{
    bpf_ringbuf_discard, bpf_ringbuf_output, bpf_ringbuf_query, bpf_ringbuf_reserve,
    bpf_ringbuf_submit, check,
};

/// `BPF_MAP_TYPE_RINGBUF` of `BYTE_SIZE` bytes (a power of two, multiple of the page size).
///
/// ```ignore
/// #[map]
/// static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();
/// if let Some(mut entry) = EVENTS.reserve::<Event>() {
///     entry.write(Event { pid: 1 });
///     entry.submit(0);
/// }
/// ```
#[repr(C)]
pub struct RingBuf<const BYTE_SIZE: usize, const FLAGS: usize = 0> {
    r#type: Uint<BPF_MAP_TYPE_RINGBUF>,
    max_entries: Uint<BYTE_SIZE>,
    map_flags: Uint<FLAGS>,
}

// SAFETY: type-level pointers only, never dereferenced; the map lives in the kernel.
unsafe impl<const B: usize, const F: usize> Sync for RingBuf<B, F> {}

impl<const BYTE_SIZE: usize, const FLAGS: usize> RingBuf<BYTE_SIZE, FLAGS> {
    /// The map definition.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self {
            r#type: core::ptr::null(),
            max_entries: core::ptr::null(),
            map_flags: core::ptr::null(),
        }
    }

    /// Reserves room for one `T`; `None` when the buffer is full. The entry is discarded on
    /// drop unless [`RingBufEntry::submit`] is called.
    #[inline(always)]
    pub fn reserve<T>(&self) -> Option<RingBufEntry<T>> {
        // SAFETY: the size is a compile-time constant, as the verifier requires.
        let ptr =
            unsafe { bpf_ringbuf_reserve(map_ptr(self), core::mem::size_of::<T>() as u64, 0) };
        NonNull::new(ptr.cast()).map(|ptr| RingBufEntry { ptr })
    }

    /// Reserves `size` bytes. `size` must be a constant after inlining (the verifier rejects
    /// a variable reservation size); `None` when the buffer is full.
    #[inline(always)]
    pub fn reserve_bytes(&self, size: u32) -> Option<RingBufBytes> {
        // SAFETY: the kernel checks the size against the buffer.
        let ptr = unsafe { bpf_ringbuf_reserve(map_ptr(self), size as u64, 0) };
        NonNull::new(ptr.cast()).map(|ptr| RingBufBytes { ptr, len: size })
    }

    /// Copies `data` into the buffer in one call (`bpf_ringbuf_output`).
    #[inline(always)]
    pub fn output<T>(&self, data: &T, flags: u64) -> Result<(), i64> {
        // SAFETY: `data` is readable for `size_of::<T>()` bytes.
        let ret = unsafe {
            bpf_ringbuf_output(
                map_ptr(self),
                (data as *const T as *mut T).cast(),
                core::mem::size_of::<T>() as u64,
                flags,
            )
        };
        check(ret).map(|_| ())
    }

    /// Copies `data` (whose length may vary at run time, within what the verifier can bound)
    /// into the buffer in one call.
    #[inline(always)]
    pub fn output_bytes(&self, data: &[u8], flags: u64) -> Result<(), i64> {
        // SAFETY: `data` is readable for its length.
        let ret = unsafe {
            bpf_ringbuf_output(
                map_ptr(self),
                data.as_ptr() as *mut core::ffi::c_void,
                data.len() as u64,
                flags,
            )
        };
        check(ret).map(|_| ())
    }

    /// `bpf_ringbuf_query`: `BPF_RB_AVAIL_DATA` (0), `BPF_RB_RING_SIZE` (1), `BPF_RB_CONS_POS`
    /// (2) or `BPF_RB_PROD_POS` (3).
    #[inline(always)]
    pub fn query(&self, flags: u64) -> u64 {
        // SAFETY: the map pointer is this ring buffer.
        unsafe { bpf_ringbuf_query(map_ptr(self), flags) }
    }
}

/// A reserved, not yet submitted ring buffer entry holding one `T`.
pub struct RingBufEntry<T> {
    ptr: NonNull<T>,
}

impl<T> RingBufEntry<T> {
    /// Writes the whole entry and returns a reference to it.
    ///
    /// The reference points into ring buffer memory (the verifier's `alloc_mem`). Do not
    /// pass it as a key or value to a map method such as `HashMap::insert`: Linux 6.1 refuses
    /// that ("R3 type=alloc_mem expected=fp, pkt, pkt_meta, map_key, map_value"), newer
    /// kernels accept it, so the object would verify on some kernels only. Build the value on
    /// the stack instead, hand the map a reference to it, and copy it here or with
    /// [`RingBuf::output`].
    #[inline(always)]
    pub fn write(&mut self, value: T) -> &mut T {
        // SAFETY: the reservation is `size_of::<T>()` bytes, aligned to 8 by the kernel, and
        // exclusively ours until submitted.
        unsafe {
            self.ptr.as_ptr().write(value);
            &mut *self.ptr.as_ptr()
        }
    }

    /// The entry as possibly uninitialised memory, to fill field by field.
    #[inline(always)]
    pub fn as_uninit(&mut self) -> &mut MaybeUninit<T> {
        // SAFETY: as in `write`; `MaybeUninit<T>` has `T`'s layout.
        unsafe { &mut *self.ptr.as_ptr().cast::<MaybeUninit<T>>() }
    }

    /// Publishes the entry to the reader (`flags`: 0, `BPF_RB_NO_WAKEUP`, `BPF_RB_FORCE_WAKEUP`).
    #[inline(always)]
    pub fn submit(self, flags: u64) {
        let this = ManuallyDrop::new(self);
        // SAFETY: the pointer came from `bpf_ringbuf_reserve` and is released exactly once.
        unsafe { bpf_ringbuf_submit(this.ptr.as_ptr().cast(), flags) }
    }

    /// Drops the entry without publishing it.
    #[inline(always)]
    pub fn discard(self, flags: u64) {
        let this = ManuallyDrop::new(self);
        // SAFETY: the pointer came from `bpf_ringbuf_reserve` and is released exactly once.
        unsafe { bpf_ringbuf_discard(this.ptr.as_ptr().cast(), flags) }
    }
}

impl<T> Drop for RingBufEntry<T> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: not submitted (submit/discard skip this drop), so still reserved.
        unsafe { bpf_ringbuf_discard(self.ptr.as_ptr().cast(), 0) }
    }
}

/// A reserved ring buffer entry of `len` raw bytes.
pub struct RingBufBytes {
    ptr: NonNull<u8>,
    len: u32,
}

impl RingBufBytes {
    /// Start of the reservation.
    #[inline(always)]
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Size of the reservation in bytes.
    #[inline(always)]
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Always `false` when the reservation succeeded with a non-zero size.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Publishes the entry.
    #[inline(always)]
    pub fn submit(self, flags: u64) {
        let this = ManuallyDrop::new(self);
        // SAFETY: reserved by `bpf_ringbuf_reserve`, released exactly once.
        unsafe { bpf_ringbuf_submit(this.ptr.as_ptr().cast(), flags) }
    }

    /// Drops the entry without publishing it.
    #[inline(always)]
    pub fn discard(self, flags: u64) {
        let this = ManuallyDrop::new(self);
        // SAFETY: reserved by `bpf_ringbuf_reserve`, released exactly once.
        unsafe { bpf_ringbuf_discard(this.ptr.as_ptr().cast(), flags) }
    }
}

impl Drop for RingBufBytes {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: not submitted or discarded yet (those skip this drop).
        unsafe { bpf_ringbuf_discard(self.ptr.as_ptr().cast(), 0) }
    }
}
