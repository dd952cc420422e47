//! Decoded BTF types: one struct per kind, names resolved, borrowing the string table.

use super::{FuncLinkage, IntEncoding, Kind, TypeId, VarLinkage};

/// One decoded BTF type. Strings borrow from the [`Btf`](super::Btf) it came from.
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

    /// Members if this is a struct or union.
    pub fn members(&self) -> Option<&[Member<'a>]> {
        match self {
            Type::Struct(t) | Type::Union(t) => Some(&t.members),
            _ => None,
        }
    }
}

/// `BTF_KIND_INT`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ptr<'a> {
    /// Name (empty in valid BTF).
    pub name: &'a str,
    /// The pointee.
    pub target: TypeId,
}

/// `BTF_KIND_ARRAY`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composite<'a> {
    /// Name, empty for anonymous ones.
    pub name: &'a str,
    /// Size in bytes.
    pub size: u32,
    /// The kind flag: member offsets carry bitfield sizes.
    pub kind_flag: bool,
    /// Members in declaration order.
    pub members: Vec<Member<'a>>,
}

/// A member of a struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enum<'a> {
    /// Name, empty for anonymous enums.
    pub name: &'a str,
    /// Size in bytes.
    pub size: u32,
    /// The kind flag: values are signed.
    pub signed: bool,
    /// Enumerators in declaration order.
    pub values: Vec<EnumValue<'a>>,
}

/// One enumerator.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// `BTF_KIND_FWD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fwd<'a> {
    /// Name of the declared struct or union.
    pub name: &'a str,
    /// The kind flag: a union, not a struct.
    pub is_union: bool,
}

/// `TYPEDEF`, `VOLATILE`, `CONST`, `RESTRICT`, `TYPE_TAG`: a name (typedef name, tag
/// value) and one referenced type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Typedef name or tag value; empty for modifiers.
    pub name: &'a str,
    /// The referenced type.
    pub target: TypeId,
}

/// `BTF_KIND_FUNC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Func<'a> {
    /// Function name.
    pub name: &'a str,
    /// Its `FUNC_PROTO`.
    pub proto: TypeId,
    /// Static, global or extern.
    pub linkage: FuncLinkage,
}

/// `BTF_KIND_FUNC_PROTO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncProto<'a> {
    /// Name (empty in valid BTF).
    pub name: &'a str,
    /// Return type, 0 for void.
    pub return_type: TypeId,
    /// Parameters; a last parameter with type 0 and no name means `...`.
    pub params: Vec<Param<'a>>,
}

/// A parameter of a function prototype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name, may be empty.
    pub name: &'a str,
    /// Parameter type (0 for a variadic `...`).
    pub type_id: TypeId,
}

/// `BTF_KIND_VAR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var<'a> {
    /// Variable name.
    pub name: &'a str,
    /// Variable type.
    pub type_id: TypeId,
    /// Static, global or extern.
    pub linkage: VarLinkage,
}

/// `BTF_KIND_DATASEC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datasec<'a> {
    /// Section name (`.data`, `.maps`, ...).
    pub name: &'a str,
    /// Section size in bytes (0 as emitted by clang until fixed up).
    pub size: u32,
    /// Variables placed in the section.
    pub vars: Vec<VarSecinfo>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Float<'a> {
    /// Name (`"double"`).
    pub name: &'a str,
    /// Size in bytes.
    pub size: u32,
}

/// `BTF_KIND_DECL_TAG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclTag<'a> {
    /// The tag value.
    pub name: &'a str,
    /// The tagged type (struct, union, func, var, typedef).
    pub target: TypeId,
    /// -1 for the declaration itself, else the member or parameter index.
    pub component_idx: i32,
}
