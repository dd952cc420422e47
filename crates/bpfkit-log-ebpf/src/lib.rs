//! Kernel-side bpfkit logging macros.
//!
//! `error!`, `warn!`, `info!`, `debug!` and `trace!` write one typed record per call into the
//! `BPFKIT_LOGS` ring buffer; `bpfkit-log` decodes them in userspace and forwards them to the
//! `log` crate. The format string is checked at compile time: placeholders are `{}`, `{:x}`,
//! `{:X}`, `{:i}` (IPv4 `u32` in network order, `[u8; 4]`, IPv6 `[u8; 16]`) and `{:mac}`
//! (`[u8; 6]`), their count must match the arguments, and each argument's type must support
//! its placeholder.
//!
//! ```ignore
//! use bpfkit_log_ebpf::{info, warn};
//! info!("exec pid {} comm {}", pid, comm);
//! warn!(target: "fw", "drop from {:i} ({:mac})", saddr, mac);
//! ```
//!
//! The most verbose level that is sent is [`BPFKIT_LOG_LEVEL`], a global in frozen `.rodata`:
//! the verifier sees its value, so calls above it are dead code it never walks. Its default is
//! `info`, or the `BPFKIT_LOG_LEVEL` environment variable at build time (`off`, `error`,
//! `warn`, `info`, `debug`, `trace`); a loader may rewrite it before loading.
#![no_std]
#![deny(missing_docs)]

use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::Global;
pub use bpfkit_log_common::Level;

/// Size in bytes of the `BPFKIT_LOGS` ring buffer.
pub const LOG_BUFFER_SIZE: usize = 64 * 1024;

/// The ring buffer every log record goes through.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".maps")]
pub static BPFKIT_LOGS: RingBuf<LOG_BUFFER_SIZE> = RingBuf::new();

/// The most verbose level sent (0 = off, 1 = error … 5 = trace), in frozen `.rodata`.
#[unsafe(no_mangle)]
pub static BPFKIT_LOG_LEVEL: Global<u8> =
    Global::new(default_level(option_env!("BPFKIT_LOG_LEVEL")));

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn default_level(env: Option<&str>) -> u8 {
    match env {
        None => Level::Info as u8,
        Some(v) if same(v, "off") => 0,
        Some(v) if same(v, "error") => Level::Error as u8,
        Some(v) if same(v, "warn") => Level::Warn as u8,
        Some(v) if same(v, "debug") => Level::Debug as u8,
        Some(v) if same(v, "trace") => Level::Trace as u8,
        Some(_) => Level::Info as u8,
    }
}

/// Logs at [`Level::Error`]: `error!("fmt", args..)` or `error!(target: "t", "fmt", args..)`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::__private::log!(Error, $($arg)+) };
}

/// Logs at [`Level::Warn`].
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::__private::log!(Warn, $($arg)+) };
}

/// Logs at [`Level::Info`].
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::__private::log!(Info, $($arg)+) };
}

/// Logs at [`Level::Debug`].
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::__private::log!(Debug, $($arg)+) };
}

/// Logs at [`Level::Trace`].
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::__private::log!(Trace, $($arg)+) };
}

