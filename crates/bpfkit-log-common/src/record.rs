//! The record header and a safe encoder for building records outside the kernel (tests,
//! replay tools); the eBPF side writes the same layout through [`LogArg::write_slot`].

use crate::args::LogArg;
use crate::{pad8, Level};

/// Current layout version, byte 0 of every record.
pub const RECORD_VERSION: u8 = 1;

/// Size of [`RecordHeader`].
pub const HEADER_SIZE: usize = 16;

/// The first 16 bytes of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct RecordHeader {
    /// [`RECORD_VERSION`].
    pub version: u8,
    /// [`Level`] as `u8`.
    pub level: u8,
    /// Number of arguments.
    pub arg_count: u8,
    /// Length of the target (module path), at most 255.
    pub target_len: u8,
    /// Length of the format string.
    pub fmt_len: u16,
    /// Bytes used by the whole record.
    pub record_len: u16,
    /// Source line of the log call.
    pub line: u32,
    /// Zero.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<RecordHeader>() == HEADER_SIZE);

impl RecordHeader {
    /// Offset of the first argument for these string lengths.
    pub const fn args_offset(target_len: usize, fmt_len: usize) -> usize {
        HEADER_SIZE + pad8(target_len) + pad8(fmt_len)
    }

    /// The header as two native-endian words, for two aligned 8-byte stores.
    #[inline(always)]
    pub const fn to_words(&self) -> [u64; 2] {
        let f = self.fmt_len.to_ne_bytes();
        let r = self.record_len.to_ne_bytes();
        let l = self.line.to_ne_bytes();
        let z = self.reserved.to_ne_bytes();
        [
            u64::from_ne_bytes([
                self.version,
                self.level,
                self.arg_count,
                self.target_len,
                f[0],
                f[1],
                r[0],
                r[1],
            ]),
            u64::from_ne_bytes([l[0], l[1], l[2], l[3], z[0], z[1], z[2], z[3]]),
        ]
    }

    /// The header's bytes (native endian).
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[0] = self.version;
        out[1] = self.level;
        out[2] = self.arg_count;
        out[3] = self.target_len;
        out[4..6].copy_from_slice(&self.fmt_len.to_ne_bytes());
        out[6..8].copy_from_slice(&self.record_len.to_ne_bytes());
        out[8..12].copy_from_slice(&self.line.to_ne_bytes());
        out[12..16].copy_from_slice(&self.reserved.to_ne_bytes());
        out
    }

    /// Parses the first 16 bytes of `bytes`; `None` when shorter.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let b = bytes.get(..HEADER_SIZE)?;
        Some(Self {
            version: b[0],
            level: b[1],
            arg_count: b[2],
            target_len: b[3],
            fmt_len: u16::from_ne_bytes([b[4], b[5]]),
            record_len: u16::from_ne_bytes([b[6], b[7]]),
            line: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            reserved: u32::from_ne_bytes([b[12], b[13], b[14], b[15]]),
        })
    }
}

/// Why [`RecordBuilder`] could not encode a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The buffer is smaller than the record.
    BufferTooSmall {
        /// Bytes the record needs so far.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The target is longer than 255 bytes, the format longer than 65535, or the record
    /// longer than 65535.
    TooLong,
    /// More than 255 arguments.
    TooManyArgs,
    /// `finish` called with an 8-byte-misaligned buffer.
    Misaligned,
}

/// Encodes one record into a caller-provided, 8-byte aligned buffer.
///
/// ```
/// use bpfkit_log_common::{Level, RecordBuilder};
/// let mut buf = [0u64; 32];
/// let bytes = bytemuck_free(&mut buf);
/// let len = RecordBuilder::new(bytes, Level::Info, "demo", "pid {}", 7)
///     .unwrap()
///     .arg(&42u32)
///     .unwrap()
///     .finish();
/// assert_eq!(len, 16 + 8 + 8 + 16);
/// # fn bytemuck_free(words: &mut [u64; 32]) -> &mut [u8] {
/// #     // SAFETY: u64 storage viewed as bytes, same lifetime.
/// #     unsafe { core::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), 256) }
/// # }
/// ```
pub struct RecordBuilder<'a> {
    buf: &'a mut [u8],
    pos: usize,
    header: RecordHeader,
}

impl<'a> RecordBuilder<'a> {
    /// Starts a record: header, target and format string.
    pub fn new(
        buf: &'a mut [u8],
        level: Level,
        target: &str,
        fmt: &str,
        line: u32,
    ) -> Result<Self, EncodeError> {
        if buf.as_ptr() as usize % 8 != 0 {
            return Err(EncodeError::Misaligned);
        }
        let target_len = u8::try_from(target.len()).map_err(|_| EncodeError::TooLong)?;
        let fmt_len = u16::try_from(fmt.len()).map_err(|_| EncodeError::TooLong)?;
        let pos = RecordHeader::args_offset(target.len(), fmt.len());
        if pos > buf.len() {
            return Err(EncodeError::BufferTooSmall {
                needed: pos,
                available: buf.len(),
            });
        }
        buf[..pos].fill(0);
        let t = HEADER_SIZE;
        buf[t..t + target.len()].copy_from_slice(target.as_bytes());
        let f = HEADER_SIZE + pad8(target.len());
        buf[f..f + fmt.len()].copy_from_slice(fmt.as_bytes());
        let header = RecordHeader {
            version: RECORD_VERSION,
            level: level as u8,
            arg_count: 0,
            target_len,
            fmt_len,
            record_len: 0,
            line,
            reserved: 0,
        };
        Ok(Self { buf, pos, header })
    }

    /// Appends one argument.
    pub fn arg<T: LogArg + ?Sized>(mut self, value: &T) -> Result<Self, EncodeError> {
        let end = self.pos + T::SLOT_SIZE;
        if end > self.buf.len() {
            return Err(EncodeError::BufferTooSmall {
                needed: end,
                available: self.buf.len(),
            });
        }
        self.header.arg_count = self
            .header
            .arg_count
            .checked_add(1)
            .ok_or(EncodeError::TooManyArgs)?;
        self.buf[self.pos..end].fill(0);
        // SAFETY: `buf` is 8-aligned (checked in `new`), `pos` is a multiple of 8 and
        // `SLOT_SIZE` bytes from `pos` lie inside `buf` (checked above).
        unsafe { value.write_slot(self.buf.as_mut_ptr().add(self.pos)) };
        self.pos = end;
        Ok(self)
    }

    /// Writes the header and returns the record's length.
    pub fn finish(mut self) -> usize {
        self.header.record_len = u16::try_from(self.pos).unwrap_or(u16::MAX);
        self.buf[..HEADER_SIZE].copy_from_slice(&self.header.to_bytes());
        self.pos
    }
}
