//! Errors of BTF and `.BTF.ext` parsing, lookup and rewriting.

use super::{Kind, TypeId};

/// Everything that can be wrong with BTF bytes or a request against them.
///
/// Byte offsets are counted from the first byte of the BTF blob (its header), so an
/// error can be matched with a hex dump of the `.BTF` section or the raw file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BtfError {
    /// The blob is shorter than the fixed part of the header.
    #[error("BTF is {len} bytes, shorter than the {needed}-byte header")]
    TruncatedHeader {
        /// Length of the input.
        len: usize,
        /// Bytes the header needs.
        needed: usize,
    },
    /// The first two bytes are not 0xeB9F in either byte order.
    #[error("bad BTF magic {magic:#06x} at offset 0, expected 0xeb9f")]
    BadMagic {
        /// The magic as read little-endian.
        magic: u16,
    },
    /// Only BTF version 1 exists.
    #[error("unsupported BTF version {version} at offset 2, expected 1")]
    UnsupportedVersion {
        /// The version byte.
        version: u8,
    },
    /// `hdr_len` is smaller than the header or past the end of the blob.
    #[error("BTF header length {hdr_len} at offset 4 is invalid for a {len}-byte blob")]
    BadHeaderLength {
        /// The header's `hdr_len`.
        hdr_len: u32,
        /// Length of the input.
        len: usize,
    },
    /// The type or string section does not lie inside the blob.
    #[error("BTF {section} section (offset {offset}, {size} bytes after the header) exceeds the {len}-byte blob")]
    SectionOutOfBounds {
        /// `"type"` or `"string"`.
        section: &'static str,
        /// Offset from the end of the header, as stored.
        offset: u32,
        /// Size as stored.
        size: u32,
        /// Length of the input.
        len: usize,
    },
    /// The string section must start and end with a NUL byte.
    #[error(
        "BTF string section at offset {offset} ({size} bytes) does not start and end with NUL"
    )]
    BadStringSection {
        /// Byte offset of the string section.
        offset: usize,
        /// Its size.
        size: usize,
    },
    /// A type record runs past the end of the type section.
    #[error("BTF type [{id}] at offset {offset} needs {needed} bytes but the type section ends at {end}")]
    TruncatedType {
        /// The id the record would have.
        id: TypeId,
        /// Byte offset of the record.
        offset: usize,
        /// Bytes the record needs.
        needed: usize,
        /// Byte offset where the type section ends.
        end: usize,
    },
    /// A type record has a kind number this crate does not know.
    #[error("BTF type [{id}] at offset {offset} has unknown kind {kind}")]
    UnknownKind {
        /// The type's id.
        id: TypeId,
        /// Byte offset of the record.
        offset: usize,
        /// The raw kind number.
        kind: u8,
    },
    /// A type id is neither void nor one of the types in this BTF (or its base).
    #[error("BTF type id {id} does not exist (last id is {last})")]
    UnknownTypeId {
        /// The requested id.
        id: TypeId,
        /// The largest valid id.
        last: TypeId,
    },
    /// A name offset points outside the string section.
    #[error("BTF string offset {offset} is outside the {size}-byte string section")]
    StringOutOfBounds {
        /// The string offset.
        offset: u32,
        /// Size of the string section(s).
        size: usize,
    },
    /// A string runs to the end of the section without a NUL.
    #[error("BTF string at offset {offset} is not NUL-terminated")]
    UnterminatedString {
        /// The string offset.
        offset: u32,
    },
    /// A string is not valid UTF-8.
    #[error("BTF string at offset {offset} is not valid UTF-8")]
    InvalidUtf8 {
        /// The string offset.
        offset: u32,
    },
    /// Following modifiers, typedefs or array elements did not end (a cycle, or absurdly deep).
    #[error("BTF type [{id}]: chain of referenced types is longer than {limit} (a loop?)")]
    ReferenceLoop {
        /// Where the walk started.
        id: TypeId,
        /// The depth limit.
        limit: usize,
    },
    /// The type has no size (function, forward declaration, void, ...).
    #[error("BTF type [{id}] of kind {kind} has no size")]
    Unsized {
        /// The type's id.
        id: TypeId,
        /// Its kind.
        kind: Kind,
    },
    /// A size computation overflowed (e.g. a huge array).
    #[error("BTF type [{id}]: size overflows")]
    SizeOverflow {
        /// The type's id.
        id: TypeId,
    },
    /// A type was asked to be something it is not.
    #[error("BTF type [{id}] is a {actual}, expected {expected}")]
    WrongKind {
        /// The type's id.
        id: TypeId,
        /// What it is.
        actual: Kind,
        /// What the caller needed.
        expected: &'static str,
    },
    /// Split BTF was given to a function that needs the base, or the reverse.
    #[error("split BTF: {reason}")]
    Split {
        /// What is wrong.
        reason: &'static str,
    },
    /// The BTF is too large for the 32-bit fields of the format.
    #[error("BTF {what} is too large ({size} bytes) for the format's 32-bit fields")]
    TooLarge {
        /// Which part.
        what: &'static str,
        /// Its size.
        size: usize,
    },
    /// A type record's name (or a member, enumerator or parameter name) is a bad string.
    #[error("BTF type [{id}] at offset {offset}")]
    BadTypeString {
        /// The type's id.
        id: TypeId,
        /// Byte offset of the type record.
        offset: usize,
        /// What is wrong with the string.
        source: Box<BtfError>,
    },
}
