//! [`BtfMut`]: owned, editable BTF in the wire layout, and its writer (`to_bytes`).
//!
//! Types keep their raw fields (string offsets, `info`), so parse → [`BtfMut`] → bytes is
//! byte-identical for BTF with the standard header layout, and rewrites (sanitizing,
//! DATASEC fix-up) keep type ids and existing string offsets, which `.BTF.ext` relies on.

use std::collections::HashMap;

use super::parse::{read_u32, BTF_HEADER_SIZE, BTF_MAGIC, BTF_TYPE_SIZE};
use super::{Btf, BtfError, Kind, TypeId, VarSecinfo};

/// One type record in wire form: the 12-byte common part and its kind-specific tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawType {
    /// Offset of the name in the string table.
    pub name_off: u32,
    /// `info`: kind (bits 24-28), kind_flag (bit 31), vlen (bits 0-15). For kinds with a
    /// list tail the writer replaces vlen with the list length.
    pub info: u32,
    /// `size` or `type`.
    pub size_or_type: u32,
    /// What follows the common part.
    pub data: RawData,
}

/// The kind-specific tail of a [`RawType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawData {
    /// No tail (PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG).
    None,
    /// INT: the encoding word (encoding << 24 | offset << 16 | bits).
    Int(u32),
    /// ARRAY.
    Array {
        /// Element type.
        elem_type: TypeId,
        /// Index type.
        index_type: TypeId,
        /// Element count.
        nelems: u32,
    },
    /// STRUCT / UNION members.
    Members(Vec<RawMember>),
    /// ENUM values.
    Enum(Vec<RawEnumValue>),
    /// FUNC_PROTO parameters.
    Params(Vec<RawParam>),
    /// VAR linkage.
    Var(u32),
    /// DATASEC variables.
    Datasec(Vec<VarSecinfo>),
    /// DECL_TAG component index.
    DeclTag(i32),
    /// ENUM64 values.
    Enum64(Vec<RawEnum64Value>),
}

/// `struct btf_member` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMember {
    /// Name offset.
    pub name_off: u32,
    /// Member type.
    pub type_id: TypeId,
    /// Bit offset, with the bitfield size in bits 24-31 when the kind flag is set.
    pub offset: u32,
}

/// `struct btf_enum` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEnumValue {
    /// Name offset.
    pub name_off: u32,
    /// Value bits.
    pub val: u32,
}

/// `struct btf_param` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawParam {
    /// Name offset.
    pub name_off: u32,
    /// Parameter type.
    pub type_id: TypeId,
}

/// `struct btf_enum64` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEnum64Value {
    /// Name offset.
    pub name_off: u32,
    /// Low 32 bits.
    pub val_lo32: u32,
    /// High 32 bits.
    pub val_hi32: u32,
}

/// Build an `info` word.
pub fn btf_info(kind: Kind, kind_flag: bool, vlen: u16) -> u32 {
    (u32::from(kind_flag) << 31) | ((kind as u32) << 24) | u32::from(vlen)
}

impl RawType {
    /// A record with the given parts.
    pub fn new(kind: Kind, name_off: u32, size_or_type: u32, data: RawData) -> Self {
        let vlen = data.len() as u16;
        RawType {
            name_off,
            info: btf_info(kind, false, vlen),
            size_or_type,
            data,
        }
    }

    /// The kind (kinds this crate doesn't know read as [`Kind::Void`]).
    pub fn kind(&self) -> Kind {
        Kind::from_u8(((self.info >> 24) & 0x1f) as u8).unwrap_or(Kind::Void)
    }

    /// The kind flag.
    pub fn kind_flag(&self) -> bool {
        self.info >> 31 != 0
    }

    /// vlen as stored in `info`.
    pub fn vlen(&self) -> u16 {
        self.info as u16
    }

    /// Replace kind, kind flag and vlen in `info` (other bits are cleared).
    pub fn set_info(&mut self, kind: Kind, kind_flag: bool, vlen: u16) {
        self.info = btf_info(kind, kind_flag, vlen);
    }

    /// Encoded size of this record in bytes.
    pub fn encoded_len(&self) -> usize {
        BTF_TYPE_SIZE + self.data.encoded_len()
    }
}

