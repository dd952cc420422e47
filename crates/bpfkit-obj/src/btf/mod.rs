//! BTF: the BPF Type Format — parsing (lazy), writing, sanitizing, and `.BTF.ext`.
//!
//! - [`Btf`] reads BTF bytes lazily: one pass records where each type starts, strings stay
//!   borrowed, types are decoded into [`Type`] on demand and names are indexed on the first
//!   lookup. Split BTF (kernel modules) sits on a base with [`Btf::parse_split`].
//! - Kinds are [`Kind`]; each kind's decoded form is a struct in [`types`].

mod error;
mod kind;
mod names;
mod parse;
pub mod types;

pub use error::BtfError;
pub use kind::{FuncLinkage, IntEncoding, Kind, VarLinkage};
pub use parse::{
    Btf, Header, TypeHeader, BTF_HEADER_SIZE, BTF_MAGIC, BTF_TYPE_SIZE, MAX_RESOLVE_DEPTH,
};
pub use types::{
    Array, Composite, Datasec, DeclTag, Enum, EnumValue, Float, Func, FuncProto, Fwd, Int, Member,
    Param, Ptr, Reference, Type, Var, VarSecinfo,
};

/// A BTF type id: 0 is void, 1.. index the type section (continuing after the base for
/// split BTF).
pub type TypeId = u32;
