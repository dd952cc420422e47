//! The one borrowed view of a BTF type: one struct per kind, names resolved, borrowing the
//! BTF's bytes. Members, enumerators, parameters and section variables are [`Records`]
//! decoded on access, so looking a type up allocates nothing.

use super::{Btf, FuncLinkage, IntEncoding, Kind, TypeId, VarLinkage};

/// One BTF type, viewed in place. Strings and list records borrow from the [`Btf`] it came
/// from; nothing is copied or allocated.
///
/// ```
/// # use bpfkit_obj::btf::{Btf, Type};
/// # fn show(btf: &Btf<'_>) -> Result<(), bpfkit_obj::btf::BtfError> {
/// if let Some(&id) = btf.ids_by_name("task_struct").first() {
///     if let Type::Struct(s) = btf.type_by_id(id)? {
///         println!("task_struct: {} bytes, {} members", s.size, s.members.len());
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type<'a> {
    /// Type id 0.
    Void,
    /// `BTF_KIND_INT`.
    Int(Int<'a>),
    /// `BTF_KIND_PTR`.
    Ptr(Ptr<'a>),
    /// `BTF_KIND_ARRAY`.
    Array(Array<'a>),
    /// `BTF_KIND_STRUCT`.
    Struct(Composite<'a>),
    /// `BTF_KIND_UNION`.
    Union(Composite<'a>),
    /// `BTF_KIND_ENUM`.
    Enum(Enum<'a>),
    /// `BTF_KIND_FWD`.
    Fwd(Fwd<'a>),
    /// `BTF_KIND_TYPEDEF`.
    Typedef(Reference<'a>),
    /// `BTF_KIND_VOLATILE`.
    Volatile(Reference<'a>),
    /// `BTF_KIND_CONST`.
    Const(Reference<'a>),
    /// `BTF_KIND_RESTRICT`.
    Restrict(Reference<'a>),
    /// `BTF_KIND_FUNC`.
    Func(Func<'a>),
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto(FuncProto<'a>),
    /// `BTF_KIND_VAR`.
    Var(Var<'a>),
    /// `BTF_KIND_DATASEC`.
    Datasec(Datasec<'a>),
    /// `BTF_KIND_FLOAT`.
    Float(Float<'a>),
    /// `BTF_KIND_DECL_TAG`.
    DeclTag(DeclTag<'a>),
    /// `BTF_KIND_TYPE_TAG`.
    TypeTag(Reference<'a>),
    /// `BTF_KIND_ENUM64`.
    Enum64(Enum<'a>),
}

impl<'a> Type<'a> {
    /// The kind of this type.
    pub fn kind(&self) -> Kind {
        match self {
            Type::Void => Kind::Void,
            Type::Int(_) => Kind::Int,
            Type::Ptr(_) => Kind::Ptr,
            Type::Array(_) => Kind::Array,
            Type::Struct(_) => Kind::Struct,
            Type::Union(_) => Kind::Union,
            Type::Enum(_) => Kind::Enum,
            Type::Fwd(_) => Kind::Fwd,
            Type::Typedef(_) => Kind::Typedef,
            Type::Volatile(_) => Kind::Volatile,
            Type::Const(_) => Kind::Const,
            Type::Restrict(_) => Kind::Restrict,
            Type::Func(_) => Kind::Func,
            Type::FuncProto(_) => Kind::FuncProto,
            Type::Var(_) => Kind::Var,
            Type::Datasec(_) => Kind::Datasec,
            Type::Float(_) => Kind::Float,
            Type::DeclTag(_) => Kind::DeclTag,
            Type::TypeTag(_) => Kind::TypeTag,
            Type::Enum64(_) => Kind::Enum64,
        }
    }

    /// The type's name; `""` for anonymous types and void.
    pub fn name(&self) -> &'a str {
        match self {
            Type::Void => "",
            Type::Int(t) => t.name,
            Type::Ptr(t) => t.name,
            Type::Array(t) => t.name,
            Type::Struct(t) | Type::Union(t) => t.name,
            Type::Enum(t) | Type::Enum64(t) => t.name,
            Type::Fwd(t) => t.name,
            Type::Typedef(t)
            | Type::Volatile(t)
            | Type::Const(t)
            | Type::Restrict(t)
            | Type::TypeTag(t) => t.name,
            Type::Func(t) => t.name,
            Type::FuncProto(t) => t.name,
            Type::Var(t) => t.name,
            Type::Datasec(t) => t.name,
            Type::Float(t) => t.name,
            Type::DeclTag(t) => t.name,
        }
    }

    /// The size in bytes stored in the record, for kinds that have one (INT, STRUCT, UNION,
    /// ENUM, ENUM64, DATASEC, FLOAT). Use [`Btf::resolve_size`](super::Btf::resolve_size)
    /// for any type.
    pub fn size(&self) -> Option<u32> {
        match self {
            Type::Int(t) => Some(t.size),
            Type::Struct(t) | Type::Union(t) => Some(t.size),
            Type::Enum(t) | Type::Enum64(t) => Some(t.size),
            Type::Datasec(t) => Some(t.size),
            Type::Float(t) => Some(t.size),
            _ => None,
        }
    }

    /// The single type this one refers to: pointee, typedef/modifier/tag target, variable
    /// type, function prototype, array element, or return type of a prototype.
    pub fn referenced_type(&self) -> Option<TypeId> {
        match self {
            Type::Ptr(t) => Some(t.target),
            Type::Typedef(t)
            | Type::Volatile(t)
            | Type::Const(t)
            | Type::Restrict(t)
            | Type::TypeTag(t) => Some(t.target),
            Type::Func(t) => Some(t.proto),
            Type::FuncProto(t) => Some(t.return_type),
            Type::Var(t) => Some(t.type_id),
            Type::DeclTag(t) => Some(t.target),
            Type::Array(t) => Some(t.elem_type),
            _ => None,
        }
    }

    /// The kind flag: bitfield sizes in member offsets (struct, union), signed values
    /// (enum, enum64), a union (fwd); `false` for other kinds.
    pub fn kind_flag(&self) -> bool {
        match self {
            Type::Struct(t) | Type::Union(t) => t.kind_flag,
            Type::Enum(t) | Type::Enum64(t) => t.signed,
            Type::Fwd(t) => t.is_union,
            _ => false,
        }
    }

    /// Members of a struct or union, empty for other kinds.
    pub fn members(&self) -> Records<'a, Member<'a>> {
        match self {
            Type::Struct(t) | Type::Union(t) => t.members,
            _ => Records::empty(),
        }
    }

    /// Enumerators of an enum or enum64, empty for other kinds.
    pub fn enumerators(&self) -> Records<'a, EnumValue<'a>> {
        match self {
            Type::Enum(t) | Type::Enum64(t) => t.values,
            _ => Records::empty(),
        }
    }

    /// Parameters of a function prototype, empty for other kinds.
    pub fn params(&self) -> Records<'a, Param<'a>> {
        match self {
            Type::FuncProto(t) => t.params,
            _ => Records::empty(),
        }
    }

    /// `btf_vlen`: number of members, enumerators, parameters or section variables.
    pub fn vlen(&self) -> usize {
        match self {
            Type::Struct(t) | Type::Union(t) => t.members.len(),
            Type::Enum(t) | Type::Enum64(t) => t.values.len(),
            Type::FuncProto(t) => t.params.len(),
            Type::Datasec(t) => t.vars.len(),
            _ => 0,
        }
    }

    /// `(element type, element count)` of an array.
    pub fn array(&self) -> Option<(TypeId, u32)> {
        match self {
            Type::Array(a) => Some((a.elem_type, a.nelems)),
            _ => None,
        }
    }
}

/// `BTF_KIND_INT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int<'a> {
    /// Name (`"int"`, `"unsigned char"`).
    pub name: &'a str,
    /// Storage size in bytes.
    pub size: u32,
    /// Signed/char/bool bits.
    pub encoding: IntEncoding,
    /// `BTF_INT_OFFSET`: bit offset of the value inside its storage (always 0 from clang).
    pub offset: u8,
    /// `BTF_INT_BITS`: number of value bits.
    pub bits: u8,
}

/// `BTF_KIND_PTR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ptr<'a> {
    /// Name (empty in valid BTF).
    pub name: &'a str,
    /// The pointee.
    pub target: TypeId,
}

/// `BTF_KIND_ARRAY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Array<'a> {
    /// Name (empty in valid BTF).
    pub name: &'a str,
    /// Element type.
    pub elem_type: TypeId,
    /// Index type (an INT).
    pub index_type: TypeId,
    /// Number of elements.
    pub nelems: u32,
}

/// `BTF_KIND_STRUCT` or `BTF_KIND_UNION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Composite<'a> {
    /// Name, empty for anonymous ones.
    pub name: &'a str,
    /// Size in bytes.
    pub size: u32,
    /// The kind flag: member offsets carry bitfield sizes.
    pub kind_flag: bool,
    /// Members in declaration order.
    pub members: Records<'a, Member<'a>>,
}

/// A member of a struct or union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    /// Name, empty for anonymous members.
    pub name: &'a str,
    /// Member type.
    pub type_id: TypeId,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits when the struct's kind flag is set and this is a bitfield;
    /// 0 otherwise (without the kind flag, a bitfield is an INT with `bits` < 8*size).
    pub bitfield_size: u8,
}

/// `BTF_KIND_ENUM` or `BTF_KIND_ENUM64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enum<'a> {
    /// Name, empty for anonymous enums.
    pub name: &'a str,
    /// Size in bytes.
    pub size: u32,
    /// The kind flag: values are signed.
    pub signed: bool,
    /// Enumerators in declaration order.
    pub values: Records<'a, EnumValue<'a>>,
}

/// One enumerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumValue<'a> {
    /// Enumerator name.
    pub name: &'a str,
    /// The raw value bits: for `ENUM` the 32-bit value zero-extended, for `ENUM64` the
    /// 64-bit value. See [`EnumValue::value_signed`].
    pub raw: u64,
}

impl EnumValue<'_> {
    /// The value as a signed 64-bit number, sign-extending a 32-bit `ENUM` value.
    pub fn value_signed(&self, is_enum64: bool) -> i64 {
        if is_enum64 {
            self.raw as i64
        } else {
            i64::from(self.raw as u32 as i32)
        }
    }

    /// The value as libbpf's CO-RE reads it: a 32-bit `ENUM` value sign-extended from
    /// `s32`, an `ENUM64` value as is.
    pub fn value_core(&self, is_enum64: bool) -> u64 {
        self.value_signed(is_enum64) as u64
    }
}

/// `BTF_KIND_FWD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fwd<'a> {
    /// Name of the declared struct or union.
    pub name: &'a str,
    /// The kind flag: a union, not a struct.
    pub is_union: bool,
}

/// `TYPEDEF`, `VOLATILE`, `CONST`, `RESTRICT`, `TYPE_TAG`: a name (typedef name, tag
/// value) and one referenced type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Typedef name or tag value; empty for modifiers.
    pub name: &'a str,
    /// The referenced type.
    pub target: TypeId,
}

/// `BTF_KIND_FUNC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Func<'a> {
    /// Function name.
    pub name: &'a str,
    /// Its `FUNC_PROTO`.
    pub proto: TypeId,
    /// Static, global or extern.
    pub linkage: FuncLinkage,
}

/// `BTF_KIND_FUNC_PROTO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncProto<'a> {
    /// Name (empty in valid BTF).
    pub name: &'a str,
    /// Return type, 0 for void.
    pub return_type: TypeId,
    /// Parameters; a last parameter with type 0 and no name means `...`.
    pub params: Records<'a, Param<'a>>,
}

/// A parameter of a function prototype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name, may be empty.
    pub name: &'a str,
    /// Parameter type (0 for a variadic `...`).
    pub type_id: TypeId,
}

/// `BTF_KIND_VAR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var<'a> {
    /// Variable name.
    pub name: &'a str,
    /// Variable type.
    pub type_id: TypeId,
    /// Static, global or extern.
    pub linkage: VarLinkage,
}

/// `BTF_KIND_DATASEC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datasec<'a> {
    /// Section name (`.data`, `.maps`, ...).
    pub name: &'a str,
    /// Section size in bytes (0 as emitted by clang until fixed up).
    pub size: u32,
    /// Variables placed in the section.
    pub vars: Records<'a, VarSecinfo>,
}

/// `struct btf_var_secinfo`: where a variable lives in its section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VarSecinfo {
    /// The `VAR` (or `FUNC` for `.ksyms`).
    pub type_id: TypeId,
    /// Offset in the section.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// `BTF_KIND_FLOAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Float<'a> {
    /// Name (`"double"`).
    pub name: &'a str,
    /// Size in bytes.
    pub size: u32,
}

/// `BTF_KIND_DECL_TAG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclTag<'a> {
    /// The tag value.
    pub name: &'a str,
    /// The tagged type (struct, union, func, var, typedef).
    pub target: TypeId,
    /// -1 for the declaration itself, else the member or parameter index.
    pub component_idx: i32,
}

