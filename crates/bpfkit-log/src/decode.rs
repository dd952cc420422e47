//! Checking and splitting a record into header, strings and typed arguments.

use bpfkit_log_common::{
    pad8, ArgTag, Level, RecordHeader, HEADER_SIZE, RECORD_VERSION, STR_CAPACITY,
};

/// Why a record could not be decoded or rendered; offsets are byte positions in the record.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The record ends before a part it announces.
    #[error("log record truncated: {part} needs bytes {start}..{end}, record has {len}")]
    Truncated {
        /// What was being read.
        part: &'static str,
        /// Start of the part.
        start: usize,
        /// End of the part.
        end: usize,
        /// Bytes available.
        len: usize,
    },
    /// A layout this decoder does not know.
    #[error("log record version {found} is not supported (expected {expected})")]
    Version {
        /// Version in the record.
        found: u8,
        /// Version this crate reads.
        expected: u8,
    },
    /// The level byte is not a level.
    #[error("log record level {value} is not 1 (error) ..= 5 (trace)")]
    Level {
        /// The byte.
        value: u8,
    },
    /// Target or format string is not UTF-8.
    #[error("log record {field} at offset {offset} is not UTF-8")]
    Utf8 {
        /// `target` or `format`.
        field: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// An argument descriptor with an unknown tag.
    #[error("log record argument {index} at offset {offset}: unknown tag {tag}")]
    ArgTag {
        /// Argument index.
        index: usize,
        /// The tag byte.
        tag: u8,
        /// Descriptor offset.
        offset: usize,
    },
    /// An argument whose length does not fit its type.
    #[error("log record argument {index} at offset {offset}: length {len} is invalid for {tag:?}")]
    ArgLength {
        /// Argument index.
        index: usize,
        /// Its tag.
        tag: ArgTag,
        /// The length found.
        len: usize,
        /// Descriptor offset.
        offset: usize,
    },
    /// The format string is invalid.
    #[error("log record format string: {message}")]
    Format {
        /// What is wrong.
        message: String,
    },
    /// Placeholders and arguments do not pair up.
    #[error("log record has {placeholders} placeholders but {args} arguments")]
    ArgCount {
        /// Placeholders in the format string.
        placeholders: usize,
        /// Arguments in the record.
        args: usize,
    },
    /// A placeholder's hint cannot render its argument (e.g. `{:mac}` on an integer).
    #[error("log record argument {index}: {{{hint}}} cannot render {arg}")]
    HintMismatch {
        /// Argument index.
        index: usize,
        /// The placeholder as written.
        hint: &'static str,
        /// The argument's description.
        arg: String,
    },
}

/// One argument of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg<'a> {
    /// An unsigned integer of `size` bytes.
    Unsigned {
        /// The value.
        value: u64,
        /// Original size in bytes.
        size: u8,
    },
    /// A signed integer of `size` bytes.
    Signed {
        /// The value.
        value: i64,
        /// Original size in bytes.
        size: u8,
    },
    /// A `bool`.
    Bool(bool),
    /// A fixed-size byte array.
    Bytes(&'a [u8]),
    /// A runtime string or byte slice (possibly cut at the slot capacity).
    Str(&'a [u8]),
}

/// A decoded record; strings and byte arguments borrow from the record bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Severity.
    pub level: Level,
    /// Module path of the log call in the eBPF crate.
    pub target: &'a str,
    /// Source line of the log call.
    pub line: u32,
    /// The format string as written.
    pub format: &'a str,
    /// The arguments in order.
    pub args: Vec<Arg<'a>>,
}

fn slice<'a>(
    bytes: &'a [u8],
    part: &'static str,
    start: usize,
    len: usize,
) -> Result<&'a [u8], DecodeError> {
    let end = start + len;
    bytes.get(start..end).ok_or(DecodeError::Truncated {
        part,
        start,
        end,
        len: bytes.len(),
    })
}

fn utf8<'a>(bytes: &'a [u8], field: &'static str, offset: usize) -> Result<&'a str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|_| DecodeError::Utf8 { field, offset })
}

/// Decodes one record (one ring buffer entry; trailing bytes beyond `record_len` are ignored).
pub fn decode(bytes: &[u8]) -> Result<Record<'_>, DecodeError> {
    let header = RecordHeader::from_bytes(bytes).ok_or(DecodeError::Truncated {
        part: "header",
        start: 0,
        end: HEADER_SIZE,
        len: bytes.len(),
    })?;
    if header.version != RECORD_VERSION {
        return Err(DecodeError::Version {
            found: header.version,
            expected: RECORD_VERSION,
        });
    }
    let level = Level::from_u8(header.level).ok_or(DecodeError::Level {
        value: header.level,
    })?;
    let record_len = usize::from(header.record_len);
    let bytes = slice(bytes, "record", 0, record_len)?;
    let target_len = usize::from(header.target_len);
    let fmt_len = usize::from(header.fmt_len);
    let target = utf8(
        slice(bytes, "target", HEADER_SIZE, target_len)?,
        "target",
        HEADER_SIZE,
    )?;
    let fmt_at = HEADER_SIZE + pad8(target_len);
    let format = utf8(slice(bytes, "format", fmt_at, fmt_len)?, "format", fmt_at)?;
    let mut offset = RecordHeader::args_offset(target_len, fmt_len);
    let mut args = Vec::with_capacity(usize::from(header.arg_count));
    for index in 0..usize::from(header.arg_count) {
        let desc = slice(bytes, "argument descriptor", offset, 8)?;
        let tag = ArgTag::from_u8(desc[0]).ok_or(DecodeError::ArgTag {
            index,
            tag: desc[0],
            offset,
        })?;
        let len = usize::from(u16::from_ne_bytes([desc[2], desc[3]]));
        let bad_len = DecodeError::ArgLength {
            index,
            tag,
            len,
            offset,
        };
        let payload_at = offset + 8;
        let (arg, capacity) = match tag {
            ArgTag::Unsigned | ArgTag::Signed | ArgTag::Bool => {
                if !matches!(len, 1 | 2 | 4 | 8) || (tag == ArgTag::Bool && len != 1) {
                    return Err(bad_len);
                }
                let raw = slice(bytes, "integer argument", payload_at, 8)?;
                let value = u64::from_ne_bytes(raw.try_into().map_err(|_| bad_len.clone())?);
                let arg = match tag {
                    ArgTag::Unsigned => Arg::Unsigned {
                        value,
                        size: len as u8,
                    },
                    ArgTag::Signed => Arg::Signed {
                        value: value as i64,
                        size: len as u8,
                    },
                    _ => Arg::Bool(value != 0),
                };
                (arg, 8)
            }
            ArgTag::Bytes => (
                Arg::Bytes(slice(bytes, "byte array argument", payload_at, len)?),
                len,
            ),
            ArgTag::Str => {
                if len > STR_CAPACITY {
                    return Err(bad_len);
                }
                (
                    Arg::Str(slice(bytes, "string argument", payload_at, len)?),
                    STR_CAPACITY,
                )
            }
        };
        args.push(arg);
        offset = payload_at + pad8(capacity);
    }
    Ok(Record {
        level,
        target,
        line: header.line,
        format,
        args,
    })
}
