//! Ring buffer reader (`BPF_MAP_TYPE_RINGBUF`): copying, zero-copy batches and closure drains.
//!
//! The map's memory, as kernel/bpf/ringbuf.c lays it out for mmap: page 0 holds
//! `consumer_pos` (user writable), page 1 `producer_pos` (read-only), then the data area mapped
//! twice in a row, so a record that wraps past the end of the area is still contiguous. Each
//! record starts with an 8-byte header: a `u32` length whose top bits are `BPF_RINGBUF_BUSY_BIT`
//! (reserved, not yet committed) and `BPF_RINGBUF_DISCARD_BIT` (committed, to be skipped),
//! then a `u32` page offset the kernel uses. Records are padded to 8 bytes.
//!
//! # Wake-ups
//!
//! A producer wakes the map's waiters only when, right after committing a record, it sees the
//! consumer position equal to that record's position: `bpf_ringbuf_commit()` does
//! `xchg(&hdr->len, new_len)` (a full barrier), then `smp_load_acquire(&rb->consumer_pos)`,
//! and queues the wake-up if the two positions match (or on `BPF_RB_FORCE_WAKEUP`). So a
//! reader that is about to sleep must make its position visible first and then look again:
//! it stores `consumer_pos` (release), issues a full fence (`SeqCst`), and re-reads
//! `producer_pos` and the header at its position. This pairs with the producer's
//! xchg → load as a store-buffering (Dekker) pair: either the producer sees our position and
//! wakes us, or we see its committed header and keep reading. Only when the re-check finds
//! the ring empty, or the record at our position still `BUSY`, is the ring "armed": the next
//! commit at our position is guaranteed to wake. Every drain ([`RingBuf::consume`],
//! [`RingBuf::next`] returning `None`, [`RingBuf::poll`]) ends that way; the waiting readers
//! ([`RingBuf::poll`], [`super::RingBufPoller`], `AsyncRingBuf`) sleep only on an armed ring,
//! and with edge-triggered epoll, so a `BUSY` record at the consumer position is neither
//! spun on nor slept on without re-arming: its commit is the wake-up.