/// The members, enumerators, parameters or section variables of a type, decoded one at a
/// time from the BTF's bytes on access: a lookup of a type allocates nothing.
pub struct Records<'a, T> {
    btf: Option<&'a Btf<'a>>,
    /// Byte offset of the first record.
    first: usize,
    len: usize,
    /// The type's `kind_flag` (members: bitfield sizes in the offsets).
    kflag: bool,
    /// Enumerators: 64-bit (`enum64`, 12-byte records).
    wide: bool,
    _record: std::marker::PhantomData<T>,
}

impl<T> Clone for Records<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Records<'_, T> {}

/// A record [`Records`] can decode from a BTF's bytes.
pub trait Record<'a>: Copy {
    /// Decode record `index` of the records starting at byte `first` of `btf`. A name that
    /// is not a valid string reads as empty ([`Btf::type_by_id`] reports it).
    #[doc(hidden)]
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, kflag: bool, wide: bool) -> Self;
}

#[inline]
fn raw_name<'a>(btf: &'a Btf<'a>, off: u32) -> &'a str {
    btf.string_at(off).unwrap_or("")
}

impl<'a> Record<'a> for Member<'a> {
    #[inline]
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, kflag: bool, _: bool) -> Self {
        let (name_off, type_id, bit_offset, bitfield_size) = btf.member_at(first, index, kflag);
        Member {
            name: raw_name(btf, name_off),
            type_id,
            bit_offset,
            bitfield_size,
        }
    }
}

