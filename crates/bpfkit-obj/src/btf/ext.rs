//! `.BTF.ext`: per-section func_info, line_info and CO-RE relocation records; parse and write.
//!
//! Names and access strings are offsets into the string table of the matching `.BTF`;
//! resolve them with [`Btf::string_at`](super::Btf::string_at).

use core::fmt;

use super::parse::read_u32;
use super::{Btf, BtfError, TypeId};

/// `.BTF.ext` magic (same as BTF's).
pub const BTF_EXT_MAGIC: u16 = 0xeb9f;
/// Header size up to `line_info_len`.
pub const BTF_EXT_HEADER_MIN: usize = 24;
/// Header size including `core_relo_off`/`core_relo_len`.
pub const BTF_EXT_HEADER_CORE: usize = 32;

/// Why `.BTF.ext` bytes are malformed. Offsets count from the first header byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BtfExtError {
    /// Shorter than the header.
    #[error(".BTF.ext is {len} bytes, shorter than its {needed}-byte header")]
    TruncatedHeader {
        /// Input length.
        len: usize,
        /// Needed length.
        needed: usize,
    },
    /// Wrong magic.
    #[error("bad .BTF.ext magic {magic:#06x} at offset 0")]
    BadMagic {
        /// The magic read little-endian.
        magic: u16,
    },
    /// Wrong version.
    #[error("unsupported .BTF.ext version {version} at offset 2")]
    UnsupportedVersion {
        /// The version.
        version: u8,
    },
    /// `hdr_len` is out of range.
    #[error(".BTF.ext header length {hdr_len} is invalid for a {len}-byte section")]
    BadHeaderLength {
        /// The header's length.
        hdr_len: u32,
        /// Input length.
        len: usize,
    },
    /// An info block does not lie inside the section.
    #[error(
        ".BTF.ext {info}: block at offset {offset} ({size} bytes) exceeds the {len}-byte section"
    )]
    BlockOutOfBounds {
        /// `func_info`, `line_info` or `core_relo`.
        info: &'static str,
        /// Absolute offset.
        offset: usize,
        /// Block size.
        size: u32,
        /// Input length.
        len: usize,
    },
    /// A record size smaller than the record or not a multiple of 4.
    #[error(
        ".BTF.ext {info}: record size {rec_size} at offset {offset} is invalid (minimum {min})"
    )]
    BadRecordSize {
        /// Which info.
        info: &'static str,
        /// Absolute offset of the size field.
        offset: usize,
        /// The record size.
        rec_size: u32,
        /// The smallest valid size.
        min: usize,
    },
    /// A per-section header or its records run past the block.
    #[error(".BTF.ext {info}: section at offset {offset} with {num_info} records runs past the block end {end}")]
    TruncatedSection {
        /// Which info.
        info: &'static str,
        /// Absolute offset of the per-section header.
        offset: usize,
        /// Its record count.
        num_info: u32,
        /// Block end.
        end: usize,
    },
    /// A per-section header claims zero records.
    #[error(".BTF.ext {info}: section at offset {offset} has no records")]
    EmptySection {
        /// Which info.
        info: &'static str,
        /// Absolute offset of the per-section header.
        offset: usize,
    },
    /// A CO-RE relocation kind this crate does not know.
    #[error(".BTF.ext core_relo: record at offset {offset} has unknown kind {kind}")]
    UnknownCoreReloKind {
        /// Absolute offset of the record.
        offset: usize,
        /// The raw kind.
        kind: u32,
    },
    /// The output is too large for the format.
    #[error(".BTF.ext output too large ({size} bytes)")]
    TooLarge {
        /// Size.
        size: usize,
    },
}

