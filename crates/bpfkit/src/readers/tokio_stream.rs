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
//!
//! Registration and readiness pass the syscall seam ([`Call::ReactorRegister`],
//! [`Call::ReactorReady`]): an `EINTR` is retried, an `EAGAIN` waits for the next readiness,
//! any other errno is reported once and the stream stays usable (a failed registration drops
//! the reader, releasing its fd and mappings).

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::{PerfBuffer, ReaderError, RingBuf};
use crate::sys::seam::{self, Call, Reply};

/// Register `inner` (which owns the fd it reports) with the current runtime's reactor,
/// through the syscall seam ([`Call::ReactorRegister`]). On failure `inner` is dropped: its
/// fd and mappings are released. A registration interrupted by a signal is made again, up to
/// [`seam::EINTR_RETRIES`] times.
fn register<T: std::os::fd::AsRawFd>(inner: T, name: &str) -> Result<AsyncFd<T>, ReaderError> {
    if let Err(e) = tokio::runtime::Handle::try_current() {
        return Err(register_error(name, std::io::Error::other(e)));
    }
    let mut interrupted = 0;
    loop {
        let error = match seam::decide(&Call::ReactorRegister) {
            Reply::Errno(errno) => std::io::Error::from_raw_os_error(errno),
            Reply::Kernel | Reply::Return(_) => {
                // SAFETY: `RingBuf` and `PerfBuffer` own the fd they report (an `OwnedFd`
                // field that is never replaced), so it stays open and the same for as long
                // as the `AsyncFd` owns them.
                return unsafe { AsyncFd::register_with_interest(inner, Interest::READABLE) }
                    .map_err(|e| register_error(name, e.into_parts().1));
            }
        };
        if error.kind() != std::io::ErrorKind::Interrupted || interrupted >= seam::EINTR_RETRIES {
            return Err(register_error(name, error));
        }
        interrupted += 1;
    }
}

fn register_error(map: &str, io_error: std::io::Error) -> ReaderError {
    ReaderError::Syscall {
        map: map.to_string(),
        source: crate::sys::SyscallError {
            call: "epoll_ctl (tokio)",
            io_error,
        },
    }
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

/// What to do with a readiness the reactor reported.
enum Readiness {
    /// Read the ring(s).
    Read,
    /// Interrupted (`EINTR`): read again without waiting.
    Retry,
    /// Nothing was ready after all (`EAGAIN`): clear the readiness and wait for the next.
    Wait,
}

/// The seam's answer for a readiness ([`Call::ReactorReady`]): tokio reports none of the
/// errnos of the `epoll_wait` under it, so the seam stands in for them. `EINTR` is retried up
/// to [`seam::EINTR_RETRIES`] times in a row (`interrupted` counts them), then reported like
/// any other errno: once, with the stream left usable (the readiness is kept).
fn readiness(map: &str, interrupted: &mut u32) -> Result<Readiness, ReaderError> {
    let errno = match seam::decide(&Call::ReactorReady) {
        Reply::Errno(errno) => errno,
        Reply::Kernel | Reply::Return(_) => {
            *interrupted = 0;
            return Ok(Readiness::Read);
        }
    };
    match errno {
        libc::EINTR if *interrupted < seam::EINTR_RETRIES => {
            *interrupted += 1;
            Ok(Readiness::Retry)
        }
        libc::EAGAIN => Ok(Readiness::Wait),
        errno => {
            *interrupted = 0;
            Err(wait_error(map, std::io::Error::from_raw_os_error(errno)))
        }
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
        let mut interrupted = 0;
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
            match readiness(&self.name, &mut interrupted)? {
                Readiness::Read => {}
                Readiness::Retry => continue,
                Readiness::Wait => {
                    guard.clear_ready();
                    continue;
                }
            }
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
        let mut interrupted = 0;
        loop {
            if let Some(record) = self.inner.get_mut().next()? {
                return Ok(record);
            }
            let mut guard = self
                .inner
                .readable_mut()
                .await
                .map_err(|e| wait_error(&self.name, e))?;
            match readiness(&self.name, &mut interrupted)? {
                Readiness::Read => {}
                Readiness::Retry => continue,
                Readiness::Wait => {
                    guard.clear_ready();
                    continue;
                }
            }
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
        let mut interrupted = 0;
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
            match readiness(&self.name, &mut interrupted)? {
                Readiness::Read => {}
                Readiness::Retry => continue,
                Readiness::Wait => {
                    guard.clear_ready();
                    continue;
                }
            }
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
