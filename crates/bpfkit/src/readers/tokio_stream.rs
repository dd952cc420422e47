//! tokio streams over the readers: [`AsyncRingBuf`] and [`AsyncPerfBuffer`] wait with
//! `AsyncFd` instead of blocking a thread.

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
///     let record = stream.next().await?;
///     println!("{} bytes", record.len());
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

    /// Wait until at least one record is available, then drain all of them through `f`
    /// (as [`RingBuf::consume`]). Returns the number of records.
    pub async fn consume<F: FnMut(&[u8])>(&mut self, mut f: F) -> Result<usize, ReaderError> {
        loop {
            let mut guard = self
                .inner
                .readable_mut()
                .await
                .map_err(|e| wait_error(&self.name, e))?;
            let n = guard.get_inner_mut().consume(&mut f)?;
            // Drained: forget this readiness (tokio keeps any wake-up that raced with us).
            guard.clear_ready();
            if n > 0 {
                return Ok(n);
            }
        }
    }

    /// The next record, copied, waiting for one if the ring is empty.
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
                return Ok(record);
            }
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
            guard.clear_ready();
            if n > 0 {
                return Ok(n);
            }
        }
    }
}
