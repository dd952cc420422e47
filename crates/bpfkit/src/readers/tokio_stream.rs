//! tokio streams over the readers: [`AsyncRingBuf`] and [`AsyncPerfBuffer`] wait with
//! `AsyncFd` instead of blocking a thread.
//!
//! tokio's readiness is edge-triggered (`EPOLLET`): an event sets it, only
//! `AsyncFdReadyMutGuard::clear_ready` clears it, and a clear does not forget an event the
//! reactor saw after the guard was taken. So readiness is cleared only after a drain that
//! ended armed (see [`RingBuf`]'s notes on wake-ups: consumer position published, full
//! fence, nothing committed at it on the re-check): from then on the next commit at that
//! position wakes the reactor. A drain that stopped early (an error) keeps the readiness.
//! Each readiness is answered by draining everything there is, not one record.

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::{PerfBuffer, ReaderError, RingBuf};

/// Register `inner` (which owns the fd it reports) with the current runtime's reactor.
fn register<T: std::os::fd::AsRawFd>(inner: T, name: &str) -> Result<AsyncFd<T>, ReaderError> {
    if let Err(e) = tokio::runtime::Handle::try_current() {
        return Err(wait_error(name, std::io::Error::other(e)));
    }
    // SAFETY: `RingBuf` and `PerfBuffer` own the fd they report (an `OwnedFd` field that is
    // never replaced), so it stays open and the same for as long as the `AsyncFd` owns them.
    unsafe { AsyncFd::register_with_interest(inner, Interest::READABLE) }
        .map_err(|e| wait_error(name, e.into_parts().1))
}

fn wait_error(map: &str, io_error: std::io::Error) -> ReaderError {
    ReaderError::Syscall {
        map: map.to_string(),
        source: crate::sys::SyscallError {
            call: "epoll_wait (tokio)",
            io_error,
        },
    }
}

/// A ring buffer read from a tokio runtime (feature `tokio`).
///
/// ```no_run
/// # async fn demo(ring: bpfkit::readers::RingBuf) -> Result<(), bpfkit::readers::ReaderError> {
/// let mut stream = bpfkit::readers::AsyncRingBuf::new(ring)?;
/// loop {
///     // Every record available, one readiness at a time (the fastest way).
///     let n = stream.consume(|record| println!("{} bytes", record.len())).await?;
///     assert!(n > 0);
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncRingBuf {
    inner: AsyncFd<RingBuf>,
    name: String,
}

impl AsyncRingBuf {
    /// Register `ring` with the current tokio runtime's reactor (an error outside a runtime).
    pub fn new(ring: RingBuf) -> Result<Self, ReaderError> {
        let name = ring.name().to_string();
        let inner = register(ring, &name)?;
        Ok(Self { inner, name })
    }

    /// The ring buffer.
    pub fn get_mut(&mut self) -> &mut RingBuf {
        self.inner.get_mut()
    }

    /// The ring buffer.
    pub fn get_ref(&self) -> &RingBuf {
        self.inner.get_ref()
    }

    /// Deregister from the reactor and return the ring buffer.
    pub fn into_inner(self) -> RingBuf {
        self.inner.into_inner()
    }

    /// Wait until at least one record is available, then drain all of them through `f`
    /// (as [`RingBuf::consume`]). Returns the number of records (at least one).
    ///
    /// Cancel-safe: records are handed to `f` only inside a poll that completes the drain.
    pub async fn consume<F: FnMut(&[u8])>(&mut self, mut f: F) -> Result<usize, ReaderError> {
        loop {
            // Records may be there without a pending wake-up: left by `next`, by a drain an
            // error stopped, or committed before this call. consume() is cheap on an empty ring
            // and ends armed.
            let n = self.inner.get_mut().consume(&mut f)?;
            if n > 0 {
                return Ok(n);
            }
            let mut guard = self
                .inner
                .readable_mut()
                .await
                .map_err(|e| wait_error(&self.name, e))?;
            let n = guard.get_inner_mut().consume(&mut f)?;
            // consume() returned Ok: the ring is armed, so the next commit at the consumer
            // position wakes the reactor; readiness that arrived after `readable_mut()` is
            // kept by tokio.
            guard.clear_ready();
            if n > 0 {
                return Ok(n);
            }
        }
    }

    /// The next record, copied, waiting for one if the ring is empty. [`AsyncRingBuf::consume`]
    /// is much faster when records come in bursts.
    #[allow(clippy::should_implement_trait)]
    pub async fn next(&mut self) -> Result<Vec<u8>, ReaderError> {
        loop {
            if let Some(record) = self.inner.get_mut().next()? {
                return Ok(record);
            }
            let mut guard = self
                .inner
                .readable_mut()
                .await
                .map_err(|e| wait_error(&self.name, e))?;
            if let Some(record) = guard.get_inner_mut().next()? {
                // Records may remain: keep the readiness (the next call reads on anyway).
                return Ok(record);
            }
            // next() returned None: the ring is armed (published, fenced, re-checked).
            guard.clear_ready();
        }
    }
}

/// A perf buffer read from a tokio runtime (feature `tokio`): one `AsyncFd` over the epoll
/// set of all CPUs' events.
#[derive(Debug)]
pub struct AsyncPerfBuffer {
    inner: AsyncFd<PerfBuffer>,
    name: String,
}

impl AsyncPerfBuffer {
    /// Register `buffer` with the current tokio runtime's reactor (an error outside a runtime).
    pub fn new(buffer: PerfBuffer) -> Result<Self, ReaderError> {
        let name = buffer.name().to_string();
        let inner = register(buffer, &name)?;
        Ok(Self { inner, name })
    }

    /// The perf buffer (for [`PerfBuffer::lost`] and friends).
    pub fn get_mut(&mut self) -> &mut PerfBuffer {
        self.inner.get_mut()
    }

    /// The perf buffer.
    pub fn get_ref(&self) -> &PerfBuffer {
        self.inner.get_ref()
    }

    /// Deregister from the reactor and return the perf buffer.
    pub fn into_inner(self) -> PerfBuffer {
        self.inner.into_inner()
    }

    /// Wait until a CPU's ring wakes, then read every ring through `f(cpu, sample)` (as
    /// [`PerfBuffer::consume`]). Returns the number of samples (at least one).
    pub async fn consume<F: FnMut(u32, &[u8])>(&mut self, mut f: F) -> Result<usize, ReaderError> {
        loop {
            let n = self.inner.get_mut().consume(&mut f)?;
            if n > 0 {
                return Ok(n);
            }
            let mut guard = self
                .inner
                .readable_mut()
                .await
                .map_err(|e| wait_error(&self.name, e))?;
            let n = guard.get_inner_mut().consume(&mut f)?;
            // consume() re-read every ring's data_head after publishing its data_tail (with a
            // fence) and found nothing more; a sample written since raises a new event (perf
            // wakes on its own count, independent of data_tail).
            guard.clear_ready();
            if n > 0 {
                return Ok(n);
            }
        }
    }
}
