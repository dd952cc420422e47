//! [`BtfMut`]: the one owned, editable BTF: wire-layout storage, builders, its writer
//! (`to_bytes`), and the same borrowed [`Type`] view as parsed BTF.
//!
//! Types keep their raw fields (string offsets, `info`), so parse → [`BtfMut`] → bytes is
//! byte-identical for BTF with the standard header layout, and rewrites (sanitizing,
//! DATASEC fix-up) keep type ids and existing string offsets, which `.BTF.ext` relies on.
//! The raw records are private to the `btf` module; callers build with the `add_*`
//! methods and read through [`BtfMut::type_by_id`].

use std::collections::HashMap;
use std::sync::OnceLock;

use super::parse::{read_u32, BTF_HEADER_SIZE, BTF_MAGIC, BTF_TYPE_SIZE};
use super::{Btf, BtfError, FuncLinkage, Kind, Type, TypeId, VarLinkage, VarSecinfo};

/// One type record in wire form: the 12-byte common part and its kind-specific tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawType {
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
pub(crate) enum RawData {
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
pub(crate) struct RawMember {
    /// Name offset.
    pub name_off: u32,
    /// Member type.
    pub type_id: TypeId,
    /// Bit offset, with the bitfield size in bits 24-31 when the kind flag is set.
    pub offset: u32,
}

/// `struct btf_enum` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawEnumValue {
    /// Name offset.
    pub name_off: u32,
    /// Value bits.
    pub val: u32,
}

/// `struct btf_param` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawParam {
    /// Name offset.
    pub name_off: u32,
    /// Parameter type.
    pub type_id: TypeId,
}

/// `struct btf_enum64` as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawEnum64Value {
    /// Name offset.
    pub name_off: u32,
    /// Low 32 bits.
    pub val_lo32: u32,
    /// High 32 bits.
    pub val_hi32: u32,
}

/// Build an `info` word.
pub(crate) fn btf_info(kind: Kind, kind_flag: bool, vlen: u16) -> u32 {
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
/// use bpfkit_obj::btf::{Btf, BtfMut, IntEncoding, Kind, Type};
/// let mut b = BtfMut::new();
/// let int = b.add_int("int", 4, IntEncoding::SIGNED);
/// let ptr = b.add_ptr(int);
/// assert!(matches!(b.type_by_id(ptr), Some(Type::Ptr(p)) if p.target == int));
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
    view: View,
}