use std::cell::Cell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{fence, AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use super::poll::Poller;
use super::{page_size, ReaderError};
use crate::maps::{MapData, MapType};
use crate::sys::MmapRegion;

/// `BPF_RINGBUF_BUSY_BIT`: the producer has reserved but not committed the record.
pub(crate) const BUSY_BIT: u32 = 1 << 31;
/// `BPF_RINGBUF_DISCARD_BIT`: the producer discarded the record; readers skip it.
pub(crate) const DISCARD_BIT: u32 = 1 << 30;
/// `BPF_RINGBUF_HDR_SZ`.
pub(crate) const HEADER_SIZE: usize = 8;

/// Total ring space of a record of `len` bytes: header plus data, rounded up to 8.
#[inline(always)]
pub(crate) const fn record_space(len: usize) -> usize {
    (len + HEADER_SIZE + 7) & !7
}

/// Records of at least this much ring space get a software prefetch in [`RingBuf::consume`]:
/// the next headers are pages apart, where the hardware's stride prefetcher does not reach.
/// Smaller records are left to the hardware: in bench/readers, a prefetch 4 KiB ahead on
/// every 256 B record drained at 0.2–0.45× libbpf, and even one load of the next page per
/// page crossed at 0.3–0.55×; at ≥ 1 KiB, four records ahead measured 1.1–1.2×.
const PREFETCH_MIN_SPACE: usize = 1024;
/// How many records ahead (at the current record's size) that prefetch looks.
const PREFETCH_RECORDS: usize = 4;

/// Hint the CPU to load the cache line at `p` (no effect on memory; `p` may be anywhere).
#[inline(always)]
fn prefetch(p: *const u8) {
    // (Not under Miri, which has no model of the intrinsic: a hint changes nothing it checks.)
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: prefetch is a hint: it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = p;
}

/// A reader of a `BPF_MAP_TYPE_RINGBUF` map.
///
/// ```no_run
/// # fn demo(map: &bpfkit::maps::MapData) -> Result<(), bpfkit::readers::ReaderError> {
/// let mut ring = bpfkit::readers::RingBuf::new(map)?;
/// // Copying, one record at a time:
/// while let Some(record) = ring.next()? {
///     println!("{} bytes", record.len());
/// }
/// // Fastest: a closure over every available record, one commit at the end.
/// let n = ring.consume(|record| assert!(record.len() >= 8))?;
/// # let _ = n; Ok(()) }
/// ```
#[doc(alias = "BPF_MAP_TYPE_RINGBUF")]
#[doc(alias = "ring_buffer__consume")]
#[derive(Debug)]
pub struct RingBuf {
    name: String,
    fd: OwnedFd,
    /// Page 0: `consumer_pos`, mapped read-write.
    consumer: MmapRegion,
    /// Page 1 (`producer_pos`) and the data area twice, mapped read-only.
    producer: MmapRegion,
    page_size: usize,
    /// Data area size, a power of two.
    size: usize,
    /// Our consumer position (we are the only writer of `consumer_pos`).
    cons: usize,
    /// The last drain published `cons`, fenced and found nothing committed at it: the next
    /// commit there wakes the map's waiters (see the module notes). Cleared by anything that
    /// may leave records behind (a record from [`RingBuf::next`], a [`Batch`], an error or a
    /// panic in a callback).
    armed: bool,
    /// Publish the consumer position at least every this many bytes while draining, so that
    /// producers get space back during a long drain (a quarter of the ring).
    publish_every: usize,
    /// Edge-triggered epoll on the map fd for [`RingBuf::poll`], made on first use.
    waiter: Option<Poller>,
}

/// What the header at a ring position says.
enum Slot {
    /// Nothing committed at this position yet (or the ring is empty).
    Empty,
    /// A committed record: data at `data`, `len` bytes; the next record is `space` bytes on.
    Record {
        data: *const u8,
        len: usize,
        space: usize,
    },
    /// A discarded record to skip.
    Discarded { space: usize },
    /// A header whose length cannot be right.
    Corrupt { len: u32 },
}

impl RingBuf {
    /// Map the ring buffer `map` for reading. The reader keeps its own copy of the map fd.
    pub fn new(map: &MapData) -> Result<Self, ReaderError> {
        if map.map_type() != MapType::Ringbuf {
            return Err(ReaderError::WrongMapType {
                map: map.name().to_string(),
                expected: "BPF_MAP_TYPE_RINGBUF",
                actual: map.map_type(),
            });
        }
        let fd =
            crate::sys::fdtrace::dup(map.as_fd()).map_err(|e| syscall(map.name(), "dup", e))?;
        Self::from_fd(map.name(), fd, map.max_entries())
    }

    /// Map a ring buffer given its fd and data area size (`max_entries`).
    pub fn from_fd(name: &str, fd: OwnedFd, size: u32) -> Result<Self, ReaderError> {
        let page_size = page_size();
        let size = size as usize;
        if !size.is_power_of_two() || size % page_size != 0 {
            return Err(ReaderError::BadSize {
                map: name.to_string(),
                size: size as u64,
                page_size,
            });
        }
        let consumer =
            MmapRegion::map(fd.as_fd(), page_size, libc::PROT_READ | libc::PROT_WRITE, 0).map_err(
                |source| ReaderError::Syscall {
                    map: name.to_string(),
                    source,
                },
            )?;
        let producer = MmapRegion::map(
            fd.as_fd(),
            page_size + 2 * size,
            libc::PROT_READ,
            page_size as i64,
        )
        .map_err(|source| ReaderError::Syscall {
            map: name.to_string(),
            source,
        })?;
        Ok(Self::from_regions(
            name, fd, consumer, producer, page_size, size,
        ))
    }

    /// A reader over the consumer page and the producer page plus doubled data area of a ring
    /// with a `size`-byte data area.
    fn from_regions(
        name: &str,
        fd: OwnedFd,
        consumer: MmapRegion,
        producer: MmapRegion,
        page_size: usize,
        size: usize,
    ) -> Self {
        let mut ring = Self {
            name: name.to_string(),
            fd,
            consumer,
            producer,
            page_size,
            size,
            cons: 0,
            armed: false,
            publish_every: (size / 4).max(page_size),
            waiter: None,
        };
        // Start where a previous reader (or an earlier open of a pinned map) stopped.
        ring.cons = ring.consumer_pos().load(Ordering::Acquire);
        ring
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The data area size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Bytes committed or reserved by producers and not yet consumed.
    pub fn pending_bytes(&self) -> usize {
        self.producer_pos()
            .load(Ordering::Acquire)
            .wrapping_sub(self.cons)
    }

    /// The producer position: bytes ever reserved by producers (committed or not), as the
    /// kernel publishes it.
    pub fn producer_position(&self) -> usize {
        self.load_producer()
    }

    /// The consumer position as published in the shared consumer page (what the kernel
    /// sees; a [`Batch`] publishes it when it ends).
    pub fn consumer_position(&self) -> usize {
        self.consumer_pos().load(Ordering::Acquire)
    }

    #[inline(always)]
    fn consumer_pos(&self) -> &AtomicUsize {
        // SAFETY: `consumer_pos` (an `unsigned long`) is the first word of the mapped,
        // page-aligned consumer page, which lives as long as `self`.
        unsafe { &*(self.consumer.as_ptr() as *const AtomicUsize) }
    }

    #[inline(always)]
    fn producer_pos(&self) -> &AtomicUsize {
        // SAFETY: `producer_pos` is the first word of the mapped, page-aligned producer page.
        unsafe { &*(self.producer.as_ptr() as *const AtomicUsize) }
    }

    #[inline(always)]
    fn data(&self) -> *const u8 {
        // SAFETY: the data area starts one page into the producer mapping.
        unsafe { self.producer.as_ptr().add(self.page_size) }
    }

    /// Load the producer position.
    #[inline(always)]
    fn load_producer(&self) -> usize {
        // Acquire: pairs with smp_store_release(&rb->producer_pos, new_prod_pos) in
        // __bpf_ringbuf_reserve(), so every header up to this position has been written.
        self.producer_pos().load(Ordering::Acquire)
    }

    /// Publish our consumer position.
    #[inline(always)]
    fn store_consumer(&mut self, cons: usize) {
        self.cons = cons;
        // Release: our reads of the records before `cons` happen before the producer may
        // reuse their space; pairs with smp_load_acquire(&rb->consumer_pos) in
        // __bpf_ringbuf_reserve() (and ringbuf_avail_data_sz()).
        self.consumer_pos().store(cons, Ordering::Release);
    }

    /// Read the header at `pos` (below the producer position).
    #[inline(always)]
    fn slot(&self, pos: usize) -> Slot {
        let data = self.data();
        // SAFETY: `pos & mask` is inside the data area; headers are 8-byte aligned.
        let header = unsafe { data.add(pos & (self.size - 1)) };
        // SAFETY: an aligned u32 inside the live mapping, written by the kernel atomically.
        let len_word = unsafe { &*(header as *const AtomicU32) };
        // Acquire: pairs with the xchg(&hdr->len, new_len) in bpf_ringbuf_commit() (a full
        // barrier), so the record's bytes are visible once BUSY is clear.
        let len = len_word.load(Ordering::Acquire);
        if len & BUSY_BIT != 0 {
            return Slot::Empty;
        }
        let data_len = (len & !(BUSY_BIT | DISCARD_BIT)) as usize;
        let space = record_space(data_len);
        if space > self.size {
            return Slot::Corrupt { len };
        }
        if len & DISCARD_BIT != 0 {
            return Slot::Discarded { space };
        }
        Slot::Record {
            // SAFETY: header + 8 + len stays inside the double mapping (space <= size).
            data: unsafe { header.add(HEADER_SIZE) },
            len: data_len,
            space,
        }
    }

    fn corrupt(&self, pos: usize, len: u32) -> ReaderError {
        ReaderError::CorruptRecord {
            map: self.name.clone(),
            position: pos as u64,
            len: u64::from(len & !(BUSY_BIT | DISCARD_BIT)),
            size: self.size as u64,
        }
    }

    /// Copy the next record out, committing its space at once; `None` when the ring is empty
    /// (or the record at the consumer position is not committed yet). Discarded records are
    /// skipped. A `None` leaves the ring armed for wake-ups (see the module notes).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Vec<u8>>, ReaderError> {
        self.armed = false;
        let mut cons = self.cons;
        loop {
            let prod = self.load_producer();
            while cons < prod {
                match self.slot(cons) {
                    Slot::Empty => break,
                    Slot::Discarded { space } => cons += space,
                    Slot::Record { data, len, space } => {
                        // SAFETY: a committed record of `len` bytes that we have not released.
                        let record = unsafe { std::slice::from_raw_parts(data, len) }.to_vec();
                        self.store_consumer(cons + space);
                        return Ok(Some(record));
                    }
                    Slot::Corrupt { len } => {
                        if cons != self.cons {
                            self.store_consumer(cons);
                        }
                        return Err(self.corrupt(cons, len));
                    }
                }
            }
            if self.publish_and_recheck(cons) {
                self.armed = true;
                return Ok(None);
            }
        }
    }

    /// Publish `cons` if it moved, then fence and look again: `true` when nothing is
    /// committed at `cons` (the ring is empty there or the record is still `BUSY`), so that
    /// the next commit at `cons` wakes the waiters; `false` when a record (or a discarded one)
    /// is ready at `cons` and the caller must keep reading.
    #[inline]
    fn publish_and_recheck(&mut self, cons: usize) -> bool {
        if cons != self.cons {
            self.store_consumer(cons);
        }
        // Full fence between our store of consumer_pos and the loads below: pairs with the
        // xchg(&hdr->len, new_len) (a full barrier) before smp_load_acquire(&rb->consumer_pos)
        // in bpf_ringbuf_commit(). Either the producer's load sees our position (and it wakes
        // us because rec_pos == cons_pos), or our loads below see its commit. The same holds
        // against smp_store_release(&rb->producer_pos) in __bpf_ringbuf_reserve(), which the
        // producer orders before that xchg.
        fence(Ordering::SeqCst);
        let prod = self.load_producer();
        if cons >= prod {
            return true;
        }
        // SAFETY: `cons & mask` is inside the data area; headers are 8-byte aligned.
        let header = unsafe { self.data().add(cons & (self.size - 1)) };
        // SAFETY: an aligned u32 inside the live mapping, written by the kernel atomically.
        let len = unsafe { &*(header as *const AtomicU32) }.load(Ordering::Acquire);
        len & BUSY_BIT != 0
    }

    /// Call `f` on every record available now (and any committed while draining), without
    /// copying. The consumer position is published at the end (and every quarter of the ring
    /// during a long drain); the drain ends only when a re-check after publishing finds
    /// nothing committed, which leaves the ring armed for wake-ups (see the module notes).
    /// Returns how many records `f` saw.
    #[inline]
    pub fn consume<F: FnMut(&[u8])>(&mut self, mut f: F) -> Result<usize, ReaderError> {
        self.armed = false;
        let data = self.data();
        let mask = self.size - 1;
        let size = self.size;
        let mut count = 0;
        let mut cons = self.cons;
        loop {
            let prod = self.load_producer();
            // Publish at the latest here, so producers get space back during a long pass.
            let mut publish_at = self.cons + self.publish_every;
            while cons < prod {
                // SAFETY: `cons & mask` is inside the data area; headers are 8-byte aligned.
                let header = unsafe { data.add(cons & mask) };
                // SAFETY: an aligned u32 inside the live mapping, written atomically.
                let len_word = unsafe { &*(header as *const AtomicU32) };
                // Acquire: pairs with the xchg(&hdr->len, new_len) in bpf_ringbuf_commit().
                let len = len_word.load(Ordering::Acquire);
                let data_len = (len & !(BUSY_BIT | DISCARD_BIT)) as usize;
                let space = record_space(data_len);
                if len & (BUSY_BIT | DISCARD_BIT) == 0 && space <= size {
                    if space >= PREFETCH_MIN_SPACE {
                        // The header a few records on, if they are the same size (a guess:
                        // any address inside the data area is harmless).
                        prefetch(data.wrapping_add((cons + PREFETCH_RECORDS * space) & mask));
                    }
                    // SAFETY: a committed record we have not released, inside the double
                    // mapping; the slice's lifetime ends with the call, before the commit.
                    f(unsafe { std::slice::from_raw_parts(header.add(HEADER_SIZE), data_len) });
                    count += 1;
                    cons += space;
                    if cons >= publish_at {
                        self.store_consumer(cons);
                        publish_at = cons + self.publish_every;
                    }
                    continue;
                }
                if len & BUSY_BIT != 0 {
                    // Not committed yet: publish and re-check below; its commit wakes us.
                    break;
                }
                if len & DISCARD_BIT != 0 && space <= size {
                    cons += space;
                    continue;
                }
                if cons != self.cons {
                    self.store_consumer(cons);
                }
                return Err(self.corrupt(cons, len));
            }
            if self.publish_and_recheck(cons) {
                self.armed = true;
                return Ok(count);
            }
        }
    }

    /// Wait up to `timeout` (`None`: forever, zero: don't block) for records, then drain
    /// them through `f` as [`RingBuf::consume`] does; returns the number of records (0 on a
    /// timeout, or after a wake-up that brought nothing, e.g. for a record still being
    /// written). Sleeps only on an armed ring, in an edge-triggered epoll of its own (made
    /// on first use), so a record still `BUSY` at the consumer position is not spun on: its
    /// commit wakes the wait.
    #[doc(alias = "ring_buffer__poll")]
    pub fn poll<F: FnMut(&[u8])>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> Result<usize, ReaderError> {
        // Records left behind by next(), a batch or an error: no wake-up will announce them.
        if !self.armed {
            let n = self.consume(&mut f)?;
            if n > 0 {
                return Ok(n);
            }
        }
        if self.waiter.is_none() {
            let sys = |source| ReaderError::Syscall {
                map: self.name.clone(),
                source,
            };
            let mut poller = Poller::new().map_err(sys)?;
            poller
                .add_with(self.fd.as_fd(), 0, (libc::EPOLLIN | libc::EPOLLET) as u32)
                .map_err(sys)?;
            // Registration queues the fd if it is readable now, so the wait below returns
            // at once for records already there.
            self.waiter = Some(poller);
        }
        if let Some(waiter) = self.waiter.as_mut() {
            waiter
                .wait(timeout)
                .map_err(|source| ReaderError::Syscall {
                    map: self.name.clone(),
                    source,
                })?;
        }
        // Woken, timed out or interrupted: drain what there is (cheap when empty).
        self.consume(f)
    }

    /// `true` when the last drain ended with nothing committed at the consumer position and
    /// nothing read since, so the next commit there wakes the map's waiters.
    pub(crate) fn is_armed(&self) -> bool {
        self.armed
    }

    /// Forget that the ring is armed: a wake-up was taken and the ring not drained yet.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }

    /// Lend the available records without copying; the consumer position is published once,
    /// when the batch ends. Records borrow the batch, so none can outlive it:
    ///
    /// ```compile_fail,E0597
    /// # fn demo(ring: &mut bpfkit::readers::RingBuf) {
    /// let escaped: &[u8] = {
    ///     let batch = ring.batch();
    ///     batch.next().unwrap()
    /// }; // error: `batch` does not live long enough
    /// # let _ = escaped; }
    /// ```
    ///
    /// The same code keeping the record inside the batch compiles:
    ///
    /// ```no_run
    /// # fn demo(ring: &mut bpfkit::readers::RingBuf) {
    /// let total: usize = {
    ///     let batch = ring.batch();
    ///     let first = batch.next().unwrap();
    ///     let second = batch.next().unwrap(); // several records may be held at once
    ///     first.len() + second.len()
    /// };
    /// # let _ = total; }
    /// ```
    pub fn batch(&mut self) -> Batch<'_> {
        // A batch may end before the ring is empty, and it does not re-check: not armed.
        self.armed = false;
        let cons = self.cons;
        let prod = self.load_producer();
        Batch {
            ring: self,
            start: cons,
            cons: Cell::new(cons),
            prod: Cell::new(prod),
            count: Cell::new(0),
            corrupt: Cell::new(None),
        }
    }
}