/// One fixed-size entry of a list tail (member, enumerator, parameter, secinfo), stated once
/// as its u32 words in file order: decoding, encoding and sizing all follow that list.
trait TailRecord: Sized {
    /// Size of one entry in bytes.
    const SIZE: usize;
    /// Reads the entry whose first word is at byte `off`, one word at a time through `rd`.
    fn read(rd: impl Fn(usize) -> u32, off: usize) -> Self;
    /// Passes the entry's words to `w` in file order.
    fn write(&self, w: impl FnMut(u32));
}

/// Implements [`TailRecord`] for a struct whose fields are its u32 words, in file order.
macro_rules! tail_record {
    ($ty:ty { $($field:ident),+ }) => {
        impl TailRecord for $ty {
            const SIZE: usize = 4 * [$(stringify!($field)),+].len();

            fn read(rd: impl Fn(usize) -> u32, off: usize) -> Self {
                let mut words = (off..).step_by(4).map(rd);
                // Struct expression fields are evaluated in the order written.
                Self { $($field: words.next().unwrap_or_default()),+ }
            }

            fn write(&self, mut w: impl FnMut(u32)) {
                $(w(self.$field);)+
            }
        }
    };
}

tail_record!(RawMember {
    name_off,
    type_id,
    offset
});
tail_record!(RawEnumValue { name_off, val });
tail_record!(RawParam { name_off, type_id });
tail_record!(VarSecinfo {
    type_id,
    offset,
    size
});
tail_record!(RawEnum64Value {
    name_off,
    val_lo32,
    val_hi32
});

/// The `n` entries of a list tail starting at byte `start`.
fn read_records<T: TailRecord>(rd: impl Fn(usize) -> u32 + Copy, start: usize, n: usize) -> Vec<T> {
    (0..n).map(|i| T::read(rd, start + T::SIZE * i)).collect()
}

impl RawData {
    /// Number of list entries (the vlen of list kinds), 0 for other tails.
    pub fn len(&self) -> usize {
        match self {
            RawData::Members(v) => v.len(),
            RawData::Enum(v) => v.len(),
            RawData::Params(v) => v.len(),
            RawData::Datasec(v) => v.len(),
            RawData::Enum64(v) => v.len(),
            _ => 0,
        }
    }

    /// Whether the tail has no list entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_list(&self) -> bool {
        matches!(
            self,
            RawData::Members(_)
                | RawData::Enum(_)
                | RawData::Params(_)
                | RawData::Datasec(_)
                | RawData::Enum64(_)
        )
    }

    fn encoded_len(&self) -> usize {
        match self {
            RawData::None => 0,
            RawData::Int(_) | RawData::Var(_) | RawData::DeclTag(_) => 4,
            RawData::Array { .. } => 12,
            RawData::Members(v) => RawMember::SIZE * v.len(),
            RawData::Enum(v) => RawEnumValue::SIZE * v.len(),
            RawData::Params(v) => RawParam::SIZE * v.len(),
            RawData::Datasec(v) => VarSecinfo::SIZE * v.len(),
            RawData::Enum64(v) => RawEnum64Value::SIZE * v.len(),
        }
    }
}

/// Owned, editable BTF: local types in wire form plus the local string section.
///
/// ```
/// use bpfkit_obj::btf::{Btf, BtfMut, Kind, RawData, RawType};
/// let mut b = BtfMut::new();
/// let name = b.add_string("int");
/// let int = b.add_type(RawType::new(Kind::Int, name, 4, RawData::Int(1 << 24 | 32)));
/// let bytes = b.to_bytes().unwrap();
/// let btf = Btf::parse(&bytes).unwrap();
/// assert_eq!(btf.id_by_name_kind("int", Kind::Int), Some(int));
/// ```
#[derive(Debug, Clone)]
pub struct BtfMut {
    big_endian: bool,
    flags: u8,
    first_id: TypeId,
    base_str_len: u32,
    types: Vec<RawType>,
    strings: Vec<u8>,
    string_offsets: Option<HashMap<Vec<u8>, u32>>,
}

impl Default for BtfMut {
    fn default() -> Self {
        Self::new()
    }
}

impl BtfMut {
    /// Empty little-endian base BTF (string table holds just `""`).
    pub fn new() -> Self {
        BtfMut {
            big_endian: false,
            flags: 0,
            first_id: 1,
            base_str_len: 0,
            types: Vec::new(),
            strings: vec![0],
            string_offsets: None,
        }
    }

