//! An in-memory BTF for CO-RE: build types by hand for tests, fuzzers and synthetic targets.

use super::types::{
    Detail, Enumerator, Kind, Member, Param, Records, TypeId, TypeInfo, TypeSource,
};

/// Kind-specific data of an [`OwnedType`]; the owned twin of [`Detail`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedDetail {
    /// Nothing beyond the common fields.
    None,
    /// Int encoding, bit offset and bits.
    Int {
        /// `BTF_INT_*` bits.
        encoding: u8,
        /// Bit offset.
        offset: u8,
        /// Value bits.
        bits: u8,
    },
    /// Array element type, index type, element count.
    Array {
        /// Element type.
        elem: TypeId,
        /// Index type.
        index: TypeId,
        /// Element count.
        nelems: u32,
    },
    /// Members: name, type, bit offset, bitfield size.
    Members(Vec<(String, TypeId, u32, u32)>),
    /// Enumerators: name, value (as [`Enumerator::value`]).
    Enumerators(Vec<(String, u64)>),
    /// Parameters: name, type.
    Params(Vec<(String, TypeId)>),
}

/// One type of a [`TypeTable`]; the owned twin of [`TypeInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedType {
    /// Kind.
    pub kind: Kind,
    /// Name.
    pub name: String,
    /// `kind_flag`.
    pub kflag: bool,
    /// Size (see [`TypeInfo::size`]).
    pub size: u32,
    /// Referenced type (see [`TypeInfo::ref_type`]).
    pub ref_type: TypeId,
    /// Kind-specific data.
    pub detail: OwnedDetail,
}

/// A BTF held as a vector of types; id 0 is `void`. Implements [`TypeSource`].
///
/// ```
/// use bpfkit_obj::relo::{Kind, TypeSource, TypeTable};
/// let mut btf = TypeTable::new();
/// let int = btf.int("int", 4, true);
/// let ptr = btf.ptr(int);
/// assert_eq!(btf.type_by_id(ptr).map(|t| t.kind), Some(Kind::Ptr));
/// assert_eq!(btf.type_count(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeTable {
    types: Vec<OwnedType>,
}

impl Default for TypeTable {
    fn default() -> Self {
        Self::new()
    }
}

fn plain(kind: Kind, name: &str, size: u32, ref_type: TypeId, detail: OwnedDetail) -> OwnedType {
    OwnedType {
        kind,
        name: name.to_string(),
        kflag: false,
        size,
        ref_type,
        detail,
    }
}

impl TypeTable {
    /// A table holding only `void`.
    pub fn new() -> Self {
        TypeTable {
            types: vec![plain(Kind::Void, "", 0, 0, OwnedDetail::None)],
        }
    }

    /// Appends a type and returns its id.
    pub fn add(&mut self, ty: OwnedType) -> TypeId {
        self.types.push(ty);
        (self.types.len() - 1) as TypeId
    }

    /// Mutable access to a type already added (e.g. to close a cycle).
    pub fn get_mut(&mut self, id: TypeId) -> Option<&mut OwnedType> {
        self.types.get_mut(id as usize)
    }