impl AsFd for RingBuf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for RingBuf {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Records of one [`RingBuf::batch`], lent as `&[u8]` that live as long as the batch.
///
/// Dropping the batch (or [`Batch::finish`]) publishes the consumer position past every
/// record handed out, once.
#[derive(Debug)]
pub struct Batch<'r> {
    ring: &'r mut RingBuf,
    start: usize,
    cons: Cell<usize>,
    prod: Cell<usize>,
    count: Cell<usize>,
    corrupt: Cell<Option<(usize, u32)>>,
}

impl Batch<'_> {
    /// The next record, or `None` when no committed record remains (a corrupt header also
    /// ends the batch; [`Batch::finish`] reports it).
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&self) -> Option<&[u8]> {
        if self.corrupt.get().is_some() {
            return None;
        }
        let mut cons = self.cons.get();
        loop {
            if cons >= self.prod.get() {
                // Pick up records committed since the batch started.
                self.prod.set(self.ring.load_producer());
                if cons >= self.prod.get() {
                    self.cons.set(cons);
                    return None;
                }
            }
            match self.ring.slot(cons) {
                Slot::Record { data, len, space } => {
                    self.cons.set(cons + space);
                    self.count.set(self.count.get() + 1);
                    // SAFETY: a committed record below the producer position; its space is
                    // released only when the batch ends, which the borrow of `self` outlives.
                    return Some(unsafe { std::slice::from_raw_parts(data, len) });
                }
                Slot::Discarded { space } => cons += space,
                Slot::Empty => {
                    self.cons.set(cons);
                    return None;
                }
                Slot::Corrupt { len } => {
                    self.cons.set(cons);
                    self.corrupt.set(Some((cons, len)));
                    return None;
                }
            }
        }
    }

    /// Records handed out so far.
    pub fn count(&self) -> usize {
        self.count.get()
    }

    /// End the batch: publish the consumer position and return the number of records handed
    /// out, or the error for a corrupt header that ended it.
    pub fn finish(self) -> Result<usize, ReaderError> {
        let count = self.count.get();
        match self.corrupt.get() {
            Some((pos, len)) => Err(self.ring.corrupt(pos, len)),
            None => Ok(count),
        }
    }
}

