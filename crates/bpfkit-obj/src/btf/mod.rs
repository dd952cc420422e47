//! BTF: the BPF Type Format — parsing (lazy), writing, sanitizing, and `.BTF.ext`.
//!
//! - [`Btf`] reads BTF bytes lazily: one pass records where each type starts, strings stay
//!   borrowed, types are decoded into [`Type`] on demand and names are indexed on the first
//!   lookup. Split BTF (kernel modules) sits on a base with [`Btf::parse_split`].
//! - [`BtfMut`] is owned, editable BTF in wire form; [`BtfMut::to_bytes`] writes it.
//! - [`sanitize`] rewrites kinds an older kernel lacks ([`BtfFeatures`]), like libbpf.
//! - [`fixup_datasecs`] fills DATASEC sizes and variable offsets from ELF symbols;
//!   [`finalize_extern_datasecs`] makes `.kconfig`/`.ksyms` loadable.
//! - [`BtfExt`] parses and writes `.BTF.ext` (func_info, line_info, CO-RE relocations).
//! - Kinds are [`Kind`]; each kind's decoded form is a struct in [`types`].

mod datasec;
mod error;
pub mod ext;
mod kind;
mod names;
mod owned;
mod parse;
mod sanitize;
pub mod types;

pub use datasec::{
    finalize_extern_datasecs, fixup_datasecs, DatasecError, DatasecLayout, VarSymbol, DUMMY_KSYM,
};
pub use error::BtfError;
pub use ext::{
    BtfExt, BtfExtError, CoreRelo, CoreReloKind, ExtSection, FuncInfo, InfoBlock, LineInfo,
};
pub use kind::{FuncLinkage, IntEncoding, Kind, VarLinkage};
pub use owned::BtfMut;
pub(crate) use owned::{RawData, RawEnumValue, RawMember, RawType};
pub use parse::{
    Btf, Header, TypeHeader, BTF_HEADER_SIZE, BTF_MAGIC, BTF_TYPE_SIZE, MAX_RESOLVE_DEPTH,
};
pub use sanitize::{sanitize, BtfFeatures, ENUM64_PLACEHOLDER};
pub use types::{
    Array, Composite, Datasec, DeclTag, Enum, EnumValue, Float, Func, FuncProto, Fwd, Int, Member,
    Param, Ptr, Record, Records, RecordsIter, Reference, Type, Var, VarSecinfo,
};

/// A BTF type id: 0 is void, 1.. index the type section (continuing after the base for
/// split BTF).
pub type TypeId = u32;