impl<'a> Record<'a> for EnumValue<'a> {
    #[inline]
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, _: bool, wide: bool) -> Self {
        let (name_off, raw) = btf.enumerator_at(first, index, wide);
        EnumValue {
            name: raw_name(btf, name_off),
            raw,
        }
    }
}

impl<'a> Record<'a> for Param<'a> {
    #[inline]
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, _: bool, _: bool) -> Self {
        let (name_off, type_id) = btf.param_at(first, index);
        Param {
            name: raw_name(btf, name_off),
            type_id,
        }
    }
}

impl<'a> Record<'a> for VarSecinfo {
    #[inline]
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, _: bool, _: bool) -> Self {
        let v = first + 12 * index;
        VarSecinfo {
            type_id: btf.read_at(v),
            offset: btf.read_at(v + 4),
            size: btf.read_at(v + 8),
        }
    }
}

impl<'a, T: Record<'a>> Records<'a, T> {
    /// `len` records of `btf` from byte `first`, decoded on access.
    pub(crate) fn raw(btf: &'a Btf<'a>, first: usize, len: usize, kflag: bool, wide: bool) -> Self {
        Self {
            btf: Some(btf),
            first,
            len,
            kflag,
            wide,
            _record: std::marker::PhantomData,
        }
    }

    /// No records.
    pub fn empty() -> Self {
        Self {
            btf: None,
            first: 0,
            len: 0,
            kflag: false,
            wide: false,
            _record: std::marker::PhantomData,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Record `index`, if there is one.
    #[inline]
    pub fn get(&self, index: usize) -> Option<T> {
        let btf = self.btf.filter(|_| index < self.len)?;
        Some(T::decode(btf, self.first, index, self.kflag, self.wide))
    }

    /// The first record.
    pub fn first(&self) -> Option<T> {
        self.get(0)
    }

    /// The last record.
    pub fn last(&self) -> Option<T> {
        self.get(self.len.checked_sub(1)?)
    }

    /// The records in order.
    pub fn iter(&self) -> RecordsIter<'a, T> {
        RecordsIter {
            records: *self,
            next: 0,
        }
    }

    /// The records copied into a `Vec`.
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }
}

/// Iterator over [`Records`], decoding each record as it goes.
#[derive(Clone)]
pub struct RecordsIter<'a, T> {
    records: Records<'a, T>,
    next: usize,
}

impl<'a, T: Record<'a>> Iterator for RecordsIter<'a, T> {
    type Item = T;
    #[inline]
    fn next(&mut self) -> Option<T> {
        let r = self.records.get(self.next)?;
        self.next += 1;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.records.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl<'a, T: Record<'a>> ExactSizeIterator for RecordsIter<'a, T> {}

impl<'a, T: Record<'a>> IntoIterator for &Records<'a, T> {
    type Item = T;
    type IntoIter = RecordsIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T: Record<'a>> IntoIterator for Records<'a, T> {
    type Item = T;
    type IntoIter = RecordsIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T: Record<'a> + PartialEq> PartialEq for Records<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<'a, T: Record<'a> + Eq> Eq for Records<'a, T> {}

impl<'a, T: Record<'a> + std::fmt::Debug> std::fmt::Debug for Records<'a, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