impl<'b> Iterator for &'b Batch<'_> {
    type Item = &'b [u8];

    #[inline]
    fn next(&mut self) -> Option<&'b [u8]> {
        Batch::next(self)
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        let cons = self.cons.get();
        if cons != self.start {
            self.ring.store_consumer(cons);
        }
    }
}

pub(crate) fn syscall(map: &str, call: &'static str, io_error: std::io::Error) -> ReaderError {
    ReaderError::Syscall {
        map: map.to_string(),
        source: crate::sys::SyscallError { call, io_error },
    }
}

/// The consumer's index and header logic ([`RingBuf::next`], [`RingBuf::consume`],
/// [`RingBuf::batch`]) over simulated ring memory: heap pages in place of the kernel's
/// mappings and a producer that follows `kernel/bpf/ringbuf.c` (reserve: `BUSY` header, then
/// `producer_pos` release; commit: `xchg` of the header; the data area mirrored after itself as
/// the double mapping makes it). Runs under Miri (`scripts/miri`), which checks the memory
/// accesses and, in the threaded test, the orderings between producer and consumer.
#[cfg(test)]
mod simulated {
    use super::*;

    const PAGE: usize = 4096;

    fn ring(size: usize) -> RingBuf {
        let fd = OwnedFd::from(std::fs::File::open("/dev/null").expect("open /dev/null"));
        let consumer = MmapRegion::heap(PAGE);
        let producer = MmapRegion::heap(PAGE + 2 * size);
        RingBuf::from_regions("simulated", fd, consumer, producer, PAGE, size)
    }