/// The types encoded and parsed once, on the first read after a change.
#[derive(Default)]
struct View(OnceLock<Option<Btf<'static>>>);

impl Clone for View {
    fn clone(&self) -> Self {
        View::default()
    }
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("View")
    }
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
            view: View::default(),
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
            view: View::default(),
        })
    }

    /// Whether [`to_bytes`](Self::to_bytes) writes big-endian.
    pub fn is_big_endian(&self) -> bool {
        self.big_endian
    }

    /// Choose the byte order of the output.
    pub fn set_big_endian(&mut self, big_endian: bool) {
        self.view = View::default();
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

    /// The types as a parsed [`Btf`], encoded and parsed on the first call after a change.
    /// `None` for split BTF (its base is not held here) or types that do not encode.
    pub fn as_btf(&self) -> Option<&Btf<'static>> {
        if self.first_id != 1 {
            return None;
        }
        self.view
            .0
            .get_or_init(|| Btf::parse_owned(self.to_bytes().ok()?).ok())
            .as_ref()
    }

    /// Type `id` (0 is void), through the same view as parsed BTF; `None` when the id
    /// does not exist or the BTF is split (see [`as_btf`](Self::as_btf)).
    pub fn type_by_id(&self, id: TypeId) -> Option<Type<'_>> {
        self.as_btf()?.type_by_id(id).ok()
    }

    /// The stored record of a local type.
    pub(crate) fn raw(&self, id: TypeId) -> Option<&RawType> {
        self.types.get(id.checked_sub(self.first_id)? as usize)
    }

    /// The stored record of a local type, to edit in place.
    pub(crate) fn raw_mut(&mut self, id: TypeId) -> Option<&mut RawType> {
        self.view = View::default();
        self.types.get_mut(id.checked_sub(self.first_id)? as usize)
    }

    /// Append a record; returns its id.
    pub(crate) fn add_type(&mut self, t: RawType) -> TypeId {
        self.view = View::default();
        self.types.push(t);
        self.type_count() - 1
    }

    /// Append a record named `name`; returns its id.
    fn add_named(&mut self, kind: Kind, name: &str, size_or_type: u32, data: RawData) -> TypeId {
        let name_off = self.add_string(name);
        self.add_type(RawType::new(kind, name_off, size_or_type, data))
    }

    /// Append `FLOAT` `name` of `size` bytes; returns its id.
    pub fn add_float(&mut self, name: &str, size: u32) -> TypeId {
        self.add_named(Kind::Float, name, size, RawData::None)
    }

    /// Append an anonymous `PTR` to `target`; returns its id.
    pub fn add_ptr(&mut self, target: TypeId) -> TypeId {
        self.add_named(Kind::Ptr, "", target, RawData::None)
    }

    /// Append `TYPEDEF` `name` of `target`; returns its id.
    pub fn add_typedef(&mut self, name: &str, target: TypeId) -> TypeId {
        self.add_named(Kind::Typedef, name, target, RawData::None)
    }

    /// Append a `TYPEDEF` `name`, or a `CONST`, `VOLATILE`, `RESTRICT` or `TYPE_TAG` (with
    /// the tag as `name`), of `target`; returns its id, `None` for any other kind.
    pub fn add_reference(&mut self, kind: Kind, name: &str, target: TypeId) -> Option<TypeId> {
        matches!(
            kind,
            Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag
        )
        .then(|| self.add_named(kind, name, target, RawData::None))
    }

    /// Append a `STRUCT` or `UNION` (`union`) `name` of `size` bytes with members `(name,
    /// type, bit offset, bitfield size)`; with `kind_flag`, bitfield sizes are stored in
    /// the offsets (otherwise they must be 0). Returns its id.
    pub fn add_composite(
        &mut self,
        union: bool,
        name: &str,
        size: u32,
        kind_flag: bool,
        members: &[(&str, TypeId, u32, u8)],
    ) -> TypeId {
        let members = members
            .iter()
            .map(|&(member, type_id, offset, bits)| RawMember {
                name_off: self.add_string(member),
                type_id,
                offset: if kind_flag {
                    u32::from(bits) << 24 | offset
                } else {
                    offset
                },
            })
            .collect();
        let kind = if union { Kind::Union } else { Kind::Struct };
        let name_off = self.add_string(name);
        let mut t = RawType::new(kind, name_off, size, RawData::Members(members));
        t.set_info(kind, kind_flag, t.vlen());
        self.add_type(t)
    }

    /// Append an `ENUM` (`size` up to 4 bytes) or `ENUM64` (`size` over 4) `name` with
    /// `(name, value)` enumerators, `signed` setting the kind flag; returns its id.
    pub fn add_enum(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        values: &[(&str, i64)],
    ) -> TypeId {
        let (kind, data) = if size > 4 {
            let v = values.iter().map(|&(n, v)| RawEnum64Value {
                name_off: self.add_string(n),
                val_lo32: v as u32,
                val_hi32: (v as u64 >> 32) as u32,
            });
            (Kind::Enum64, RawData::Enum64(v.collect()))
        } else {
            let v = values.iter().map(|&(n, v)| RawEnumValue {
                name_off: self.add_string(n),
                val: v as u32,
            });
            (Kind::Enum, RawData::Enum(v.collect()))
        };
        let name_off = self.add_string(name);
        let mut t = RawType::new(kind, name_off, size, data);
        t.set_info(kind, signed, t.vlen());
        self.add_type(t)
    }

    /// Append a `FWD` declaration of struct (or, with `union`, union) `name`; returns its id.
    pub fn add_fwd(&mut self, name: &str, union: bool) -> TypeId {
        let name_off = self.add_string(name);
        let mut t = RawType::new(Kind::Fwd, name_off, 0, RawData::None);
        t.set_info(Kind::Fwd, union, 0);
        self.add_type(t)
    }

    /// Append an anonymous `FUNC_PROTO` returning `ret` (0: void) with `(name, type)`
    /// parameters; returns its id.
    pub fn add_func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        let params = params
            .iter()
            .map(|&(n, type_id)| RawParam {
                name_off: self.add_string(n),
                type_id,
            })
            .collect();
        self.add_named(Kind::FuncProto, "", ret, RawData::Params(params))
    }

    /// Append `FUNC` `name` of prototype `proto` with `linkage`; returns its id.
    pub fn add_func(&mut self, name: &str, proto: TypeId, linkage: FuncLinkage) -> TypeId {
        let name_off = self.add_string(name);
        let mut t = RawType::new(Kind::Func, name_off, proto, RawData::None);
        t.set_info(Kind::Func, false, linkage.to_raw());
        self.add_type(t)
    }

    /// Append `VAR` `name` of type `type_id` with `linkage`; returns its id.
    pub fn add_var(&mut self, name: &str, type_id: TypeId, linkage: VarLinkage) -> TypeId {
        self.add_named(Kind::Var, name, type_id, RawData::Var(linkage.to_raw()))
    }

    /// Append `DATASEC` `name` of `size` bytes placing `vars`; returns its id.
    pub fn add_datasec(&mut self, name: &str, size: u32, vars: &[VarSecinfo]) -> TypeId {
        self.add_named(Kind::Datasec, name, size, RawData::Datasec(vars.to_vec()))
    }

    /// Set the linkage of local `FUNC` `id`; `false` when `id` is not a local FUNC.
    pub fn set_func_linkage(&mut self, id: TypeId, linkage: FuncLinkage) -> bool {
        match self.raw_mut(id) {
            Some(t) if t.kind() == Kind::Func => {
                t.set_info(Kind::Func, t.kind_flag(), linkage.to_raw());
                true
            }
            _ => false,
        }
    }

    /// Set the kind flag of local type `id` (a bitfield struct, a signed enum, a union
    /// forward declaration); `false` when there is no such local type.
    pub fn set_kind_flag(&mut self, id: TypeId, kind_flag: bool) -> bool {
        match self.raw_mut(id) {
            Some(t) => {
                let (kind, vlen) = (t.kind(), t.vlen());
                t.set_info(kind, kind_flag, vlen);
                true
            }
            None => false,
        }
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
        let members: Vec<_> = members.iter().map(|&(n, t, off)| (n, t, off, 0)).collect();
        self.add_composite(false, name, size, false, &members)
    }

    /// Append `UNION` `name` of `size` bytes with members `(name, type, bit offset)`;
    /// returns its id.
    pub fn add_union(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let members: Vec<_> = members.iter().map(|&(n, t, off)| (n, t, off, 0)).collect();
        self.add_composite(true, name, size, false, &members)
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
        self.view = View::default();
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
        self.view = View::default();
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
