//! Perf buffer reader: one `PERF_COUNT_SW_BPF_OUTPUT` ring per online CPU behind a
//! `BPF_MAP_TYPE_PERF_EVENT_ARRAY`, filled by `bpf_perf_event_output`.
//!
//! Each ring is `1 + 2^n` pages: the `struct perf_event_mmap_page` (whose `data_head` the
//! kernel advances and whose `data_tail` we advance), then the data pages. Records start with
//! `struct perf_event_header { u32 type; u16 misc; u16 size; }`; a `PERF_RECORD_SAMPLE` with
//! `PERF_SAMPLE_RAW` carries `u32 size; u8 data[size]`, a `PERF_RECORD_LOST` carries
//! `u64 id; u64 lost`. The data area is mapped once, so a record may wrap: it is then copied
//! into a per-ring scratch buffer.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::Duration;

use super::poll::Poller;
use super::ring_buf::syscall;
use super::{page_size, ReaderError};
use crate::maps::{MapData, MapType};
use crate::sys::perf_event::{
    perf_event_open, PerfEventAttr, ATTR_FLAG_WATERMARK, PERF_RECORD_LOST, PERF_RECORD_SAMPLE,
};
use crate::sys::MmapRegion;

/// Offset of `data_head` in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
/// Offset of `data_tail` in `struct perf_event_mmap_page`.
const DATA_TAIL: usize = 1032;
/// Size of `struct perf_event_header`.
const HEADER_SIZE: usize = 8;

/// When the kernel wakes a reader waiting on a CPU's ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// After this many samples (`wakeup_events`; 1 wakes on every sample).
    Events(u32),
    /// Once this many bytes are in the ring (`watermark` + `wakeup_watermark`).
    Watermark(u32),
}

/// How to open a [`PerfBuffer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfBufferOptions {
    /// Data pages per CPU, a power of two.
    pub pages_per_cpu: usize,
    /// Wake-up policy.
    pub wakeup: Wakeup,
    /// CPUs to open rings on; `None` reads `/sys/devices/system/cpu/online`.
    pub cpus: Option<Vec<u32>>,
}

impl Default for PerfBufferOptions {
    /// 64 pages per CPU, woken on every sample, all online CPUs.
    fn default() -> Self {
        Self {
            pages_per_cpu: 64,
            wakeup: Wakeup::Events(1),
            cpus: None,
        }
    }
}

/// One CPU's ring.
#[derive(Debug)]
struct CpuRing {
    cpu: u32,
    event: OwnedFd,
    mmap: MmapRegion,
    /// Our copy of `data_tail`.
    tail: u64,
    lost: u64,
    /// Holds a record that wraps past the end of the data area.
    scratch: Vec<u8>,
}

/// A reader of a `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: per-CPU rings, lost-sample counts, epoll
/// over all CPUs. Dropping it clears its CPUs' slots in the map and closes the events.
///
/// ```no_run
/// # fn demo(map: &bpfkit::maps::MapData) -> Result<(), bpfkit::readers::ReaderError> {
/// use bpfkit::readers::{PerfBuffer, PerfBufferOptions, Wakeup};
/// let options = PerfBufferOptions { wakeup: Wakeup::Events(16), ..Default::default() };
/// let mut perf = PerfBuffer::open(map, &options)?;
/// perf.poll(Some(std::time::Duration::from_millis(100)), |cpu, sample| {
///     println!("cpu {cpu}: {} bytes", sample.len());
/// })?;
/// println!("lost so far: {}", perf.lost());
/// # Ok(()) }
/// ```
#[doc(alias = "BPF_MAP_TYPE_PERF_EVENT_ARRAY")]
#[doc(alias = "perf_buffer__consume")]
#[derive(Debug)]
pub struct PerfBuffer {
    name: String,
    map_fd: OwnedFd,
    rings: Vec<CpuRing>,
    poller: Poller,
    /// Ring indices the last wait reported ready (kept to avoid an allocation per poll).
    ready: Vec<usize>,
    /// A poll took wake-ups and did not finish reading their rings (an error, a panic in
    /// the callback): the next poll reads every ring before it waits.
    unfinished: bool,
    page_size: usize,
    data_size: usize,
}