    /// The kernel's side, by pointer (the ring outlives every producer).
    #[derive(Clone, Copy)]
    struct Producer {
        consumer_pos: *const AtomicUsize,
        producer_pos: *const AtomicUsize,
        data: *mut u8,
        size: usize,
    }

    // SAFETY: pointers into memory owned by a ring that outlives the producer's thread; all
    // shared words are accessed atomically, record bytes only in space the consumer has
    // released (ordered by the consumer_pos release/acquire pair).
    unsafe impl Send for Producer {}

    impl Producer {
        fn new(ring: &RingBuf) -> Self {
            Self {
                consumer_pos: ring.consumer.as_ptr() as *const AtomicUsize,
                producer_pos: ring.producer.as_ptr() as *const AtomicUsize,
                // SAFETY: the data area starts one page into the producer region.
                data: unsafe { ring.producer.as_ptr().add(PAGE) },
                size: ring.size,
            }
        }

        fn consumer(&self) -> &AtomicUsize {
            // SAFETY: the aligned first word of the live consumer page.
            unsafe { &*self.consumer_pos }
        }

        fn producer(&self) -> &AtomicUsize {
            // SAFETY: the aligned first word of the live producer page.
            unsafe { &*self.producer_pos }
        }

        /// Both copies of the header at `pos` (the data area and its mirror).
        fn headers(&self, pos: usize) -> [&AtomicU32; 2] {
            // SAFETY: aligned u32s inside the data area and its mirror (offset < size).
            unsafe {
                let at = self.data.add(pos & (self.size - 1));
                [
                    &*(at as *const AtomicU32),
                    &*(at.add(self.size) as *const AtomicU32),
                ]
            }
        }

