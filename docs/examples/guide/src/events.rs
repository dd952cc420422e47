//! Reading the same records from a ring buffer and from a perf buffer.

use std::time::Duration;

use bpfkit::readers::{PerfBuffer, PerfBufferOptions};
use guide_common::Call;

use crate::skel::Skel;
use crate::Error;

// ANCHOR: read_ring
/// Drains the `CALLS_RING` ring buffer: every record available now, in reservation order.
pub fn drain_ring(skel: &Skel) -> Result<Vec<Call>, Error> {
    let mut ring = skel.maps().CALLS_RING()?;
    let mut calls = Vec::new();
    // `consume` hands out each record in place (no copy), then releases them all at once.
    ring.consume(|record| calls.extend(Call::from_bytes(record)))?;
    Ok(calls)
}
// ANCHOR_END: read_ring

// ANCHOR: read_perf
/// Opens one perf ring per online CPU behind `CALLS_PERF`. Open it before the events
/// happen: a CPU's ring exists only once userspace has opened it.
pub fn open_perf(skel: &Skel) -> Result<PerfBuffer, Error> {
    let map = skel.maps().CALLS_PERF()?;
    Ok(PerfBuffer::open(map, &PerfBufferOptions::default())?)
}

/// Waits up to `timeout` for records and returns them with the CPU each came from, and the
/// records the kernel dropped because a ring was full.
pub fn drain_perf(
    perf: &mut PerfBuffer,
    timeout: Duration,
) -> Result<(Vec<(u32, Call)>, u64), Error> {
    let mut calls = Vec::new();
    perf.poll(Some(timeout), |cpu, record| {
        calls.extend(Call::from_bytes(record).map(|c| (cpu, c)))
    })?;
    Ok((calls, perf.lost()))
}
// ANCHOR_END: read_perf
