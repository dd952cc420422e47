//! User ring buffer writer (`BPF_MAP_TYPE_USER_RINGBUF`): userspace produces records that a
//! program consumes with `bpf_user_ringbuf_drain`.
//!
//! The mapping is the kernel ring buffer's with the roles swapped (kernel/bpf/ringbuf.c,
//! `ringbuf_map_mmap_user`): the consumer page is read-only to us, the producer page and the
//! doubly mapped data area are writable. A reservation writes a header with
//! `BPF_RINGBUF_BUSY_BIT` and publishes the producer position at once; submitting clears the
//! bit (or sets `BPF_RINGBUF_DISCARD_BIT`), which is when the kernel may read the record.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::ring_buf::{record_space, syscall, BUSY_BIT, DISCARD_BIT, HEADER_SIZE};
use super::{page_size, ReaderError};
use crate::maps::{MapData, MapType};
use crate::sys::MmapRegion;

/// Largest record length the 30-bit length field can carry.
const MAX_RECORD_LEN: usize = (DISCARD_BIT - 1) as usize;

/// A writer into a `BPF_MAP_TYPE_USER_RINGBUF` map.
///
/// ```no_run
/// # fn demo(map: &bpfkit::maps::MapData) -> Result<(), bpfkit::readers::ReaderError> {
/// let mut writer = bpfkit::readers::UserRingBufWriter::new(map)?;
/// let mut record = writer.reserve(8)?;
/// record.copy_from_slice(&42u64.to_ne_bytes());
/// record.submit(); // now visible to bpf_user_ringbuf_drain
/// # Ok(()) }
/// ```
#[doc(alias = "BPF_MAP_TYPE_USER_RINGBUF")]
#[doc(alias = "user_ring_buffer__reserve")]
#[derive(Debug)]
pub struct UserRingBufWriter {
    name: String,
    fd: OwnedFd,
    /// Page 0: `consumer_pos`, read-only to us.
    consumer: MmapRegion,
    /// Page 1 (`producer_pos`) and the data area twice, read-write.
    producer: MmapRegion,
    page_size: usize,
    size: usize,
    /// Our producer position (we are its only writer).
    prod: usize,
}

impl UserRingBufWriter {
    /// Map the user ring buffer `map` for writing. The writer keeps its own copy of the fd.
    pub fn new(map: &MapData) -> Result<Self, ReaderError> {
        if map.map_type() != MapType::UserRingbuf {
            return Err(ReaderError::WrongMapType {
                map: map.name().to_string(),
                expected: "BPF_MAP_TYPE_USER_RINGBUF",
                actual: map.map_type(),
            });
        }
        let name = map.name().to_string();
        let fd = crate::sys::fdtrace::dup(map.as_fd()).map_err(|e| syscall(&name, "dup", e))?;
        let page_size = page_size();
        let size = map.max_entries() as usize;
        if !size.is_power_of_two() || size % page_size != 0 {
            return Err(ReaderError::BadSize {
                map: name,
                size: size as u64,
                page_size,
            });
        }
        let mapped = |len, prot, offset| {
            MmapRegion::map(fd.as_fd(), len, prot, offset).map_err(|source| ReaderError::Syscall {
                map: name.clone(),
                source,
            })
        };
        let consumer = mapped(page_size, libc::PROT_READ, 0)?;
        let producer = mapped(
            page_size + 2 * size,
            libc::PROT_READ | libc::PROT_WRITE,
            page_size as i64,
        )?;
        let mut writer = Self {
            name,
            fd,
            consumer,
            producer,
            page_size,
            size,
            prod: 0,
        };
        writer.prod = writer.producer_pos().load(Ordering::Acquire);
        Ok(writer)
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The data area size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    fn consumer_pos(&self) -> &AtomicUsize {
        // SAFETY: `consumer_pos` is the first word of the mapped, page-aligned consumer page.
        unsafe { &*(self.consumer.as_ptr() as *const AtomicUsize) }
    }

    fn producer_pos(&self) -> &AtomicUsize {
        // SAFETY: `producer_pos` is the first word of the mapped, page-aligned producer page.
        unsafe { &*(self.producer.as_ptr() as *const AtomicUsize) }
    }

    /// Bytes free for records (headers included).
    pub fn free_bytes(&self) -> usize {
        // Acquire: pairs with smp_store_release(&rb->consumer_pos, ...) in
        // __bpf_user_ringbuf_sample_release(): the kernel is done reading what it released.
        let cons = self.consumer_pos().load(Ordering::Acquire);
        self.size - self.prod.wrapping_sub(cons).min(self.size)
    }

    /// Reserve a `size`-byte record. Fails with [`ReaderError::UserRingBufFull`] when the
    /// program has not drained enough yet (see [`UserRingBufWriter::reserve_timeout`]).
    /// Dropping the record without [`UserRecord::submit`] discards it.
    pub fn reserve(&mut self, size: usize) -> Result<UserRecord<'_>, ReaderError> {
        let space = if size <= MAX_RECORD_LEN {
            record_space(size)
        } else {
            usize::MAX
        };
        if space > self.size {
            return Err(ReaderError::RecordTooLarge {
                map: self.name.clone(),
                size,
                capacity: self.size as u64,
            });
        }
        let free = self.free_bytes();
        if space > free {
            return Err(ReaderError::UserRingBufFull {
                map: self.name.clone(),
                size,
                free: free as u64,
                capacity: self.size as u64,
            });
        }
        let prod = self.prod;
        // SAFETY: the data area starts one page into the producer mapping; `prod & mask` is
        // inside it and the record (space <= size) inside the double mapping.
        let header = unsafe {
            self.producer
                .as_ptr()
                .add(self.page_size + (prod & (self.size - 1)))
        };
        // SAFETY: an aligned u32 in the writable mapping that the kernel reads atomically.
        let len_word = unsafe { &*(header as *const AtomicU32) };
        len_word.store(size as u32 | BUSY_BIT, Ordering::Relaxed);
        // SAFETY: the header's second word (pg_off), unused by the user ring buffer.
        unsafe { (header.add(4) as *mut u32).write_volatile(0) };
        self.prod = prod + space;
        // Release: the BUSY header is written before the kernel sees the new position; pairs
        // with smp_load_acquire(&rb->producer_pos) in __bpf_user_ringbuf_peek().
        self.producer_pos().store(self.prod, Ordering::Release);
        Ok(UserRecord {
            // SAFETY: the data follows the 8-byte header inside the mapping.
            data: unsafe { header.add(HEADER_SIZE) },
            len: size,
            len_word,
            done: false,
            _writer: std::marker::PhantomData,
        })
    }