        /// `__bpf_ringbuf_reserve`: the position of a `len`-byte record, or `None` when full.
        fn reserve(&self, len: usize) -> Option<usize> {
            let cons = self.consumer().load(Ordering::Acquire);
            let prod = self.producer().load(Ordering::Relaxed);
            let space = record_space(len);
            if prod + space - cons > self.size {
                return None;
            }
            for h in self.headers(prod) {
                h.store(len as u32 | BUSY_BIT, Ordering::Relaxed);
            }
            self.producer().store(prod + space, Ordering::Release);
            Some(prod)
        }

        /// Write record bytes at `pos` (both copies).
        fn fill(&self, pos: usize, bytes: &[u8]) {
            for (i, b) in bytes.iter().enumerate() {
                // SAFETY: inside the data area and its mirror, in space reserved above.
                unsafe {
                    let at = self.data.add((pos + HEADER_SIZE + i) & (self.size - 1));
                    at.write(*b);
                    at.add(self.size).write(*b);
                }
            }
        }

        /// `bpf_ringbuf_commit`: clear `BUSY` (and set `DISCARD` to discard).
        fn commit(&self, pos: usize, len: usize, discard: bool) {
            let value = len as u32 | if discard { DISCARD_BIT } else { 0 };
            for h in self.headers(pos) {
                h.swap(value, Ordering::SeqCst);
            }
        }