impl PerfBuffer {
    /// Open a ring on every online CPU (or `options.cpus`) below the map's `max_entries`,
    /// store the events in `map` and map their memory.
    pub fn open(map: &MapData, options: &PerfBufferOptions) -> Result<Self, ReaderError> {
        let name = map.name().to_string();
        if map.map_type() != MapType::PerfEventArray {
            return Err(ReaderError::WrongMapType {
                map: name,
                expected: "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
                actual: map.map_type(),
            });
        }
        let page_size = page_size();
        if !options.pages_per_cpu.is_power_of_two() {
            return Err(ReaderError::BadSize {
                map: name,
                size: (options.pages_per_cpu * page_size) as u64,
                page_size,
            });
        }
        let online = match &options.cpus {
            Some(cpus) => cpus.clone(),
            None => crate::cpus::online_cpus()?,
        };
        let cpus: Vec<u32> = online
            .iter()
            .copied()
            .filter(|&cpu| cpu < map.max_entries())
            .collect();
        if cpus.is_empty() {
            return Err(ReaderError::NoCpus {
                map: name,
                online,
                max_entries: map.max_entries(),
            });
        }
        let mut attr = PerfEventAttr::bpf_output(1);
        match options.wakeup {
            Wakeup::Events(n) => attr.wakeup_events = n.max(1),
            Wakeup::Watermark(bytes) => {
                attr.flags |= ATTR_FLAG_WATERMARK;
                attr.wakeup_events = bytes.max(1);
            }
        }
        let map_fd = crate::sys::fdtrace::dup(map.as_fd()).map_err(|e| syscall(&name, "dup", e))?;
        let sys = |source| ReaderError::Syscall {
            map: name.clone(),
            source,
        };
        let mut buffer = Self {
            name: name.clone(),
            map_fd,
            rings: Vec::with_capacity(cpus.len()),
            poller: Poller::new().map_err(sys)?,
            ready: Vec::new(),
            unfinished: false,
            page_size,
            data_size: options.pages_per_cpu * page_size,
        };
        let array = crate::maps::PerfEventArray::new(map)?;
        for cpu in cpus {
            let event = perf_event_open(&attr, -1, cpu as i32, None).map_err(sys)?;
            let mmap = MmapRegion::map(
                event.as_fd(),
                page_size * (1 + options.pages_per_cpu),
                libc::PROT_READ | libc::PROT_WRITE,
                0,
            )
            .map_err(sys)?;
            buffer
                .poller
                .add(event.as_fd(), buffer.rings.len() as u64)
                .map_err(sys)?;
            // Push before storing in the map so that Drop clears the slot on a later error.
            buffer.rings.push(CpuRing {
                cpu,
                event,
                mmap,
                tail: 0,
                lost: 0,
                scratch: Vec::new(),
            });
            let ring = buffer.rings.last().map(|r| r.event.as_fd());
            if let Some(fd) = ring {
                array.set(cpu, fd)?;
            }
        }
        for ring in &mut buffer.rings {
            ring.tail = ring.data_tail().load(Ordering::Acquire);
        }
        Ok(buffer)
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CPUs with a ring, in order.
    pub fn cpus(&self) -> Vec<u32> {
        self.rings.iter().map(|r| r.cpu).collect()
    }

    /// Data area size of each CPU's ring, in bytes.
    pub fn ring_size(&self) -> usize {
        self.data_size
    }

    /// Samples the kernel dropped (from `PERF_RECORD_LOST`) on all CPUs, as read so far.
    pub fn lost(&self) -> u64 {
        self.rings.iter().map(|r| r.lost).sum()
    }

    /// Samples dropped on `cpu`, as read so far.
    pub fn lost_on(&self, cpu: u32) -> u64 {
        self.rings
            .iter()
            .filter(|r| r.cpu == cpu)
            .map(|r| r.lost)
            .sum()
    }

    /// Bytes written by the kernel and not yet read, over all CPUs' rings.
    pub fn pending_bytes(&self) -> u64 {
        self.rings
            .iter()
            // Acquire: as in consume_ring().
            .map(|r| r.data_head().load(Ordering::Acquire).wrapping_sub(r.tail))
            .sum()
    }

    /// Read every CPU's ring, calling `f(cpu, raw sample)` for each sample (the raw data as
    /// the kernel stored it, padded so that the record stays 8-byte aligned). Lost-sample
    /// records add to [`PerfBuffer::lost`]. Returns the number of samples.
    #[inline]
    pub fn consume<F: FnMut(u32, &[u8])>(&mut self, mut f: F) -> Result<usize, ReaderError> {
        let mut count = 0;
        for index in 0..self.rings.len() {
            count += self.consume_ring(index, &mut f)?;
        }
        Ok(count)
    }

    /// Wait up to `timeout` for a CPU's wake-up, then read the ready rings as
    /// [`PerfBuffer::consume`] does. If an earlier poll stopped before reading every ring
    /// that woke (an error, a panic in `f`), every ring is read first, without waiting.
    pub fn poll<F: FnMut(u32, &[u8])>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> Result<usize, ReaderError> {
        if self.unfinished {
            let n = self.consume(&mut f)?;
            self.unfinished = false;
            if n > 0 {
                return Ok(n);
            }
        }
        let tokens = self
            .poller
            .wait(timeout)
            .map_err(|source| ReaderError::Syscall {
                map: self.name.clone(),
                source,
            })?;
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        ready.extend(tokens.iter().map(|&t| t as usize));
        let mut count = 0;
        let mut result = Ok(());
        // The wait took these rings' wake-ups (perf_poll() clears them).
        self.unfinished = true;
        for &index in &ready {
            match self.consume_ring(index, &mut f) {
                Ok(n) => count += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.ready = ready;
        result?;
        self.unfinished = false;
        Ok(count)
    }

    #[inline]
    fn consume_ring<F: FnMut(u32, &[u8])>(
        &mut self,
        index: usize,
        f: &mut F,
    ) -> Result<usize, ReaderError> {
        let (page_size, data_size) = (self.page_size, self.data_size);
        let Some(ring) = self.rings.get_mut(index) else {
            return Ok(0);
        };
        let base = ring.mmap.as_ptr() as *const u8;
        // SAFETY: the data area follows the metadata page inside the mapping.
        let data = unsafe { base.add(page_size) };
        let mask = data_size as u64 - 1;
        let mut count = 0;
        let mut tail = ring.tail;
        loop {
            // Acquire: pairs with the smp_wmb() ("B, matches C") before the data_head store in
            // perf_output_put_handle() (kernel/events/ring_buffer.c): records up to head are written.
            let head = ring.data_head().load(Ordering::Acquire);
            if head == tail {
                return Ok(count);
            }
            while tail < head {
                let offset = (tail & mask) as usize;
                // SAFETY: headers are 8-byte aligned and 8 bytes long, so one never wraps.
                let (kind, size) = unsafe {
                    let h = data.add(offset);
                    (
                        (h as *const u32).read_volatile(),
                        (h.add(6) as *const u16).read_volatile() as usize,
                    )
                };
                let valid = size >= HEADER_SIZE && size <= data_size && tail + size as u64 <= head;
                if valid
                    && kind == PERF_RECORD_SAMPLE
                    && size >= HEADER_SIZE + 4
                    && offset + size <= data_size
                {
                    // Fast path: a sample that does not wrap.
                    prefetch_ahead(data, tail, size as u64, head, mask);
                    // SAFETY: a complete record inside the data area, below data_head, not yet
                    // released through data_tail; its u32 raw size follows the header.
                    let sample = unsafe {
                        let record = data.add(offset);
                        let raw = (record.add(HEADER_SIZE) as *const u32).read_volatile() as usize;
                        let len = raw.min(size - HEADER_SIZE - 4);
                        std::slice::from_raw_parts(record.add(HEADER_SIZE + 4), len)
                    };
                    f(ring.cpu, sample);
                    count += 1;
                    tail += size as u64;
                    continue;
                }
                if !valid {
                    ring.tail = tail;
                    ring.data_tail().store(tail, Ordering::Release);
                    return Err(ReaderError::CorruptRecord {
                        map: self.name.clone(),
                        position: tail,
                        len: size as u64,
                        size: data_size as u64,
                    });
                }
                let record: &[u8] = if offset + size <= data_size {
                    // SAFETY: a complete record inside the data area, below data_head, not yet
                    // released through data_tail.
                    unsafe { std::slice::from_raw_parts(data.add(offset), size) }
                } else {
                    let first = data_size - offset;
                    ring.scratch.clear();
                    // SAFETY: the record's two pieces, at the end and the start of the area.
                    unsafe {
                        ring.scratch
                            .extend_from_slice(std::slice::from_raw_parts(data.add(offset), first));
                        ring.scratch
                            .extend_from_slice(std::slice::from_raw_parts(data, size - first));
                    }
                    &ring.scratch
                };
                match kind {
                    PERF_RECORD_SAMPLE if size >= HEADER_SIZE + 4 => {
                        let raw = u32::from_ne_bytes([record[8], record[9], record[10], record[11]])
                            as usize;
                        let end = (HEADER_SIZE + 4 + raw).min(size);
                        f(ring.cpu, &record[HEADER_SIZE + 4..end]);
                        count += 1;
                    }
                    PERF_RECORD_LOST if size >= HEADER_SIZE + 16 => {
                        let mut lost = [0u8; 8];
                        lost.copy_from_slice(&record[16..24]);
                        ring.lost += u64::from_ne_bytes(lost);
                    }
                    _ => {}
                }
                tail += size as u64;
            }
            ring.tail = tail;
            // Release: our reads of the records happen before the kernel may overwrite them;
            // pairs with the smp_mb() ("A, matches D") after READ_ONCE(data_tail) in
            // __perf_output_begin().
            ring.data_tail().store(tail, Ordering::Release);
            // Full fence, then look at data_head again before going back to wait: a sample
            // written while we read may not wake us (wakeup_events > 1 or a watermark count
            // samples, not our position), and a waiting reader would leave it unread.
            fence(Ordering::SeqCst);
        }
    }
}

/// Records at least this long get their successor's header prefetched: the hardware
/// prefetcher follows a dense stream of short records by itself, but records of a few
/// hundred bytes and more touch one or two cache lines each (and at a page or more, one page
/// each), so every header read would otherwise wait for memory.
const PREFETCH_MIN_RECORD: u64 = 256;
/// How many records ahead to prefetch, assuming the following records have the current one's
/// size (a wrong guess costs one wasted prefetch).
const PREFETCH_RECORDS: u64 = 4;

/// Hint the CPU to load the header of the record `PREFETCH_RECORDS` records after `tail`,
/// if that position is below `head` (written by the kernel).
#[inline(always)]
fn prefetch_ahead(data: *const u8, tail: u64, size: u64, head: u64, mask: u64) {
    if size < PREFETCH_MIN_RECORD {
        return;
    }
    let ahead = tail + PREFETCH_RECORDS * size;
    if ahead >= head {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // wrapping_add: no dereference happens here; the masked offset stays inside the data
        // area anyway.
        let p = data.wrapping_add((ahead & mask) as usize);
        // SAFETY: `sse` is part of the x86_64 baseline, and a prefetch never faults and never
        // reads into the program: it only hints the cache.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, mask);
}

impl CpuRing {
    fn data_head(&self) -> &AtomicU64 {
        // SAFETY: `data_head` is an aligned u64 in the mapped metadata page.
        unsafe { &*(self.mmap.as_ptr().add(DATA_HEAD) as *const AtomicU64) }
    }

    fn data_tail(&self) -> &AtomicU64 {
        // SAFETY: `data_tail` is an aligned u64 in the mapped, writable metadata page.
        unsafe { &*(self.mmap.as_ptr().add(DATA_TAIL) as *const AtomicU64) }
    }
}

impl AsFd for PerfBuffer {
    /// The epoll fd over all CPUs' events: readable when any ring woke.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.poller.as_fd()
    }
}

impl AsRawFd for PerfBuffer {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.poller.as_raw_fd()
    }
}

impl Drop for PerfBuffer {
    fn drop(&mut self) {
        for ring in &self.rings {
            let key = ring.cpu.to_ne_bytes();
            // Clear our slot so programs stop writing to an event about to close; a failure
            // only means the map has already gone.
            if let Err(e) = crate::sys::map_delete_elem(self.map_fd.as_fd(), &key) {
                log::debug!("map '{}': clearing CPU {} failed: {e}", self.name, ring.cpu);
            }
        }
    }
}
