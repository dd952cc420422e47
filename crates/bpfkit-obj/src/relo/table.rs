//! An in-memory BTF for CO-RE: build types by hand for tests, fuzzers and synthetic targets.
//!
//! The types are the crate's one owned BTF model ([`BtfMut`]); the CO-RE engine reads them
//! through the same borrowed view as any parsed BTF (the table is encoded and parsed once,
//! on the first lookup after a change).

use std::sync::OnceLock;

use super::types::{Kind, TypeId, TypeSource};
use crate::btf::{
    Btf, BtfMut, IntEncoding, RawData, RawEnum64Value, RawEnumValue, RawMember, Type,
};
use crate::btf::{RawParam, RawType};

/// A BTF built type by type; id 0 is `void`. Implements [`TypeSource`].
///
/// ```
/// use bpfkit_obj::relo::{Kind, TypeSource, TypeTable};
/// let mut btf = TypeTable::new();
/// let int = btf.int("int", 4, true);
/// let ptr = btf.ptr(int);
/// assert_eq!(btf.type_by_id(ptr).map(|t| t.kind()), Some(Kind::Ptr));
/// assert_eq!(btf.type_count(), 3);
/// ```
#[derive(Debug, Default)]
pub struct TypeTable {
    btf: BtfMut,
    /// The encoded and parsed table, made on the first lookup after a change.
    parsed: OnceLock<Option<Btf<'static>>>,
}

impl Clone for TypeTable {
    fn clone(&self) -> Self {
        Self {
            btf: self.btf.clone(),
            parsed: OnceLock::new(),
        }
    }
}

impl TypeTable {
    /// A table holding only `void`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The types as an editable BTF.
    pub fn btf(&self) -> &BtfMut {
        &self.btf
    }

    /// Appends a record (any kind, with a name) and returns its id.
    pub fn add(&mut self, kind: Kind, name: &str, size_or_type: u32, data: RawData) -> TypeId {
        let name_off = if name.is_empty() {
            0
        } else {
            self.btf.add_string(name)
        };
        self.parsed = OnceLock::new();
        self.btf
            .add_type(RawType::new(kind, name_off, size_or_type, data))
    }

    /// Set the kind flag of a type already added (a bitfield struct, a signed enum, a
    /// union forward declaration). Unknown ids are ignored.
    pub fn set_kind_flag(&mut self, id: TypeId, kind_flag: bool) {
        self.parsed = OnceLock::new();
        if let Some(t) = self.btf.type_mut(id) {
            let (kind, vlen) = (t.kind(), t.vlen());
            t.set_info(kind, kind_flag, vlen);
        }
    }

    fn parsed(&self) -> Option<&Btf<'static>> {
        self.parsed
            .get_or_init(|| {
                let bytes = self.btf.to_bytes().ok()?;
                Btf::parse_owned(bytes).ok()
            })
            .as_ref()
    }

    /// An int of `size` bytes.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> TypeId {
        let encoding = if signed { IntEncoding::SIGNED } else { 0 };
        self.parsed = OnceLock::new();
        self.btf.add_int(name, size, encoding)
    }

    /// A float of `size` bytes.
    pub fn float(&mut self, name: &str, size: u32) -> TypeId {
        self.add(Kind::Float, name, size, RawData::None)
    }

    /// A pointer to `to`.
    pub fn ptr(&mut self, to: TypeId) -> TypeId {
        self.add(Kind::Ptr, "", to, RawData::None)
    }

    /// A typedef, const, volatile, restrict or type tag of `to`.
    pub fn modifier(&mut self, kind: Kind, name: &str, to: TypeId) -> TypeId {
        self.add(kind, name, to, RawData::None)
    }

    /// `typedef to name;`
    pub fn typedef(&mut self, name: &str, to: TypeId) -> TypeId {
        self.modifier(Kind::Typedef, name, to)
    }

    /// An array of `nelems` elements of type `elem`.
    pub fn array(&mut self, elem: TypeId, nelems: u32) -> TypeId {
        self.parsed = OnceLock::new();
        self.btf.add_array(elem, 0, nelems)
    }

    /// A struct with members `(name, type, bit_offset)`.
    pub fn struct_(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let members: Vec<_> = members.iter().map(|&(n, t, off)| (n, t, off, 0)).collect();
        self.composite(Kind::Struct, name, size, &members, false)
    }

    /// A union with members `(name, type, bit_offset)`.
    pub fn union_(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let members: Vec<_> = members.iter().map(|&(n, t, off)| (n, t, off, 0)).collect();
        self.composite(Kind::Union, name, size, &members, false)
    }

    /// A kflag struct whose members `(name, type, bit_offset, bitfield_size)` may be bitfields.
    pub fn struct_with_bitfields(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u32)],
    ) -> TypeId {
        self.composite(Kind::Struct, name, size, members, true)
    }

    fn composite(
        &mut self,
        kind: Kind,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u32)],
        kind_flag: bool,
    ) -> TypeId {
        let members = members
            .iter()
            .map(|&(n, type_id, off, bits)| RawMember {
                name_off: self.string(n),
                type_id,
                offset: if kind_flag { bits << 24 | off } else { off },
            })
            .collect();
        let id = self.add(kind, name, size, RawData::Members(members));
        if kind_flag {
            self.set_kind_flag(id, true);
        }
        id
    }

    fn string(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            0
        } else {
            self.btf.add_string(s)
        }
    }

    /// An enum (`size` 1..=4 bytes) or enum64 (`size` 8) with `(name, value)` enumerators.
    pub fn enum_(&mut self, name: &str, size: u32, signed: bool, values: &[(&str, i64)]) -> TypeId {
        let data = if size > 4 {
            RawData::Enum64(
                (values.iter())
                    .map(|&(n, v)| RawEnum64Value {
                        name_off: self.string(n),
                        val_lo32: v as u32,
                        val_hi32: (v as u64 >> 32) as u32,
                    })
                    .collect(),
            )
        } else {
            RawData::Enum(
                (values.iter())
                    .map(|&(n, v)| RawEnumValue {
                        name_off: self.string(n),
                        val: v as u32,
                    })
                    .collect(),
            )
        };
        let kind = if size > 4 { Kind::Enum64 } else { Kind::Enum };
        let id = self.add(kind, name, size, data);
        self.set_kind_flag(id, signed);
        id
    }

    /// A forward declaration of a struct (or union when `union` is set).
    pub fn fwd(&mut self, name: &str, union: bool) -> TypeId {
        let id = self.add(Kind::Fwd, name, 0, RawData::None);
        self.set_kind_flag(id, union);
        id
    }

    /// A function prototype.
    pub fn func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        let params = params
            .iter()
            .map(|&(n, type_id)| RawParam {
                name_off: self.string(n),
                type_id,
            })
            .collect();
        self.add(Kind::FuncProto, "", ret, RawData::Params(params))
    }
}

impl TypeSource for TypeTable {
    fn type_count(&self) -> u32 {
        self.btf.type_count()
    }

    fn type_by_id(&self, id: TypeId) -> Option<Type<'_>> {
        TypeSource::type_by_id(self.parsed()?, id)
    }

    fn name_and_kind(&self, id: TypeId) -> Option<(&str, Kind)> {
        TypeSource::name_and_kind(self.parsed()?, id)
    }

    fn pointer_size(&self) -> u32 {
        self.parsed().map_or(8, Btf::pointer_size)
    }
}