        /// Reserve, fill and commit one record; `false` when the ring is full.
        fn push(&self, bytes: &[u8], discard: bool) -> bool {
            match self.reserve(bytes.len()) {
                Some(pos) => {
                    self.fill(pos, bytes);
                    self.commit(pos, bytes.len(), discard);
                    true
                }
                None => false,
            }
        }
    }

    /// Record `seq`: its length varies (1..=200 bytes, so records wrap the ring at many
    /// offsets); the bytes are `seq` and its low byte repeated.
    fn record(seq: u32) -> Vec<u8> {
        let len = 1 + (seq as usize * 37) % 200;
        let mut out: Vec<u8> = seq
            .to_le_bytes()
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect();
        if len > 4 {
            for b in &mut out[4..] {
                *b = seq as u8;
            }
        }
        out
    }

    #[test]
    fn next_consume_and_batch_read_in_order_across_wraps() {
        let size = PAGE;
        let mut ring = ring(size);
        let producer = Producer::new(&ring);
        let mut seq = 0u32;
        let mut expected = 0u32;
        // Fewer rounds under Miri (slow); still several laps of the ring.
        let rounds = if cfg!(miri) { 30 } else { 60 };
        for round in 0..rounds {
            // Fill some (a few discarded: they must be skipped).
            for _ in 0..(round % 7 + 1) {
                let discard = seq % 5 == 3;
                if !producer.push(&record(seq), discard) {
                    break;
                }
                seq += 1;
            }
            let mut check = |data: &[u8]| {
                while expected % 5 == 3 {
                    expected += 1;
                }
                assert_eq!(data, record(expected).as_slice(), "record {expected}");
                expected += 1;
            };
            match round % 3 {
                0 => {
                    while let Some(r) = ring.next().unwrap() {
                        check(&r);
                    }
                }
                1 => {
                    ring.consume(|r| check(r)).unwrap();
                }
                _ => {
                    let batch = ring.batch();
                    for r in &batch {
                        check(r);
                    }
                    batch.finish().unwrap();
                }
            }
            while expected % 5 == 3 && expected < seq {
                expected += 1;
            }
            assert_eq!(expected, seq, "round {round}: all committed records read");
            // Everything is consumed and published: the producer may reuse the whole ring.
            assert_eq!(ring.consumer_position(), ring.producer_position());
            assert_eq!(ring.pending_bytes(), 0);
        }
        assert!(
            ring.producer_position() > 2 * size,
            "the ring wrapped several times"
        );
    }