/// `enum bpf_core_relo_kind`: what a CO-RE relocation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum CoreReloKind {
    /// Field byte offset.
    #[doc(alias = "BPF_CORE_FIELD_BYTE_OFFSET")]
    FieldByteOffset = 0,
    /// Field size in bytes.
    #[doc(alias = "BPF_CORE_FIELD_BYTE_SIZE")]
    FieldByteSize = 1,
    /// Field exists in target kernel.
    #[doc(alias = "BPF_CORE_FIELD_EXISTS")]
    FieldExists = 2,
    /// Field signedness (0 - unsigned, 1 - signed).
    #[doc(alias = "BPF_CORE_FIELD_SIGNED")]
    FieldSigned = 3,
    /// Bitfield-specific left bitshift.
    #[doc(alias = "BPF_CORE_FIELD_LSHIFT_U64")]
    FieldLshiftU64 = 4,
    /// Bitfield-specific right bitshift.
    #[doc(alias = "BPF_CORE_FIELD_RSHIFT_U64")]
    FieldRshiftU64 = 5,
    /// Type ID in local BPF object.
    #[doc(alias = "BPF_CORE_TYPE_ID_LOCAL")]
    TypeIdLocal = 6,
    /// Type ID in target kernel.
    #[doc(alias = "BPF_CORE_TYPE_ID_TARGET")]
    TypeIdTarget = 7,
    /// Type exists in target kernel.
    #[doc(alias = "BPF_CORE_TYPE_EXISTS")]
    TypeExists = 8,
    /// Type size in bytes.
    #[doc(alias = "BPF_CORE_TYPE_SIZE")]
    TypeSize = 9,
    /// Enum value exists in target kernel.
    #[doc(alias = "BPF_CORE_ENUMVAL_EXISTS")]
    EnumvalExists = 10,
    /// Enum value integer value.
    #[doc(alias = "BPF_CORE_ENUMVAL_VALUE")]
    EnumvalValue = 11,
    /// Type matches target kernel type.
    #[doc(alias = "BPF_CORE_TYPE_MATCHES")]
    TypeMatches = 12,
}

impl CoreReloKind {
    /// Every kind in numeric order.
    pub const ALL: [CoreReloKind; 13] = [
        CoreReloKind::FieldByteOffset,
        CoreReloKind::FieldByteSize,
        CoreReloKind::FieldExists,
        CoreReloKind::FieldSigned,
        CoreReloKind::FieldLshiftU64,
        CoreReloKind::FieldRshiftU64,
        CoreReloKind::TypeIdLocal,
        CoreReloKind::TypeIdTarget,
        CoreReloKind::TypeExists,
        CoreReloKind::TypeSize,
        CoreReloKind::EnumvalExists,
        CoreReloKind::EnumvalValue,
        CoreReloKind::TypeMatches,
    ];

    /// From the raw value.
    pub fn from_u32(raw: u32) -> Option<Self> {
        Self::ALL.get(raw as usize).copied()
    }

    /// libbpf's name for the kind (`"byte_off"`, `"type_matches"`, ...), as in its logs.
    pub fn name(self) -> &'static str {
        match self {
            CoreReloKind::FieldByteOffset => "byte_off",
            CoreReloKind::FieldByteSize => "byte_sz",
            CoreReloKind::FieldExists => "field_exists",
            CoreReloKind::FieldSigned => "signed",
            CoreReloKind::FieldLshiftU64 => "lshift_u64",
            CoreReloKind::FieldRshiftU64 => "rshift_u64",
            CoreReloKind::TypeIdLocal => "local_type_id",
            CoreReloKind::TypeIdTarget => "target_type_id",
            CoreReloKind::TypeExists => "type_exists",
            CoreReloKind::TypeSize => "type_size",
            CoreReloKind::EnumvalExists => "enumval_exists",
            CoreReloKind::EnumvalValue => "enumval_value",
            CoreReloKind::TypeMatches => "type_matches",
        }
    }

    /// Whether this kind is about a field (needs an access path into a struct/union).
    pub fn is_field_based(self) -> bool {
        (self as u32) <= CoreReloKind::FieldRshiftU64 as u32
    }

    /// Whether this kind is about a whole type.
    pub fn is_type_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::TypeIdLocal
                | CoreReloKind::TypeIdTarget
                | CoreReloKind::TypeExists
                | CoreReloKind::TypeSize
                | CoreReloKind::TypeMatches
        )
    }

    /// Whether this kind is about an enumerator.
    pub fn is_enumval_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }
}

