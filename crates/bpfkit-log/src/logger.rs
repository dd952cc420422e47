//! Reading the `BPFKIT_LOGS` ring buffer of a loaded object and forwarding every record to a
//! [`log::Log`], blocking (epoll) or on tokio.

use std::time::Duration;

use bpfkit::loader::Object;
use bpfkit::readers::{Poller, ReaderError, RingBuf};
use bpfkit::sys::SyscallError;

use crate::forward;

/// Name of the ring buffer map bpfkit-log-ebpf writes records to.
pub const LOG_MAP: &str = "BPFKIT_LOGS";

/// Why the logger could not read records.
#[derive(Debug, thiserror::Error)]
pub enum LoggerError {
    /// The object has no log map.
    #[error(
        "object '{object}' has no {LOG_MAP} map: its eBPF crate does not log with bpfkit-log-ebpf"
    )]
    NoLogMap {
        /// The object's name.
        object: String,
    },
    /// Mapping or reading the ring buffer failed.
    #[error(transparent)]
    Reader(#[from] ReaderError),
    /// Waiting for records failed.
    #[error("waiting for log records")]
    Wait(#[source] SyscallError),
}

/// Forwards the log records of one loaded object.
///
/// ```no_run
/// let object = bpfkit::loader::Loader::new().load_file("prog.bpf.o")?;
/// let mut logs = bpfkit_log::EbpfLogger::new(&object)?;
/// loop {
///     logs.wait_and_forward(None)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EbpfLogger {
    ring: RingBuf,
    logger: Option<Box<dyn log::Log>>,
    decode_errors: u64,
}

impl std::fmt::Debug for EbpfLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbpfLogger")
            .field("ring", &self.ring.name())
            .field("decode_errors", &self.decode_errors)
            .finish_non_exhaustive()
    }
}

impl EbpfLogger {
    /// Maps the object's `BPFKIT_LOGS` ring buffer; records go to the global logger (the one
    /// installed with `log::set_logger`) unless [`EbpfLogger::with_logger`] says otherwise.
    pub fn new(object: &Object) -> Result<Self, LoggerError> {
        let map = object.map(LOG_MAP).ok_or_else(|| LoggerError::NoLogMap {
            object: object.name().to_string(),
        })?;
        Ok(Self {
            ring: RingBuf::new(map)?,
            logger: None,
            decode_errors: 0,
        })
    }

    /// Sends the records to `logger` instead of the global logger.
    pub fn with_logger(mut self, logger: Box<dyn log::Log>) -> Self {
        self.logger = Some(logger);
        self
    }

    /// Records that could not be decoded so far (each is also reported as a warning).
    pub fn decode_errors(&self) -> u64 {
        self.decode_errors
    }

    /// Forwards every record available now; returns how many were read.
    pub fn forward_pending(&mut self) -> Result<usize, LoggerError> {
        let Self {
            ring,
            logger,
            decode_errors,
        } = self;
        let logger: &dyn log::Log = match logger.as_deref() {
            Some(l) => l,
            None => log::logger(),
        };
        Ok(ring.consume(|record| forward_or_warn(record, logger, decode_errors))?)
    }

    /// Waits up to `timeout` (`None`: forever) for records, then forwards them.
    pub fn wait_and_forward(&mut self, timeout: Option<Duration>) -> Result<usize, LoggerError> {
        let forwarded = self.forward_pending()?;
        if forwarded > 0 {
            return Ok(forwarded);
        }
        let mut poller = Poller::new().map_err(LoggerError::Wait)?;
        poller
            .add(std::os::fd::AsFd::as_fd(&self.ring), 0)
            .map_err(LoggerError::Wait)?;
        poller.wait(timeout).map_err(LoggerError::Wait)?;
        self.forward_pending()
    }

    /// Forwards records as they arrive, on the current tokio runtime, until reading fails.
    #[cfg(feature = "tokio")]
    pub async fn run(self) -> Result<std::convert::Infallible, LoggerError> {
        let Self {
            ring,
            logger,
            mut decode_errors,
        } = self;
        let mut ring = bpfkit::readers::AsyncRingBuf::new(ring)?;
        loop {
            let logger: &dyn log::Log = match logger.as_deref() {
                Some(l) => l,
                None => log::logger(),
            };
            ring.consume(|record| forward_or_warn(record, logger, &mut decode_errors))
                .await?;
        }
    }
}

fn forward_or_warn(record: &[u8], logger: &dyn log::Log, decode_errors: &mut u64) {
    if let Err(e) = forward(record, logger) {
        *decode_errors += 1;
        logger.log(
            &log::Record::builder()
                .level(log::Level::Warn)
                .target("bpfkit_log")
                .args(format_args!("dropped an undecodable eBPF log record: {e}"))
                .build(),
        );
    }
}
