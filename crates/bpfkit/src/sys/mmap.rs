//! Memory-mapped maps: `mmap(2)` of a map fd (arrays with `BPF_F_MMAPABLE`, ring buffers, arenas).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use super::commands::last_error;
use super::seam::{self, Call};
use super::SysResult;

/// A mapping of a map's memory, unmapped on drop.
#[derive(Debug)]
pub struct MmapRegion {
    ptr: NonNull<u8>,
    len: usize,
    /// The `PROT_*` bits it was mapped with: [`read`](Self::read) and
    /// [`write`](Self::write) refuse what the mapping does not allow instead of faulting.
    prot: i32,
    /// Unit tests only: plain heap memory standing in for a mapping (freed, not unmapped),
    /// so the readers' index logic runs over simulated ring memory, also under Miri.
    #[cfg(test)]
    heap: bool,
}

// SAFETY: the region is plain shared memory owned by this value; access goes through
// `&self`/`&mut self` with the usual borrow rules (concurrent kernel/BPF writers are the
// user's contract, as for any shared map memory).
unsafe impl Send for MmapRegion {}
// SAFETY: see `Send`; `&MmapRegion` only hands out raw pointers and copies.
unsafe impl Sync for MmapRegion {}

impl MmapRegion {
    /// Map `len` bytes of `fd` at `offset` with `prot` (`libc::PROT_READ | libc::PROT_WRITE`).
    pub fn map(fd: BorrowedFd<'_>, len: usize, prot: i32, offset: i64) -> SysResult<Self> {
        Self::map_with(fd, len, prot, libc::MAP_SHARED, offset)
    }

    /// Map `len` bytes of `fd` privately (`MAP_PRIVATE`): what files refusing shared
    /// mappings need, e.g. `/sys/kernel/btf/vmlinux` (EACCES on `VM_MAYSHARE`).
    pub fn map_private(fd: BorrowedFd<'_>, len: usize, prot: i32, offset: i64) -> SysResult<Self> {
        Self::map_with(fd, len, prot, libc::MAP_PRIVATE, offset)
    }

    fn map_with(
        fd: BorrowedFd<'_>,
        len: usize,
        prot: i32,
        flags: i32,
        offset: i64,
    ) -> SysResult<Self> {
        let ptr = seam::call(Call::Mmap { len, prot }, || {
            // SAFETY: a fresh mapping of a kernel object; no existing memory is touched.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    prot,
                    flags,
                    fd.as_raw_fd(),
                    offset,
                )
            };
            ptr as i64
        }) as *mut libc::c_void;
        if ptr == libc::MAP_FAILED {
            return Err(last_error("mmap"));
        }
        let ptr = NonNull::new(ptr as *mut u8).ok_or_else(|| last_error("mmap"))?;
        super::fdtrace::record_map(ptr.as_ptr() as usize, len, "mmap");
        Ok(Self {
            ptr,
            len,
            prot,
            #[cfg(test)]
            heap: false,
        })
    }

    /// Unit tests only: `len` zeroed, page-aligned bytes of heap memory (readable and
    /// writable) in place of a kernel mapping.
    #[cfg(test)]
    pub(crate) fn heap(len: usize) -> Self {
        let layout = std::alloc::Layout::from_size_align(len, 4096).expect("layout");
        // SAFETY: `len` is non-zero in every caller (a page or more).
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        Self {
            ptr: NonNull::new(ptr).expect("allocation"),
            len,
            prot: libc::PROT_READ | libc::PROT_WRITE,
            heap: true,
        }
    }

    /// Start of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` for a zero-length mapping (never returned by [`MmapRegion::map`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The mapping as a byte slice.
    ///
    /// # Safety
    /// Nothing (kernel, BPF program, other mapping) may write the mapped memory while the
    /// slice lives: use it for read-only kernel data such as `/sys/kernel/btf/vmlinux`.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: the mapping is readable for `len` bytes while `self` lives; the caller
        // guarantees no concurrent writes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Copy `out.len()` bytes from `offset` (volatile: the kernel or programs may write).
    /// Returns `false` if the range is outside the mapping or it is not readable.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> bool {
        if self.prot & libc::PROT_READ == 0 {
            return false;
        }
        let Some(end) = offset.checked_add(out.len()) else {
            return false;
        };
        if end > self.len {
            return false;
        }
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: offset + i < len, inside the live mapping.
            *b = unsafe { self.ptr.as_ptr().add(offset + i).read_volatile() };
        }
        true
    }

    /// Copy `data` to `offset`. Returns `false` if the range is outside the mapping or it
    /// was mapped without `PROT_WRITE` (a write would fault).
    pub fn write(&self, offset: usize, data: &[u8]) -> bool {
        if self.prot & libc::PROT_WRITE == 0 {
            return false;
        }
        let Some(end) = offset.checked_add(data.len()) else {
            return false;
        };
        if end > self.len {
            return false;
        }
        for (i, b) in data.iter().enumerate() {
            // SAFETY: offset + i < len, inside the live mapping, which is writable
            // (`PROT_WRITE` checked above).
            unsafe { self.ptr.as_ptr().add(offset + i).write_volatile(*b) };
        }
        true
    }
}

impl Drop for MmapRegion {
    fn drop(&mut self) {
        #[cfg(test)]
        if self.heap {
            let layout = std::alloc::Layout::from_size_align(self.len, 4096).expect("layout");
            // SAFETY: allocated by `heap` with this layout, freed once.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
            return;
        }
        // SAFETY: unmapping exactly the region we mapped, once.
        unsafe { libc::munmap(self.ptr.as_ptr() as *mut libc::c_void, self.len) };
        super::fdtrace::forget_map(self.ptr.as_ptr() as usize);
    }
}