    /// An int of `size` bytes.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> TypeId {
        let encoding = if signed {
            crate::btf::IntEncoding::SIGNED
        } else {
            0
        };
        let bits = size.saturating_mul(8).min(128) as u8;
        self.add(plain(
            Kind::Int,
            name,
            size,
            0,
            OwnedDetail::Int {
                encoding,
                offset: 0,
                bits,
            },
        ))
    }

    /// A float of `size` bytes.
    pub fn float(&mut self, name: &str, size: u32) -> TypeId {
        self.add(plain(Kind::Float, name, size, 0, OwnedDetail::None))
    }

    /// A pointer to `to`.
    pub fn ptr(&mut self, to: TypeId) -> TypeId {
        self.add(plain(Kind::Ptr, "", 0, to, OwnedDetail::None))
    }

    /// A typedef, const, volatile, restrict or type tag of `to`.
    pub fn modifier(&mut self, kind: Kind, name: &str, to: TypeId) -> TypeId {
        self.add(plain(kind, name, 0, to, OwnedDetail::None))
    }

    /// `typedef to name;`
    pub fn typedef(&mut self, name: &str, to: TypeId) -> TypeId {
        self.modifier(Kind::Typedef, name, to)
    }

    /// An array of `nelems` elements of type `elem`.
    pub fn array(&mut self, elem: TypeId, nelems: u32) -> TypeId {
        self.add(plain(
            Kind::Array,
            "",
            0,
            0,
            OwnedDetail::Array {
                elem,
                index: 0,
                nelems,
            },
        ))
    }

    /// A struct with members `(name, type, bit_offset)`.
    pub fn struct_(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        self.composite(Kind::Struct, name, size, members)
    }

    /// A union with members `(name, type, bit_offset)`.
    pub fn union_(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        self.composite(Kind::Union, name, size, members)
    }

    fn composite(
        &mut self,
        kind: Kind,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32)],
    ) -> TypeId {
        let members = members
            .iter()
            .map(|(n, t, off)| (n.to_string(), *t, *off, 0))
            .collect();
        self.add(plain(kind, name, size, 0, OwnedDetail::Members(members)))
    }

    /// A kflag struct whose members `(name, type, bit_offset, bitfield_size)` may be bitfields.
    pub fn struct_with_bitfields(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u32)],
    ) -> TypeId {
        let members = members
            .iter()
            .map(|(n, t, off, bits)| (n.to_string(), *t, *off, *bits))
            .collect();
        let mut ty = plain(Kind::Struct, name, size, 0, OwnedDetail::Members(members));
        ty.kflag = true;
        self.add(ty)
    }

    /// An enum (`size` 1..=4 bytes) or enum64 (`size` 8) with `(name, value)` enumerators.
    pub fn enum_(&mut self, name: &str, size: u32, signed: bool, values: &[(&str, i64)]) -> TypeId {
        let kind = if size > 4 { Kind::Enum64 } else { Kind::Enum };
        let values = values
            .iter()
            .map(|(n, v)| {
                let v = if kind == Kind::Enum {
                    i64::from(*v as i32) as u64
                } else {
                    *v as u64
                };
                (n.to_string(), v)
            })
            .collect();
        let mut ty = plain(kind, name, size, 0, OwnedDetail::Enumerators(values));
        ty.kflag = signed;
        self.add(ty)
    }

    /// A forward declaration of a struct (or union when `union` is set).
    pub fn fwd(&mut self, name: &str, union: bool) -> TypeId {
        let mut ty = plain(Kind::Fwd, name, 0, 0, OwnedDetail::None);
        ty.kflag = union;
        self.add(ty)
    }

    /// A function prototype.
    pub fn func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        let params = params.iter().map(|(n, t)| (n.to_string(), *t)).collect();
        self.add(plain(
            Kind::FuncProto,
            "",
            0,
            ret,
            OwnedDetail::Params(params),
        ))
    }
}

impl TypeSource for TypeTable {
    fn type_count(&self) -> u32 {
        u32::try_from(self.types.len()).unwrap_or(u32::MAX)
    }

    fn type_by_id(&self, id: TypeId) -> Option<TypeInfo<'_>> {
        let t = self.types.get(id as usize)?;
        let detail = match &t.detail {
            OwnedDetail::None => Detail::None,
            OwnedDetail::Int {
                encoding,
                offset,
                bits,
            } => Detail::Int {
                encoding: *encoding,
                offset: *offset,
                bits: *bits,
            },
            OwnedDetail::Array {
                elem,
                index,
                nelems,
            } => Detail::Array {
                elem: *elem,
                index: *index,
                nelems: *nelems,
            },
            OwnedDetail::Members(m) => Detail::Members(Records::owned(
                m.iter()
                    .map(|(name, type_id, bit_offset, bitfield_size)| Member {
                        name,
                        type_id: *type_id,
                        bit_offset: *bit_offset,
                        bitfield_size: *bitfield_size,
                    })
                    .collect(),
            )),
            OwnedDetail::Enumerators(e) => Detail::Enumerators(Records::owned(
                e.iter()
                    .map(|(name, value)| Enumerator {
                        name,
                        value: *value,
                    })
                    .collect(),
            )),
            OwnedDetail::Params(p) => Detail::Params(Records::owned(
                p.iter()
                    .map(|(name, type_id)| Param {
                        name,
                        type_id: *type_id,
                    })
                    .collect(),
            )),
        };
        Some(TypeInfo {
            kind: t.kind,
            name: &t.name,
            kflag: t.kflag,
            size: t.size,
            ref_type: t.ref_type,
            detail,
        })
    }

    fn name_and_kind(&self, id: TypeId) -> Option<(&str, Kind)> {
        self.types
            .get(id as usize)
            .map(|t| (t.name.as_str(), t.kind))
    }
}
