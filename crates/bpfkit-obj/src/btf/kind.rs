//! BTF kinds (`BTF_KIND_*`) and the small enums stored inside type records.

use core::fmt;

/// The kind of a BTF type, `BTF_KIND_*` in `linux/btf.h`, with the kernel's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// Type id 0, `void`. Never stored as a record.
    #[doc(alias = "BTF_KIND_UNKN")]
    Void = 0,
    /// An integer (`BTF_KIND_INT`).
    #[doc(alias = "BTF_KIND_INT")]
    Int = 1,
    /// A pointer.
    #[doc(alias = "BTF_KIND_PTR")]
    Ptr = 2,
    /// An array.
    #[doc(alias = "BTF_KIND_ARRAY")]
    Array = 3,
    /// A struct.
    #[doc(alias = "BTF_KIND_STRUCT")]
    Struct = 4,
    /// A union.
    #[doc(alias = "BTF_KIND_UNION")]
    Union = 5,
    /// An enum with 32-bit (or smaller) values.
    #[doc(alias = "BTF_KIND_ENUM")]
    Enum = 6,
    /// A forward declaration of a struct or union.
    #[doc(alias = "BTF_KIND_FWD")]
    Fwd = 7,
    /// A typedef.
    #[doc(alias = "BTF_KIND_TYPEDEF")]
    Typedef = 8,
    /// `volatile`.
    #[doc(alias = "BTF_KIND_VOLATILE")]
    Volatile = 9,
    /// `const`.
    #[doc(alias = "BTF_KIND_CONST")]
    Const = 10,
    /// `restrict`.
    #[doc(alias = "BTF_KIND_RESTRICT")]
    Restrict = 11,
    /// A function (name + linkage + prototype).
    #[doc(alias = "BTF_KIND_FUNC")]
    Func = 12,
    /// A function prototype (return type + parameters).
    #[doc(alias = "BTF_KIND_FUNC_PROTO")]
    FuncProto = 13,
    /// A variable.
    #[doc(alias = "BTF_KIND_VAR")]
    Var = 14,
    /// A data section (`.data`, `.bss`, `.maps`, ...) listing its variables.
    #[doc(alias = "BTF_KIND_DATASEC")]
    Datasec = 15,
    /// A floating-point type.
    #[doc(alias = "BTF_KIND_FLOAT")]
    Float = 16,
    /// `__attribute__((btf_decl_tag("...")))` on a declaration or one of its members.
    #[doc(alias = "BTF_KIND_DECL_TAG")]
    DeclTag = 17,
    /// `__attribute__((btf_type_tag("...")))` on a pointee type.
    #[doc(alias = "BTF_KIND_TYPE_TAG")]
    TypeTag = 18,
    /// An enum with 64-bit values.
    #[doc(alias = "BTF_KIND_ENUM64")]
    Enum64 = 19,
}

impl Kind {
    /// Every kind, in numeric order.
    pub const ALL: [Kind; 20] = [
        Kind::Void,
        Kind::Int,
        Kind::Ptr,
        Kind::Array,
        Kind::Struct,
        Kind::Union,
        Kind::Enum,
        Kind::Fwd,
        Kind::Typedef,
        Kind::Volatile,
        Kind::Const,
        Kind::Restrict,
        Kind::Func,
        Kind::FuncProto,
        Kind::Var,
        Kind::Datasec,
        Kind::Float,
        Kind::DeclTag,
        Kind::TypeTag,
        Kind::Enum64,
    ];