impl fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `struct bpf_func_info`: the BTF FUNC of the function starting at `insn_off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset of the function's first instruction in its ELF section.
    pub insn_off: u32,
    /// The `FUNC` type.
    pub type_id: TypeId,
}

/// `struct bpf_line_info`: source position of the instruction at `insn_off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset of the instruction in its ELF section.
    pub insn_off: u32,
    /// String offset of the file name.
    pub file_name_off: u32,
    /// String offset of the source line text.
    pub line_off: u32,
    /// Line number << 10 | column.
    pub line_col: u32,
}

impl LineInfo {
    /// The line number.
    pub fn line(&self) -> u32 {
        self.line_col >> 10
    }
    /// The column.
    pub fn column(&self) -> u32 {
        self.line_col & 0x3ff
    }
}

/// `struct bpf_core_relo`: one CO-RE relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the instruction to patch in its ELF section.
    pub insn_off: u32,
    /// The local root type.
    pub type_id: TypeId,
    /// String offset of the access string (`"0:1:2"`).
    pub access_str_off: u32,
    /// What to compute.
    pub kind: CoreReloKind,
}

/// The records of one ELF section (program section) in an info block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtSection<T> {
    /// String offset of the ELF section name.
    pub sec_name_off: u32,
    /// The records.
    pub records: Vec<T>,
    /// Bytes past the known record layout when `rec_size` is larger (kept for writing).
    pub record_tails: Vec<u8>,
}

impl<T> ExtSection<T> {
    /// The section name, from the `.BTF` string table.
    pub fn name<'b>(&self, btf: &'b Btf<'_>) -> Result<&'b str, BtfError> {
        btf.string_at(self.sec_name_off)
    }
}

/// One info block: record size and the per-section records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoBlock<T> {
    /// Size of each record as stored (at least the known layout).
    pub rec_size: u32,
    /// Per-section records in file order.
    pub sections: Vec<ExtSection<T>>,
}

impl<T> InfoBlock<T> {
    fn empty(rec_size: u32) -> Self {
        InfoBlock {
            rec_size,
            sections: Vec::new(),
        }
    }

    /// Records of the ELF section whose name is at `sec_name_off`.
    pub fn section(&self, sec_name_off: u32) -> Option<&ExtSection<T>> {
        self.sections
            .iter()
            .find(|s| s.sec_name_off == sec_name_off)
    }

    /// Total number of records over all sections.
    pub fn len(&self) -> usize {
        self.sections.iter().map(|s| s.records.len()).sum()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A parsed `.BTF.ext` section.
///
/// ```no_run
/// # fn f(ext_bytes: &[u8], btf: &bpfkit_obj::btf::Btf<'_>) -> Result<(), Box<dyn std::error::Error>> {
/// use bpfkit_obj::btf::BtfExt;
/// let ext = BtfExt::parse(ext_bytes)?;
/// for sec in &ext.core_relo.sections {
///     for r in &sec.records {
///         println!("{} +{}: {} of [{}] '{}'", sec.name(btf)?, r.insn_off, r.kind,
///                  r.type_id, btf.string_at(r.access_str_off)?);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfExt {
    /// Byte order.
    pub big_endian: bool,
    /// Header flags.
    pub flags: u8,
    /// Header length as stored (24 without CO-RE fields, 32 with).
    pub hdr_len: u32,
    /// Header bytes past the fields this crate knows (clang 9 wrote 40-byte headers),
    /// kept verbatim for writing.
    pub header_extra: Vec<u8>,
    /// Function info.
    pub func_info: InfoBlock<FuncInfo>,
    /// Line info.
    pub line_info: InfoBlock<LineInfo>,
    /// CO-RE relocations (empty when the header has no CO-RE fields).
    pub core_relo: InfoBlock<CoreRelo>,
}

const FUNC_INFO_SIZE: usize = 8;
const LINE_INFO_SIZE: usize = 16;
const CORE_RELO_SIZE: usize = 16;

struct Reader<'d> {
    data: &'d [u8],
    be: bool,
}

