//! Record layout shared by bpfkit-log and bpfkit-log-ebpf.
//!
//! A log record is one ring buffer entry, 8-byte aligned throughout so the eBPF side writes
//! it with a handful of aligned stores at offsets known at compile time:
//!
//! ```text
//! offset 0   RecordHeader (16 bytes): version, level, arg_count, target_len, fmt_len,
//!            record_len, line
//! 16         target (module path), padded to 8
//! ..         format string, padded to 8
//! ..         arg_count arguments, each an 8-byte descriptor (tag, payload length) followed by
//!            its payload padded to 8: integers widened to 64 bits, byte arrays as is,
//!            runtime strings in a fixed STR_CAPACITY slot
//! ```
//!
//! The format string travels as written (`"pid {} from {:i}"`); the reader renders it with
//! [`format::Parser`], the same parser the `info!`… macros use to check it at compile time.
#![no_std]
#![deny(missing_docs)]

pub mod args;
pub mod format;
pub mod record;

pub use args::{descriptor, ArgTag, DisplayArg, HexArg, IpArg, LogArg, MacArg, STR_CAPACITY};
pub use format::FormatError;
pub use format::{Hint, Parser, Piece};
pub use record::{EncodeError, RecordBuilder, RecordHeader, HEADER_SIZE, RECORD_VERSION};

/// Severity of a record, most severe first (the `log` crate's order and numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Errors.
    Error = 1,
    /// Warnings.
    Warn = 2,
    /// Information.
    Info = 3,
    /// Debugging detail.
    Debug = 4,
    /// Very verbose detail.
    Trace = 5,
}

impl Level {
    /// The level encoded as `value`, `None` for anything else.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            5 => Level::Trace,
            _ => return None,
        })
    }
}

/// `value` rounded up to a multiple of 8.
#[inline(always)]
pub const fn pad8(value: usize) -> usize {
    (value + 7) & !7
}

/// Number of 8-byte words that hold `target` and `fmt`, each padded to 8.
pub const fn text_word_count(target: &str, fmt: &str) -> usize {
    (pad8(target.len()) + pad8(fmt.len())) / 8
}

/// `target` then `fmt`, each zero-padded to 8 bytes, as native-endian words: what follows
/// the header of a record. Evaluated at compile time by the log macros.
pub const fn text_words<const N: usize>(target: &str, fmt: &str) -> [u64; N] {
    let (t, f) = (target.as_bytes(), fmt.as_bytes());
    let fmt_at = pad8(t.len());
    let mut words = [0u64; N];
    let mut w = 0;
    while w < N {
        let mut bytes = [0u8; 8];
        let mut j = 0;
        while j < 8 {
            let i = w * 8 + j;
            bytes[j] = if i < t.len() {
                t[i]
            } else if i >= fmt_at && i - fmt_at < f.len() {
                f[i - fmt_at]
            } else {
                0
            };
            j += 1;
        }
        words[w] = u64::from_ne_bytes(bytes);
        w += 1;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_words_pack_target_then_format_each_padded_to_8() {
        const N: usize = text_word_count("net", "pid {} x");
        assert_eq!(N, 2);
        let words: [u64; N] = text_words("net", "pid {} x");
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&words[0].to_ne_bytes());
        bytes[8..].copy_from_slice(&words[1].to_ne_bytes());
        assert_eq!(&bytes, b"net\0\0\0\0\0pid {} x");
    }

    #[test]
    fn header_words_and_bytes_agree() {
        let header = RecordHeader {
            version: RECORD_VERSION,
            level: Level::Debug as u8,
            arg_count: 2,
            target_len: 9,
            fmt_len: 300,
            record_len: 512,
            line: 77,
            reserved: 0,
        };
        let words = header.to_words();
        let mut from_words = [0u8; 16];
        from_words[..8].copy_from_slice(&words[0].to_ne_bytes());
        from_words[8..].copy_from_slice(&words[1].to_ne_bytes());
        assert_eq!(from_words, header.to_bytes());
        assert_eq!(RecordHeader::from_bytes(&from_words), Some(header));
    }

    #[test]
    fn levels_round_trip_and_reject_others() {
        for level in [
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
            Level::Trace,
        ] {
            assert_eq!(Level::from_u8(level as u8), Some(level));
        }
        assert_eq!(Level::from_u8(0), None);
        assert_eq!(Level::from_u8(6), None);
    }
}