/// What the macros expand to; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use bpfkit_ebpf_macros::__bpfkit_log as log;
    pub use bpfkit_log_common::{
        text_word_count, text_words, DisplayArg, HexArg, IpArg, Level, LogArg, MacArg,
    };

    use bpfkit_ebpf::maps::RingBufBytes;
    use bpfkit_log_common::{RecordHeader, HEADER_SIZE, RECORD_VERSION};

    /// Whether `level` is at or below the loaded maximum level.
    #[inline(always)]
    pub fn enabled(level: Level) -> bool {
        level as u8 <= super::BPFKIT_LOG_LEVEL.get()
    }

    /// The slot size of an argument's type (a constant after inlining).
    #[inline(always)]
    pub const fn slot_size<T: LogArg + ?Sized>(_: &T) -> usize {
        T::SLOT_SIZE
    }

    /// Offset of the first argument.
    #[inline(always)]
    pub const fn args_offset(target: &str, fmt: &str) -> usize {
        RecordHeader::args_offset(target.len(), fmt.len())
    }

    /// Compile-time check that `{}` can render the argument.
    #[inline(always)]
    pub fn check_display<T: DisplayArg + ?Sized>(_: &T) {}
    /// Compile-time check that `{:x}`/`{:X}` can render the argument.
    #[inline(always)]
    pub fn check_hex<T: HexArg + ?Sized>(_: &T) {}
    /// Compile-time check that `{:i}` can render the argument.
    #[inline(always)]
    pub fn check_ip<T: IpArg + ?Sized>(_: &T) {}
    /// Compile-time check that `{:mac}` can render the argument.
    #[inline(always)]
    pub fn check_mac<T: MacArg + ?Sized>(_: &T) {}

    /// A reserved record being filled; every write is bounds-checked against the
    /// reservation (checks the optimiser removes, since offsets and sizes are constants).
    pub struct Writer {
        entry: RingBufBytes,
        size: usize,
    }

    impl Writer {
        /// Reserves `size` bytes (a constant after inlining) and writes the header and the
        /// packed target and format string (`text`, from [`text_words`]); `None` when the
        /// buffer is full or the record too large.
        #[inline(always)]
        pub fn start<const N: usize>(
            level: Level,
            arg_count: u8,
            target: &'static str,
            fmt: &'static str,
            text: &'static [u64; N],
            line: u32,
            size: usize,
        ) -> Option<Self> {
            if size > u16::MAX as usize
                || target.len() > u8::MAX as usize
                || fmt.len() > u16::MAX as usize
                || HEADER_SIZE + N * 8 > size
            {
                return None;
            }
            let mut entry = super::BPFKIT_LOGS.reserve_bytes(size as u32)?;
            let words = RecordHeader {
                version: RECORD_VERSION,
                level: level as u8,
                arg_count,
                target_len: target.len() as u8,
                fmt_len: fmt.len() as u16,
                record_len: size as u16,
                line,
                reserved: 0,
            }
            .to_words();
            let p = entry.as_mut_ptr().cast::<u64>();
            // SAFETY: the reservation is `size` bytes and 8-aligned (the kernel aligns ring
            // buffer records to 8); header and text end at `16 + 8 * N <= size` (checked).
            unsafe {
                p.write(words[0]);
                p.add(1).write(words[1]);
                let mut i = 0;
                while i < N {
                    p.add(2 + i).write(text[i]);
                    i += 1;
                }
            }
            Some(Self { entry, size })
        }

        /// Writes `value`'s slot at `offset` (a multiple of 8) and returns the next offset.
        #[inline(always)]
        pub fn arg<T: LogArg + ?Sized>(&mut self, offset: usize, value: &T) -> usize {
            let end = offset + T::SLOT_SIZE;
            if end <= self.size && offset % 8 == 0 {
                // SAFETY: `offset..end` lies inside the 8-aligned reservation (checked).
                unsafe { value.write_slot(self.entry.as_mut_ptr().add(offset)) };
            }
            end
        }

        /// Publishes the record.
        #[inline(always)]
        pub fn submit(self) {
            self.entry.submit(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::default_level;

    #[test]
    fn build_time_level_names_map_to_levels() {
        assert_eq!(default_level(None), 3, "info by default");
        assert_eq!(default_level(Some("off")), 0);
        assert_eq!(default_level(Some("error")), 1);
        assert_eq!(default_level(Some("warn")), 2);
        assert_eq!(default_level(Some("debug")), 4);
        assert_eq!(default_level(Some("trace")), 5);
        assert_eq!(
            default_level(Some("loud")),
            3,
            "unknown names keep the default"
        );
    }
}
