//! Perf event arrays (`BPF_MAP_TYPE_PERF_EVENT_ARRAY`): perf event fds by CPU index.

use std::borrow::Borrow;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::{MapData, MapError, MapType};

/// Perf event fds, one per CPU, that `bpf_perf_event_output` writes to.
#[doc(alias = "BPF_MAP_TYPE_PERF_EVENT_ARRAY")]
#[derive(Debug)]
pub struct PerfEventArray<T> {
    map: T,
}

impl<T: Borrow<MapData>> PerfEventArray<T> {
    /// A typed view; checks the type.
    pub fn new(map: T) -> Result<Self, MapError> {
        map.borrow()
            .check_type(&[MapType::PerfEventArray], "PERF_EVENT_ARRAY")?;
        Ok(Self { map })
    }

    /// The underlying map.
    pub fn map(&self) -> &MapData {
        self.map.borrow()
    }

    /// Store the perf event `event` (from perf_event_open) at `index` (usually the CPU).
    pub fn set(&self, index: u32, event: BorrowedFd<'_>) -> Result<(), MapError> {
        let fd = event.as_raw_fd() as u32;
        self.map()
            .update_bytes(&index.to_ne_bytes(), &fd.to_ne_bytes(), 0)
    }

    /// Clear `index`.
    pub fn clear(&self, index: u32) -> Result<bool, MapError> {
        self.map().delete_bytes(&index.to_ne_bytes())
    }
}
