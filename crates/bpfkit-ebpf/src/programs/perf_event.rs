//! perf_event (`BPF_PROG_TYPE_PERF_EVENT`) context: the sample's registers and period.

use super::{context, fields};
use crate::bindings::bpf_perf_event_data;

/// Context of a `perf_event` program (`struct bpf_perf_event_data`).
pub struct PerfEventContext {
    data: *mut bpf_perf_event_data,
}

context!(PerfEventContext, data: bpf_perf_event_data);

impl PerfEventContext {
    fields!(data;
        /// The event's sample period.
        sample_period => sample_period: u64,
        /// The sample's data address (`PERF_SAMPLE_ADDR`).
        addr => addr: u64,
    );
}