    #[test]
    fn a_busy_record_stops_the_drain_and_is_read_once_committed() {
        let mut ring = ring(PAGE);
        let producer = Producer::new(&ring);
        assert!(producer.push(&record(0), false));
        let pos = producer.reserve(10).expect("space");
        assert!(
            producer.push(&record(2), false),
            "a record after the busy one"
        );
        let mut seen = Vec::new();
        assert_eq!(ring.consume(|r| seen.push(r.to_vec())).unwrap(), 1);
        assert_eq!(seen, vec![record(0)]);
        // Stopped at the busy record, with the position published there: armed.
        assert!(ring.is_armed());
        assert_eq!(ring.consumer_position(), pos);
        producer.fill(pos, &[7; 10]);
        producer.commit(pos, 10, false);
        assert_eq!(ring.next().unwrap(), Some(vec![7; 10]));
        assert_eq!(ring.next().unwrap(), Some(record(2)));
        assert_eq!(ring.next().unwrap(), None);
    }

    #[test]
    fn a_corrupt_header_is_an_error_at_its_position() {
        let mut ring = ring(PAGE);
        let producer = Producer::new(&ring);
        assert!(producer.push(&record(0), false));
        let pos = producer.reserve(8).expect("space");
        // A committed length longer than the ring.
        producer.commit(pos, 2 * PAGE, false);
        let mut seen = 0;
        match ring.consume(|_| seen += 1) {
            Err(ReaderError::CorruptRecord { position, .. }) => assert_eq!(position, pos as u64),
            other => panic!("expected a corrupt record error, got {other:?}"),
        }
        assert_eq!(seen, 1);
        // The good record before it was released.
        assert_eq!(ring.consumer_position(), pos);
    }

    /// A producer thread and the consumer at once: every record arrives intact and in
    /// order, and the producer never overwrites unread space (Miri checks the accesses).
    #[test]
    fn concurrent_producer_and_consumer() {
        // Under Miri: enough records for several laps of the 4 KiB ring.
        let total: u32 = if cfg!(miri) { 120 } else { 20_000 };
        let mut ring = ring(PAGE);
        let producer = Producer::new(&ring);
        std::thread::scope(|s| {
            s.spawn(move || {
                for seq in 0..total {
                    while !producer.push(&record(seq), false) {
                        std::thread::yield_now();
                    }
                }
            });
            let mut expected = 0;
            while expected < total {
                let n = ring
                    .consume(|r| {
                        assert_eq!(r, record(expected).as_slice(), "record {expected}");
                        expected += 1;
                    })
                    .unwrap();
                if n == 0 {
                    std::thread::yield_now();
                }
            }
        });
        assert_eq!(ring.pending_bytes(), 0);
    }
}
