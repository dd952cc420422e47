//! Waiting for events: an epoll set ([`Poller`]) and several ring buffers behind one
//! ([`RingBufPoller`]).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{ReaderError, RingBuf};
use crate::sys::seam::{self, Call};
use crate::sys::{SysResult, SyscallError};

/// An epoll instance: register fds with a token, wait for the ready ones.
///
/// The epoll fd is itself pollable, so a whole `Poller` can sit inside another event loop
/// (the tokio types do that).
#[derive(Debug)]
pub struct Poller {
    epoll: OwnedFd,
    events: Vec<libc::epoll_event>,
    tokens: Vec<u64>,
    registered: usize,
}

impl Poller {
    /// A new, empty epoll set.
    pub fn new() -> SysResult<Self> {
        let fd = seam::call(Call::EpollCreate, || {
            // SAFETY: no pointers.
            i64::from(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
        }) as RawFd;
        if fd < 0 {
            return Err(last("epoll_create1"));
        }
        Ok(Self {
            // SAFETY: a fresh fd owned by nothing else.
            epoll: unsafe { crate::sys::fdtrace::own(fd, "epoll set") },
            events: Vec::new(),
            tokens: Vec::new(),
            registered: 0,
        })
    }

    /// Wake for `fd` becoming readable (`EPOLLIN`), reporting `token`.
    pub fn add(&mut self, fd: BorrowedFd<'_>, token: u64) -> SysResult<()> {
        self.add_with(fd, token, libc::EPOLLIN as u32)
    }

    /// Wake for `events` (`EPOLLIN`, `EPOLLOUT`, ...) on `fd`, reporting `token`.
    pub fn add_with(&mut self, fd: BorrowedFd<'_>, token: u64, events: u32) -> SysResult<()> {
        let mut event = libc::epoll_event { events, u64: token };
        let ret = seam::call(Call::EpollCtl, || {
            // SAFETY: `event` is live for the call; the kernel copies it.
            i64::from(unsafe {
                libc::epoll_ctl(
                    self.epoll.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    fd.as_raw_fd(),
                    &mut event,
                )
            })
        });
        if ret < 0 {
            return Err(last("epoll_ctl"));
        }
        self.registered += 1;
        Ok(())
    }

    /// Wait up to `timeout` (`None`: forever, zero: don't block) and return the tokens of the
    /// ready fds. An interrupted wait (EINTR) returns no tokens.
    pub fn wait(&mut self, timeout: Option<Duration>) -> SysResult<&[u64]> {
        let capacity = self.registered.max(1);
        self.events.clear();
        self.events.reserve(capacity);
        let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as i32);
        let events = self.events.as_mut_ptr();
        let mut waited = false;
        let n = seam::call(Call::EpollWait, || {
            waited = true;
            // SAFETY: the kernel writes at most `capacity` events into the spare capacity.
            i64::from(unsafe {
                libc::epoll_wait(self.epoll.as_raw_fd(), events, capacity as i32, ms)
            })
        });
        // A value a seam override returned wrote no events: it can only say "none ready".
        let n = if waited { n } else { n.min(0) };
        if n < 0 {
            let e = last("epoll_wait");
            if e.errno() == Some(libc::EINTR) {
                return Ok(&[]);
            }
            return Err(e);
        }
        // SAFETY: the kernel initialised the first `n` entries.
        unsafe { self.events.set_len(n as usize) };
        self.tokens.clear();
        // `epoll_event` is packed on x86_64: copy the field out rather than borrow it.
        self.tokens.extend(self.events.iter().map(|e| e.u64));
        Ok(&self.tokens)
    }
}

impl AsFd for Poller {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

impl AsRawFd for Poller {
    fn as_raw_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }
}

fn last(call: &'static str) -> SyscallError {
    SyscallError {
        call,
        io_error: std::io::Error::last_os_error(),
    }
}

