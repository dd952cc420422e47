//! Errors of the ring buffer, perf buffer and user ring buffer readers.

use crate::maps::{MapError, MapType};
use crate::sys::SyscallError;

/// What can go wrong opening or using a reader. Each variant names the map.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReaderError {
    /// The map is not of the type this reader reads.
    #[error("map '{map}': is {actual:?}, a {expected} reader needs {expected}")]
    WrongMapType {
        /// The map's name.
        map: String,
        /// The type the reader needs (kernel name).
        expected: &'static str,
        /// The map's type.
        actual: MapType,
    },
    /// The data area size is not a power of two multiple of the page size.
    #[error("map '{map}': data area of {size} bytes is not a power of two multiple of the page size ({page_size})")]
    BadSize {
        /// The map's name.
        map: String,
        /// The size (`max_entries`).
        size: u64,
        /// The page size.
        page_size: usize,
    },
    /// A system call failed (mmap, epoll, perf_event_open, ...) for a map's reader.
    #[error("map '{map}'")]
    Syscall {
        /// The map's name.
        map: String,
        /// The call and errno.
        #[source]
        source: SyscallError,
    },
    /// The epoll set of a [`RingBufPoller`](super::RingBufPoller) could not be made or
    /// waited on (no single map is involved).
    #[error("ring buffer poller")]
    Poller {
        /// The call and errno.
        #[source]
        source: SyscallError,
    },
    /// A map operation failed (storing a perf event fd).
    #[error(transparent)]
    Map(#[from] MapError),
    /// The online CPU list could not be read or parsed.
    #[error(transparent)]
    CpuList {
        /// Which file and why.
        #[from]
        source: crate::cpus::CpuListError,
    },
    /// No online CPU has a slot in the perf event array.
    #[error("map '{map}': none of the online CPUs {online:?} is below max_entries {max_entries}")]
    NoCpus {
        /// The map's name.
        map: String,
        /// Online CPUs.
        online: Vec<u32>,
        /// The array's size.
        max_entries: u32,
    },
    /// The kernel wrote a record header that does not fit the ring (corruption).
    #[error(
        "map '{map}': record at position {position} has length {len}, beyond the {size}-byte ring"
    )]
    CorruptRecord {
        /// The map's name.
        map: String,
        /// Ring position of the record.
        position: u64,
        /// Its length field.
        len: u64,
        /// The data area size.
        size: u64,
    },
    /// A user ring buffer has no room for the record now.
    #[error("map '{map}': no room for a {size}-byte record ({free} bytes free of {capacity})")]
    UserRingBufFull {
        /// The map's name.
        map: String,
        /// The record size asked for.
        size: usize,
        /// Bytes free (header included).
        free: u64,
        /// Data area size.
        capacity: u64,
    },
    /// A user ring buffer record can never fit (or exceeds the 2^30 length field).
    #[error("map '{map}': a {size}-byte record can never fit the {capacity}-byte ring")]
    RecordTooLarge {
        /// The map's name.
        map: String,
        /// The record size asked for.
        size: usize,
        /// Data area size.
        capacity: u64,
    },
}