impl Reader<'_> {
    fn u32(&self, off: usize) -> u32 {
        read_u32(self.data, off, self.be)
    }

    /// Parse one info block at [start, start+len) with `decode(record_offset)`.
    fn block<T>(
        &self,
        info: &'static str,
        start: usize,
        len: u32,
        min: usize,
        mut decode: impl FnMut(usize) -> Result<T, BtfExtError>,
    ) -> Result<InfoBlock<T>, BtfExtError> {
        if len == 0 {
            return Ok(InfoBlock::empty(min as u32));
        }
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= self.data.len() && len >= 4)
            .ok_or(BtfExtError::BlockOutOfBounds {
                info,
                offset: start,
                size: len,
                len: self.data.len(),
            })?;
        let rec_size = self.u32(start);
        if (rec_size as usize) < min || rec_size % 4 != 0 {
            return Err(BtfExtError::BadRecordSize {
                info,
                offset: start,
                rec_size,
                min,
            });
        }
        let rec = rec_size as usize;
        let mut sections = Vec::new();
        let mut off = start + 4;
        while off < end {
            if end - off < 8 {
                return Err(BtfExtError::TruncatedSection {
                    info,
                    offset: off,
                    num_info: 0,
                    end,
                });
            }
            let sec_name_off = self.u32(off);
            let num_info = self.u32(off + 4);
            if num_info == 0 {
                return Err(BtfExtError::EmptySection { info, offset: off });
            }
            let body = (num_info as usize)
                .checked_mul(rec)
                .filter(|&b| b <= end - off - 8)
                .ok_or(BtfExtError::TruncatedSection {
                    info,
                    offset: off,
                    num_info,
                    end,
                })?;
            let mut records = Vec::with_capacity(num_info as usize);
            let mut record_tails = Vec::new();
            for i in 0..num_info as usize {
                let r = off + 8 + i * rec;
                records.push(decode(r)?);
                record_tails.extend_from_slice(&self.data[r + min..r + rec]);
            }
            sections.push(ExtSection {
                sec_name_off,
                records,
                record_tails,
            });
            off += 8 + body;
        }
        Ok(InfoBlock { rec_size, sections })
    }
}