    /// Copy every local type and the local string section of `btf`. Type ids, string
    /// offsets and byte order are kept; for split BTF the base stays where it is.
    pub fn from_btf(btf: &Btf<'_>) -> Result<Self, BtfError> {
        let data = btf.bytes();
        let be = btf.is_big_endian();
        let rd = |off: usize| read_u32(data, off, be);
        let mut types = Vec::with_capacity(btf.local_ids().len());
        for id in btf.local_ids() {
            let h = btf.type_header(id)?;
            let off = btf.type_offset(id).ok_or(BtfError::UnknownTypeId {
                id,
                last: btf.type_count() - 1,
            })?;
            let info = rd(off + 4);
            let x = off + BTF_TYPE_SIZE;
            let n = usize::from(h.vlen);
            let data = match h.kind {
                Kind::Int => RawData::Int(rd(x)),
                Kind::Var => RawData::Var(rd(x)),
                Kind::DeclTag => RawData::DeclTag(rd(x) as i32),
                Kind::Array => RawData::Array {
                    elem_type: rd(x),
                    index_type: rd(x + 4),
                    nelems: rd(x + 8),
                },
                Kind::Struct | Kind::Union => RawData::Members(read_records(rd, x, n)),
                Kind::Enum => RawData::Enum(read_records(rd, x, n)),
                Kind::FuncProto => RawData::Params(read_records(rd, x, n)),
                Kind::Datasec => RawData::Datasec(read_records(rd, x, n)),
                Kind::Enum64 => RawData::Enum64(read_records(rd, x, n)),
                _ => RawData::None,
            };
            types.push(RawType {
                name_off: h.name_off,
                info,
                size_or_type: h.size_or_type,
                data,
            });
        }
        Ok(BtfMut {
            big_endian: be,
            flags: btf.header().flags,
            first_id: btf.local_ids().start,
            base_str_len: btf.total_str_len() - btf.string_section().len() as u32,
            types,
            strings: btf.string_section().to_vec(),
            string_offsets: None,
        })
    }

    /// Whether [`to_bytes`](Self::to_bytes) writes big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }

    /// Choose the byte order of the output.
    pub fn set_big_endian(&mut self, big_endian: bool) {
        self.big_endian = big_endian;
    }

    /// The id the first local type has (1, or after the base for split BTF).
    pub fn first_id(&self) -> TypeId {
        self.first_id
    }

    /// One past the last type id.
    pub fn type_count(&self) -> TypeId {
        self.first_id + self.types.len() as TypeId
    }

    /// The local types in id order, starting at [`first_id`](Self::first_id).
    pub fn types(&self) -> &[RawType] {
        &self.types
    }

    /// A local type.
    pub fn type_by_id(&self, id: TypeId) -> Option<&RawType> {
        self.types.get(id.checked_sub(self.first_id)? as usize)
    }

    /// A local type, to edit in place.
    pub fn type_mut(&mut self, id: TypeId) -> Option<&mut RawType> {
        self.types.get_mut(id.checked_sub(self.first_id)? as usize)
    }

    /// Append a type; returns its id.
    pub fn add_type(&mut self, t: RawType) -> TypeId {
        self.types.push(t);
        self.type_count() - 1
    }

    /// Append `INT` `name` of `size` bytes (all bits used, at bit offset 0) with
    /// `encoding` ([`IntEncoding`](super::IntEncoding) bits); returns its id.
    pub fn add_int(&mut self, name: &str, size: u32, encoding: u8) -> TypeId {
        let name_off = self.add_string(name);
        let bits = size.saturating_mul(8).min(128);
        let word = (u32::from(encoding) << 24) | bits;
        self.add_type(RawType::new(Kind::Int, name_off, size, RawData::Int(word)))
    }

    /// Append an anonymous `ARRAY` of `nelems` `elem_type` indexed by `index_type`; returns
    /// its id.
    pub fn add_array(&mut self, elem_type: TypeId, index_type: TypeId, nelems: u32) -> TypeId {
        let data = RawData::Array {
            elem_type,
            index_type,
            nelems,
        };
        self.add_type(RawType::new(Kind::Array, 0, 0, data))
    }