    /// The kind with this `BTF_KIND_*` number.
    pub fn from_u8(raw: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(raw)).copied()
    }

    /// The kernel's name without the `BTF_KIND_` prefix, as bpftool prints it (`"STRUCT"`,
    /// `"FUNC_PROTO"`, `"UNKN"` for void).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Void => "UNKN",
            Kind::Int => "INT",
            Kind::Ptr => "PTR",
            Kind::Array => "ARRAY",
            Kind::Struct => "STRUCT",
            Kind::Union => "UNION",
            Kind::Enum => "ENUM",
            Kind::Fwd => "FWD",
            Kind::Typedef => "TYPEDEF",
            Kind::Volatile => "VOLATILE",
            Kind::Const => "CONST",
            Kind::Restrict => "RESTRICT",
            Kind::Func => "FUNC",
            Kind::FuncProto => "FUNC_PROTO",
            Kind::Var => "VAR",
            Kind::Datasec => "DATASEC",
            Kind::Float => "FLOAT",
            Kind::DeclTag => "DECL_TAG",
            Kind::TypeTag => "TYPE_TAG",
            Kind::Enum64 => "ENUM64",
        }
    }

    /// Bytes that follow the 12-byte common header of a record of this kind with `vlen`
    /// entries.
    pub fn extra_size(self, vlen: u16) -> usize {
        let vlen = usize::from(vlen);
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => 4,
            Kind::Array => 12,
            Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => 12 * vlen,
            Kind::Enum | Kind::FuncProto => 8 * vlen,
            _ => 0,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Linkage of a `FUNC` (`enum btf_func_linkage`, stored in vlen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FuncLinkage {
    /// `BTF_FUNC_STATIC`.
    Static,
    /// `BTF_FUNC_GLOBAL`.
    Global,
    /// `BTF_FUNC_EXTERN`.
    Extern,
    /// Any other value (the kernel rejects it); kept so writing preserves it.
    Unknown(u16),
}

impl FuncLinkage {
    /// From the raw vlen value.
    pub fn from_raw(raw: u16) -> Self {
        match raw {
            0 => FuncLinkage::Static,
            1 => FuncLinkage::Global,
            2 => FuncLinkage::Extern,
            other => FuncLinkage::Unknown(other),
        }
    }

    /// The raw value.
    pub fn to_raw(self) -> u16 {
        match self {
            FuncLinkage::Static => 0,
            FuncLinkage::Global => 1,
            FuncLinkage::Extern => 2,
            FuncLinkage::Unknown(raw) => raw,
        }
    }
}

/// Linkage of a `VAR` (`enum btf_var_linkage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarLinkage {
    /// `BTF_VAR_STATIC`.
    Static,
    /// `BTF_VAR_GLOBAL_ALLOCATED`.
    GlobalAllocated,
    /// `BTF_VAR_GLOBAL_EXTERN`.
    GlobalExtern,
    /// Any other value; kept so writing preserves it.
    Unknown(u32),
}

impl VarLinkage {
    /// From the raw value.
    pub fn from_raw(raw: u32) -> Self {
        match raw {
            0 => VarLinkage::Static,
            1 => VarLinkage::GlobalAllocated,
            2 => VarLinkage::GlobalExtern,
            other => VarLinkage::Unknown(other),
        }
    }

    /// The raw value.
    pub fn to_raw(self) -> u32 {
        match self {
            VarLinkage::Static => 0,
            VarLinkage::GlobalAllocated => 1,
            VarLinkage::GlobalExtern => 2,
            VarLinkage::Unknown(raw) => raw,
        }
    }
}

/// Encoding bits of an `INT` (`BTF_INT_SIGNED`, `BTF_INT_CHAR`, `BTF_INT_BOOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IntEncoding(pub u8);

impl IntEncoding {
    /// `BTF_INT_SIGNED`.
    pub const SIGNED: u8 = 1 << 0;
    /// `BTF_INT_CHAR`.
    pub const CHAR: u8 = 1 << 1;
    /// `BTF_INT_BOOL`.
    pub const BOOL: u8 = 1 << 2;

    /// Whether the integer is signed.
    pub fn is_signed(self) -> bool {
        self.0 & Self::SIGNED != 0
    }
    /// Whether it is a `char`.
    pub fn is_char(self) -> bool {
        self.0 & Self::CHAR != 0
    }
    /// Whether it is a `_Bool`.
    pub fn is_bool(self) -> bool {
        self.0 & Self::BOOL != 0
    }
}
