//! Event readers: ring buffers and perf buffers drained from userspace, and the user ring buffer
//! writer.
//!
//! - [`RingBuf`] (`BPF_MAP_TYPE_RINGBUF`): [`RingBuf::next`] copies one record;
//!   [`RingBuf::batch`] lends records as `&[u8]` without copying and commits the consumer
//!   position once when the [`Batch`] ends; [`RingBuf::consume`] runs a closure over every
//!   available record (the fastest drain).
//! - [`PerfBuffer`] (`BPF_MAP_TYPE_PERF_EVENT_ARRAY`): one `PERF_COUNT_SW_BPF_OUTPUT` ring per
//!   online CPU, samples and `PERF_RECORD_LOST` counts, epoll over all CPUs.
//! - [`UserRingBufWriter`] (`BPF_MAP_TYPE_USER_RINGBUF`): reserve and submit records that a
//!   program consumes with `bpf_user_ringbuf_drain`.
//! - [`Poller`] (epoll) and [`RingBufPoller`] wait on several buffers at once; with the `tokio`
//!   feature, `AsyncRingBuf` and `AsyncPerfBuffer` do the same on a tokio runtime.
//!
//! Memory ordering follows the kernel's producers (kernel/bpf/ringbuf.c,
//! kernel/events/ring_buffer.c); each acquire load and release store names the kernel code it
//! pairs with.

mod error;
mod perf_buffer;
mod poll;
mod ring_buf;
#[cfg(feature = "tokio")]
mod tokio_stream;
mod user_ring_buf;

pub use error::ReaderError;
pub use perf_buffer::{PerfBuffer, PerfBufferOptions, Wakeup};
pub use poll::{Poller, RingBufPoller};
pub use ring_buf::{Batch, RingBuf};
#[cfg(feature = "tokio")]
pub use tokio_stream::{AsyncPerfBuffer, AsyncRingBuf};
pub use user_ring_buf::{UserRecord, UserRingBufWriter};

use crate::cpus::page_size;