    /// Append `STRUCT` `name` of `size` bytes with members `(name, type, bit offset)` (no
    /// bitfields: the kind flag stays clear); returns its id.
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let members = members
            .iter()
            .map(|&(member, type_id, offset)| RawMember {
                name_off: self.add_string(member),
                type_id,
                offset,
            })
            .collect();
        let name_off = self.add_string(name);
        self.add_type(RawType::new(
            Kind::Struct,
            name_off,
            size,
            RawData::Members(members),
        ))
    }

    /// The local string section.
    pub fn string_section(&self) -> &[u8] {
        &self.strings
    }

    /// The string at a (local or, for split BTF, post-base) offset; `None` for offsets in
    /// the base or out of range.
    pub fn string_at(&self, offset: u32) -> Option<&str> {
        let local = offset.checked_sub(self.base_str_len)? as usize;
        let rest = self.strings.get(local..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// Mutable bytes of the string at `offset` (without the NUL), for in-place renames of
    /// the same length.
    pub fn string_bytes_mut(&mut self, offset: u32) -> Option<&mut [u8]> {
        let local = offset.checked_sub(self.base_str_len)? as usize;
        let rest = self.strings.get_mut(local..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        self.string_offsets = None;
        Some(&mut rest[..end])
    }

    /// The offset of `s`, appending it when not present yet. Existing offsets never move.
    pub fn add_string(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let base = self.base_str_len;
        let strings = &self.strings;
        let map = self.string_offsets.get_or_insert_with(|| {
            let mut map = HashMap::new();
            let mut off = 0usize;
            for chunk in strings.split(|&b| b == 0) {
                map.entry(chunk.to_vec()).or_insert(base + off as u32);
                off += chunk.len() + 1;
            }
            map
        });
        if let Some(&off) = map.get(s.as_bytes()) {
            return off;
        }
        let off = base + self.strings.len() as u32;
        map.insert(s.as_bytes().to_vec(), off);
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    /// Serialize: a 24-byte header, the type section, then the string section.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BtfError> {
        let type_len: usize = self.types.iter().map(RawType::encoded_len).sum();
        let str_len = self.strings.len();
        let total = BTF_HEADER_SIZE + type_len + str_len;
        if total > u32::MAX as usize {
            return Err(BtfError::TooLarge {
                what: "BTF",
                size: total,
            });
        }
        let mut out = Vec::with_capacity(total);
        let be = self.big_endian;
        let w = |out: &mut Vec<u8>, v: u32| {
            out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() })
        };
        let magic = if be {
            BTF_MAGIC.to_be_bytes()
        } else {
            BTF_MAGIC.to_le_bytes()
        };
        out.extend_from_slice(&magic);
        out.push(1);
        out.push(self.flags);
        w(&mut out, BTF_HEADER_SIZE as u32);
        w(&mut out, 0);
        w(&mut out, type_len as u32);
        w(&mut out, type_len as u32);
        w(&mut out, str_len as u32);
        for (i, t) in self.types.iter().enumerate() {
            let mut info = t.info;
            if t.data.is_list() {
                let n = t.data.len();
                if n > usize::from(u16::MAX) {
                    return Err(BtfError::TooLarge {
                        what: "vlen of a type",
                        size: n,
                    });
                }
                info = (info & !0xffff) | n as u32;
            }
            let expected = t.kind().extra_size(info as u16);
            if t.kind() == Kind::Void || expected != t.data.encoded_len() {
                return Err(BtfError::WrongKind {
                    id: self.first_id + i as TypeId,
                    actual: t.kind(),
                    expected: "a record whose tail matches its kind",
                });
            }
            w(&mut out, t.name_off);
            w(&mut out, info);
            w(&mut out, t.size_or_type);
            match &t.data {
                RawData::None => {}
                RawData::Int(v) | RawData::Var(v) => w(&mut out, *v),
                RawData::DeclTag(v) => w(&mut out, *v as u32),
                RawData::Array {
                    elem_type,
                    index_type,
                    nelems,
                } => {
                    w(&mut out, *elem_type);
                    w(&mut out, *index_type);
                    w(&mut out, *nelems);
                }
                RawData::Members(v) => v.iter().for_each(|r| r.write(|x| w(&mut out, x))),
                RawData::Enum(v) => v.iter().for_each(|r| r.write(|x| w(&mut out, x))),
                RawData::Params(v) => v.iter().for_each(|r| r.write(|x| w(&mut out, x))),
                RawData::Datasec(v) => v.iter().for_each(|r| r.write(|x| w(&mut out, x))),
                RawData::Enum64(v) => v.iter().for_each(|r| r.write(|x| w(&mut out, x))),
            }
        }
        out.extend_from_slice(&self.strings);
        Ok(out)
    }
}
