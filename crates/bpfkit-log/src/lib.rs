//! Userspace side of bpfkit logging: reads log records from the kernel and forwards them to the log crate.
//!
//! Each ring buffer entry of the `BPFKIT_LOGS` map is one record (layout in
//! `bpfkit-log-common`). [`decode`] checks it and [`Record::message`] renders it; [`forward`]
//! hands it to a [`log::Log`]. [`EbpfLogger`] reads a loaded object's ring buffer with
//! bpfkit's reader and forwards every record, blocking or (feature `tokio`) asynchronously.
//!
//! ```
//! use bpfkit_log_common::{Level, RecordBuilder};
//! let mut words = [0u64; 16];
//! // SAFETY: the u64 array viewed as bytes for the encoder (same size and lifetime).
//! let buf = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), 128) };
//! let len = RecordBuilder::new(buf, Level::Warn, "prog", "dropped {} packets", 12)
//!     .unwrap().arg(&3u32).unwrap().finish();
//! let record = bpfkit_log::decode(&buf[..len]).unwrap();
//! assert_eq!(record.message().unwrap(), "dropped 3 packets");
//! ```

mod decode;
mod logger;
mod render;

pub use decode::{decode, Arg, DecodeError, Record};
pub use logger::{EbpfLogger, LoggerError, LOG_MAP};

/// Decodes `bytes` and logs it through `logger` with the record's level, target and line.
pub fn forward(bytes: &[u8], logger: &dyn log::Log) -> Result<(), DecodeError> {
    let record = decode(bytes)?;
    let message = record.message()?;
    let level = match record.level {
        bpfkit_log_common::Level::Error => log::Level::Error,
        bpfkit_log_common::Level::Warn => log::Level::Warn,
        bpfkit_log_common::Level::Info => log::Level::Info,
        bpfkit_log_common::Level::Debug => log::Level::Debug,
        bpfkit_log_common::Level::Trace => log::Level::Trace,
    };
    logger.log(
        &log::Record::builder()
            .level(level)
            .target(record.target)
            .line(Some(record.line))
            .module_path(Some(record.target))
            .args(format_args!("{message}"))
            .build(),
    );
    Ok(())
}

/// [`forward`] to the logger installed with `log::set_logger`.
pub fn forward_to_logger(bytes: &[u8]) -> Result<(), DecodeError> {
    forward(bytes, log::logger())
}