    /// Like [`UserRingBufWriter::reserve`], waiting up to `timeout` (with poll(2) for
    /// `POLLOUT`, which the kernel signals after a drain) for room.
    pub fn reserve_timeout(
        &mut self,
        size: usize,
        timeout: Duration,
    ) -> Result<UserRecord<'_>, ReaderError> {
        let deadline = Instant::now() + timeout;
        loop {
            let space = record_space(size.min(MAX_RECORD_LEN));
            if space > self.free_bytes() && space <= self.size {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return self.reserve(size);
                }
                let mut pfd = libc::pollfd {
                    fd: self.fd.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one live pollfd for the duration of the call.
                let ret = unsafe {
                    libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32)
                };
                if ret < 0 {
                    let e = std::io::Error::last_os_error();
                    if e.kind() != std::io::ErrorKind::Interrupted {
                        return Err(syscall(&self.name, "poll", e));
                    }
                }
                continue;
            }
            return self.reserve(size);
        }
    }
}

impl AsFd for UserRingBufWriter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for UserRingBufWriter {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A reserved user ring buffer record: write it through `DerefMut<Target = [u8]>`, then
/// [`UserRecord::submit`]. Dropped unsubmitted, it is discarded.
#[derive(Debug)]
pub struct UserRecord<'w> {
    data: *mut u8,
    len: usize,
    len_word: &'w AtomicU32,
    done: bool,
    _writer: std::marker::PhantomData<&'w mut UserRingBufWriter>,
}

impl UserRecord<'_> {
    fn finish(&mut self, flags: u32) {
        self.done = true;
        // Release: the record's bytes are written before BUSY clears; pairs with
        // smp_load_acquire(&hdr->len) in __bpf_user_ringbuf_peek().
        self.len_word
            .store(self.len as u32 | flags, Ordering::Release);
    }

    /// Make the record visible to `bpf_user_ringbuf_drain`.
    pub fn submit(mut self) {
        self.finish(0);
    }

    /// Give the space back without the program seeing the record.
    pub fn discard(mut self) {
        self.finish(DISCARD_BIT);
    }
}

impl std::ops::Deref for UserRecord<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `len` reserved bytes, ours until submitted (the kernel skips BUSY records).
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}

impl std::ops::DerefMut for UserRecord<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`; the writer is borrowed mutably, so this is the only view.
        unsafe { std::slice::from_raw_parts_mut(self.data, self.len) }
    }
}

impl Drop for UserRecord<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish(DISCARD_BIT);
        }
    }
}