/// Several ring buffers waited on together, as libbpf's `ring_buffer__poll`.
///
/// The rings are registered edge-triggered and a ring is slept on only once a drain left it
/// armed (the consumer position published, fenced and re-checked; see [`RingBuf`]'s notes on
/// wake-ups), so a record still `BUSY` at a consumer position is neither spun on nor missed.
///
/// ```no_run
/// # fn demo(a: bpfkit::readers::RingBuf, b: bpfkit::readers::RingBuf) -> Result<(), bpfkit::readers::ReaderError> {
/// let mut poller = bpfkit::readers::RingBufPoller::new()?;
/// let first = poller.add(a)?;
/// poller.add(b)?;
/// let n = poller.poll(Some(std::time::Duration::from_millis(100)), |ring, record| {
///     println!("ring {} record of {} bytes", if ring == first { "a" } else { "b" }, record.len());
/// })?;
/// # let _ = n; Ok(()) }
/// ```
#[doc(alias = "ring_buffer__poll")]
#[derive(Debug)]
pub struct RingBufPoller {
    poller: Poller,
    rings: Vec<RingBuf>,
    ready: Vec<usize>,
}

impl RingBufPoller {
    /// An empty set.
    pub fn new() -> Result<Self, ReaderError> {
        Ok(Self {
            poller: Poller::new().map_err(|source| ReaderError::Poller { source })?,
            rings: Vec::new(),
            ready: Vec::new(),
        })
    }

    /// Add a ring buffer; returns its index, which [`RingBufPoller::poll`] passes to the
    /// callback.
    pub fn add(&mut self, ring: RingBuf) -> Result<usize, ReaderError> {
        let index = self.rings.len();
        self.poller
            .add_with(
                ring.as_fd(),
                index as u64,
                (libc::EPOLLIN | libc::EPOLLET) as u32,
            )
            .map_err(|source| ReaderError::Syscall {
                map: ring.name().to_string(),
                source,
            })?;
        self.rings.push(ring);
        Ok(index)
    }

    /// The ring buffer at `index`.
    pub fn ring(&mut self, index: usize) -> Option<&mut RingBuf> {
        self.rings.get_mut(index)
    }

    /// Give back the ring buffers, in the order they were added.
    pub fn into_rings(self) -> Vec<RingBuf> {
        self.rings
    }

    /// Wait up to `timeout` for records, then drain every ready ring, calling
    /// `f(ring_index, record)`. Returns the number of records. Rings that an earlier call
    /// (an error, a panic in `f`) or the caller (through [`RingBufPoller::ring`]) left with
    /// records behind are drained first, without waiting.
    pub fn poll<F: FnMut(usize, &[u8])>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> Result<usize, ReaderError> {
        let mut count = 0;
        for (index, ring) in self.rings.iter_mut().enumerate() {
            if !ring.is_armed() {
                count += ring.consume(|record| f(index, record))?;
            }
        }
        if count > 0 {
            return Ok(count);
        }
        let tokens = self
            .poller
            .wait(timeout)
            .map_err(|source| ReaderError::Poller { source })?;
        self.ready.clear();
        self.ready.extend(tokens.iter().map(|&t| t as usize));
        // The wait consumed these rings' edges: until drained to armed again, a ring must be
        // drained before the next sleep (an error or a panic below may stop us first).
        for &index in &self.ready {
            if let Some(ring) = self.rings.get_mut(index) {
                ring.disarm();
            }
        }
        for &index in &self.ready {
            if let Some(ring) = self.rings.get_mut(index) {
                count += ring.consume(|record| f(index, record))?;
            }
        }
        Ok(count)
    }

    /// Drain every ring without waiting.
    pub fn consume<F: FnMut(usize, &[u8])>(&mut self, mut f: F) -> Result<usize, ReaderError> {
        let mut count = 0;
        for (index, ring) in self.rings.iter_mut().enumerate() {
            count += ring.consume(|record| f(index, record))?;
        }
        Ok(count)
    }
}

impl AsFd for RingBufPoller {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.poller.as_fd()
    }
}