impl BtfExt {
    /// Parse `.BTF.ext` bytes.
    pub fn parse(data: &[u8]) -> Result<BtfExt, BtfExtError> {
        if data.len() < BTF_EXT_HEADER_MIN {
            return Err(BtfExtError::TruncatedHeader {
                len: data.len(),
                needed: BTF_EXT_HEADER_MIN,
            });
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        let be = match magic {
            BTF_EXT_MAGIC => false,
            m if m == BTF_EXT_MAGIC.swap_bytes() => true,
            m => return Err(BtfExtError::BadMagic { magic: m }),
        };
        if data[2] != 1 {
            return Err(BtfExtError::UnsupportedVersion { version: data[2] });
        }
        let r = Reader { data, be };
        let hdr_len = r.u32(4);
        let h = hdr_len as usize;
        if h < BTF_EXT_HEADER_MIN || h > data.len() || h % 4 != 0 {
            return Err(BtfExtError::BadHeaderLength {
                hdr_len,
                len: data.len(),
            });
        }
        let at = |off: u32| h.saturating_add(off as usize);
        let func_info = r.block("func_info", at(r.u32(8)), r.u32(12), FUNC_INFO_SIZE, |o| {
            Ok(FuncInfo {
                insn_off: r.u32(o),
                type_id: r.u32(o + 4),
            })
        })?;
        let line_info = r.block("line_info", at(r.u32(16)), r.u32(20), LINE_INFO_SIZE, |o| {
            Ok(LineInfo {
                insn_off: r.u32(o),
                file_name_off: r.u32(o + 4),
                line_off: r.u32(o + 8),
                line_col: r.u32(o + 12),
            })
        })?;
        let core_relo = if h >= BTF_EXT_HEADER_CORE {
            r.block("core_relo", at(r.u32(24)), r.u32(28), CORE_RELO_SIZE, |o| {
                let kind = r.u32(o + 12);
                Ok(CoreRelo {
                    insn_off: r.u32(o),
                    type_id: r.u32(o + 4),
                    access_str_off: r.u32(o + 8),
                    kind: CoreReloKind::from_u32(kind)
                        .ok_or(BtfExtError::UnknownCoreReloKind { offset: o, kind })?,
                })
            })?
        } else {
            InfoBlock::empty(CORE_RELO_SIZE as u32)
        };
        Ok(BtfExt {
            big_endian: be,
            flags: data[3],
            hdr_len,
            header_extra: data[h.min(BTF_EXT_HEADER_CORE)..h].to_vec(),
            func_info,
            line_info,
            core_relo,
        })
    }

    /// Serialize: the header (`hdr_len` bytes, at least 32 when there are CO-RE
    /// relocations), then func_info, line_info and core_relo blocks back to back.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BtfExtError> {
        let be = self.big_endian;
        let w = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() })
        };
        fn block<T>(
            b: &InfoBlock<T>,
            min: usize,
            w: &dyn Fn(&mut Vec<u8>, u32),
            rec: &dyn Fn(&mut Vec<u8>, &T),
        ) -> Vec<u8> {
            let mut out = Vec::new();
            if b.sections.is_empty() {
                return out;
            }
            let tail = (b.rec_size as usize).saturating_sub(min);
            w(&mut out, b.rec_size.max(min as u32));
            for s in &b.sections {
                w(&mut out, s.sec_name_off);
                w(&mut out, s.records.len() as u32);
                for (i, r) in s.records.iter().enumerate() {
                    rec(&mut out, r);
                    match s.record_tails.get(i * tail..(i + 1) * tail) {
                        Some(t) => out.extend_from_slice(t),
                        None => out.resize(out.len() + tail, 0),
                    }
                }
            }
            out
        }
        let func = block(&self.func_info, FUNC_INFO_SIZE, &w, &|o, r: &FuncInfo| {
            w(o, r.insn_off);
            w(o, r.type_id);
        });
        let line = block(&self.line_info, LINE_INFO_SIZE, &w, &|o, r: &LineInfo| {
            w(o, r.insn_off);
            w(o, r.file_name_off);
            w(o, r.line_off);
            w(o, r.line_col);
        });
        let core = block(&self.core_relo, CORE_RELO_SIZE, &w, &|o, r: &CoreRelo| {
            w(o, r.insn_off);
            w(o, r.type_id);
            w(o, r.access_str_off);
            w(o, r.kind as u32);
        });
        let mut hdr_len = (self.hdr_len as usize).max(BTF_EXT_HEADER_MIN) & !3;
        if !core.is_empty() {
            hdr_len = hdr_len.max(BTF_EXT_HEADER_CORE);
        }
        let total = hdr_len + func.len() + line.len() + core.len();
        if total > u32::MAX as usize {
            return Err(BtfExtError::TooLarge { size: total });
        }
        let mut out = Vec::with_capacity(total);
        let magic = if be {
            BTF_EXT_MAGIC.to_be_bytes()
        } else {
            BTF_EXT_MAGIC.to_le_bytes()
        };
        out.extend_from_slice(&magic);
        out.push(1);
        out.push(self.flags);
        w(&mut out, hdr_len as u32);
        w(&mut out, 0);
        w(&mut out, func.len() as u32);
        w(&mut out, func.len() as u32);
        w(&mut out, line.len() as u32);
        if hdr_len >= BTF_EXT_HEADER_CORE {
            w(&mut out, (func.len() + line.len()) as u32);
            w(&mut out, core.len() as u32);
        }
        if out.len() < hdr_len {
            out.extend_from_slice(&self.header_extra);
        }
        out.resize(hdr_len, 0);
        out.extend_from_slice(&func);
        out.extend_from_slice(&line);
        out.extend_from_slice(&core);
        Ok(out)
    }
}
