//! The view of BTF the CO-RE engine needs: decoded types by id, names, sizes, modifiers.
//!
//! The engine never parses BTF itself. Anything that can answer [`TypeSource`] — the
//! crate's BTF parser, a split module BTF on top of vmlinux, or the in-memory
//! [`TypeTable`](super::TypeTable) used by tests and fuzzers — can be a local or a target BTF.

use crate::btf::Btf;
pub use crate::btf::{Kind, TypeId};

/// Kind predicates CO-RE needs, in libbpf's words.
pub(crate) trait CoreKind {
    /// `struct` or `union` (`btf_is_composite`).
    fn is_composite(&self) -> bool;
    /// `enum` or `enum64` (`btf_is_any_enum`).
    fn is_any_enum(&self) -> bool;
    /// A modifier or typedef, skipped when CO-RE compares types.
    fn is_mod_or_typedef(&self) -> bool;
    /// `btf_kind_core_compat`: same kind, or both enums of either width.
    fn core_compat(self, other: Kind) -> bool;
}

impl CoreKind for Kind {
    fn is_composite(&self) -> bool {
        matches!(self, Kind::Struct | Kind::Union)
    }

    fn is_any_enum(&self) -> bool {
        matches!(self, Kind::Enum | Kind::Enum64)
    }

    fn is_mod_or_typedef(&self) -> bool {
        matches!(
            self,
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
        )
    }

    fn core_compat(self, other: Kind) -> bool {
        self == other || (self.is_any_enum() && other.is_any_enum())
    }
}

/// A struct or union member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// Member name; empty for an anonymous (embedded) struct/union.
    pub name: &'a str,
    /// Member type.
    pub type_id: TypeId,
    /// Offset in bits from the start of the struct (for kflag structs: without the size bits).
    pub bit_offset: u32,
    /// Bitfield size in bits (kflag structs only), 0 when not a bitfield.
    pub bitfield_size: u32,
}

/// An enumerator of an `enum` or `enum64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Enumerator<'a> {
    /// Enumerator name.
    pub name: &'a str,
    /// Value as libbpf reads it: a 32-bit enum's value sign-extended from `s32`, an enum64's
    /// value as `hi32 << 32 | lo32`.
    pub value: u64,
}

/// A parameter of a `func_proto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// Parameter name (may be empty).
    pub name: &'a str,
    /// Parameter type (0 for the trailing `...` of a variadic function).
    pub type_id: TypeId,
}

/// Kind-specific data of a type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail<'a> {
    /// Nothing beyond the common fields.
    None,
    /// `BTF_KIND_INT` data.
    Int {
        /// `BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL` bits.
        encoding: u8,
        /// Bit offset (non-zero only in old, bitfield-like ints).
        offset: u8,
        /// Number of value bits.
        bits: u8,
    },
    /// `BTF_KIND_ARRAY` data.
    Array {
        /// Element type.
        elem: TypeId,
        /// Index type.
        index: TypeId,
        /// Number of elements (0 for a flexible array).
        nelems: u32,
    },
    /// Struct or union members.
    Members(Records<'a, Member<'a>>),
    /// Enum or enum64 enumerators.
    Enumerators(Records<'a, Enumerator<'a>>),
    /// Function prototype parameters.
    Params(Records<'a, Param<'a>>),
}

/// The members, enumerators or parameters of a type, decoded one at a time from the BTF's
/// bytes on access: a lookup of a type allocates nothing.
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
    /// is not a valid string reads as empty (the parser reports it when the type is decoded
    /// whole).
    #[doc(hidden)]
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, kflag: bool, wide: bool) -> Self;
}

fn raw_name<'a>(btf: &'a Btf<'a>, off: u32) -> &'a str {
    btf.string_at(off).unwrap_or("")
}

impl<'a> Record<'a> for Member<'a> {
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, kflag: bool, _: bool) -> Self {
        let (name_off, type_id, bit_offset, bitfield_size) = btf.member_at(first, index, kflag);
        Member {
            name: raw_name(btf, name_off),
            type_id,
            bit_offset,
            bitfield_size: u32::from(bitfield_size),
        }
    }
}

impl<'a> Record<'a> for Enumerator<'a> {
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, _: bool, wide: bool) -> Self {
        let (name_off, raw) = btf.enumerator_at(first, index, wide);
        Enumerator {
            name: raw_name(btf, name_off),
            // libbpf reads a 32-bit enumerator as s32 into a u64.
            value: if wide {
                raw
            } else {
                i64::from(raw as u32 as i32) as u64
            },
        }
    }
}

impl<'a> Record<'a> for Param<'a> {
    fn decode(btf: &'a Btf<'a>, first: usize, index: usize, _: bool, _: bool) -> Self {
        let (name_off, type_id) = btf.param_at(first, index);
        Param {
            name: raw_name(btf, name_off),
            type_id,
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
    pub fn get(&self, index: usize) -> Option<T> {
        let btf = self.btf.filter(|_| index < self.len)?;
        Some(T::decode(btf, self.first, index, self.kflag, self.wide))
    }

    /// The records in order.
    pub fn iter(&self) -> RecordsIter<'_, 'a, T> {
        RecordsIter {
            records: self,
            next: 0,
        }
    }
}

/// Iterator over [`Records`], decoding each record as it goes.
#[derive(Clone)]
pub struct RecordsIter<'r, 'a, T> {
    records: &'r Records<'a, T>,
    next: usize,
}

impl<'a, T: Record<'a>> Iterator for RecordsIter<'_, 'a, T> {
    type Item = T;
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

impl<'a, T: Record<'a>> ExactSizeIterator for RecordsIter<'_, 'a, T> {}

impl<'r, 'a, T: Record<'a>> IntoIterator for &'r Records<'a, T> {
    type Item = T;
    type IntoIter = RecordsIter<'r, 'a, T>;
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

/// One decoded BTF type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeInfo<'a> {
    /// Kind.
    pub kind: Kind,
    /// Name (empty when anonymous).
    pub name: &'a str,
    /// The `kind_flag` bit of `info`.
    pub kflag: bool,
    /// `size` for int, enum, enum64, struct, union, datasec, float; 0 otherwise.
    pub size: u32,
    /// `type` for ptr, typedef, modifiers, func, var, decl_tag, type_tag, and a func_proto's
    /// return type; 0 otherwise.
    pub ref_type: TypeId,
    /// Kind-specific data.
    pub detail: Detail<'a>,
}

impl<'a> TypeInfo<'a> {
    /// The `void` type (id 0).
    pub fn void() -> Self {
        TypeInfo {
            kind: Kind::Void,
            name: "",
            kflag: false,
            size: 0,
            ref_type: 0,
            detail: Detail::None,
        }
    }

    /// Members of a struct/union, empty for other kinds.
    pub fn members(&self) -> Records<'a, Member<'a>> {
        match &self.detail {
            Detail::Members(m) => *m,
            _ => Records::empty(),
        }
    }

    /// Enumerators of an enum/enum64, empty for other kinds.
    pub fn enumerators(&self) -> Records<'a, Enumerator<'a>> {
        match &self.detail {
            Detail::Enumerators(e) => *e,
            _ => Records::empty(),
        }
    }

    /// Parameters of a func_proto, empty for other kinds.
    pub fn params(&self) -> Records<'a, Param<'a>> {
        match &self.detail {
            Detail::Params(p) => *p,
            _ => Records::empty(),
        }
    }

    /// `btf_vlen`: number of members, enumerators or parameters.
    pub fn vlen(&self) -> usize {
        match &self.detail {
            Detail::Members(m) => m.len(),
            Detail::Enumerators(e) => e.len(),
            Detail::Params(p) => p.len(),
            _ => 0,
        }
    }

    /// `(encoding, offset, bits)` of an int.
    pub fn int_encoding(&self) -> Option<(u8, u8, u8)> {
        match self.detail {
            Detail::Int {
                encoding,
                offset,
                bits,
            } => Some((encoding, offset, bits)),
            _ => None,
        }
    }

    /// `(elem, nelems)` of an array.
    pub fn array(&self) -> Option<(TypeId, u32)> {
        match self.detail {
            Detail::Array { elem, nelems, .. } => Some((elem, nelems)),
            _ => None,
        }
    }
}

/// A BTF the CO-RE engine can read: local (the object's `.BTF`) or target (vmlinux, modules).
pub trait TypeSource {
    /// One past the highest valid id (`btf__type_cnt`): ids `0..type_count()` exist. For a
    /// split BTF this counts the base's types too.
    fn type_count(&self) -> u32;

    /// The first id this BTF owns: 1 for a base BTF, the base's type count for split BTF.
    /// Candidate search in a target scans `first_type_id()..type_count()`.
    fn first_type_id(&self) -> u32 {
        1
    }

    /// The type with this id, `None` when the id does not exist or cannot be decoded.
    fn type_by_id(&self, id: TypeId) -> Option<TypeInfo<'_>>;

    /// Name and kind of a type without decoding its members (used to index a target).
    fn name_and_kind(&self, id: TypeId) -> Option<(&str, Kind)> {
        self.type_by_id(id).map(|t| (t.name, t.kind))
    }

    /// Pointer size in bytes (8 for 64-bit targets).
    fn pointer_size(&self) -> u32 {
        8
    }

    /// Ids of the types named exactly `name` (any ids; the caller filters), when this BTF
    /// has a name index. With [`flavored_names`](Self::flavored_names) it lets the
    /// candidate search skip scanning every type. `None` (the default): no index.
    fn ids_by_name(&self, name: &str) -> Option<Vec<TypeId>> {
        let _ = name;
        None
    }

    /// Every string that may name a type of this BTF and has a `___flavor` suffix (a
    /// superset is fine, e.g. all such strings of the string table). `None` (the default):
    /// unknown, so the candidate search scans every type's name. A source that returns
    /// `Some` here must answer [`ids_by_name`](Self::ids_by_name) too.
    fn flavored_names(&self) -> Option<Vec<&str>> {
        None
    }

    /// For each name of `essentials`, the ids of this BTF's own types
    /// (`first_type_id()..type_count()`, ascending) whose [`essential_name`] it is, found in
    /// one cheap pass over the types without building an index (cheaper than an index for
    /// the few names one object relocates). `None` (the default): no such pass.
    fn ids_with_essential_names(&self, essentials: &[&str]) -> Option<Vec<Vec<TypeId>>> {
        let _ = essentials;
        None
    }
}

/// Longest typedef/modifier chain or nesting followed before a type is treated as malformed
/// (libbpf's `MAX_RESOLVE_DEPTH`).
pub(crate) const MAX_RESOLVE_DEPTH: usize = 32;

/// `skip_mods_and_typedefs`: follows typedefs and modifiers; returns the resolved id and type.
/// `None` when an id is missing or the chain is longer than [`MAX_RESOLVE_DEPTH`] * 8.
pub(crate) fn skip_mods_and_typedefs<S: TypeSource + ?Sized>(
    src: &S,
    mut id: TypeId,
) -> Option<(TypeId, TypeInfo<'_>)> {
    // libbpf has no bound here; a cycle in malformed BTF must not hang us.
    for _ in 0..MAX_RESOLVE_DEPTH * 8 {
        let t = src.type_by_id(id)?;
        if !t.kind.is_mod_or_typedef() {
            return Some((id, t));
        }
        id = t.ref_type;
    }
    None
}

/// Why [`resolve_size`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SizeError {
    /// void, func, func_proto, fwd, a missing id, or a chain deeper than the limit.
    Unsized,
    /// Size does not fit 32 bits.
    TooBig,
}

/// `btf__resolve_size`: the byte size of a type, through typedefs, modifiers, vars and arrays.
pub(crate) fn resolve_size<S: TypeSource + ?Sized>(
    src: &S,
    mut id: TypeId,
) -> Result<u64, SizeError> {
    let mut nelems: u32 = 1;
    let mut size: Option<u32> = None;
    for _ in 0..MAX_RESOLVE_DEPTH {
        let Some(t) = src.type_by_id(id) else { break };
        match t.kind {
            Kind::Void => break,
            Kind::Int
            | Kind::Struct
            | Kind::Union
            | Kind::Enum
            | Kind::Enum64
            | Kind::Datasec
            | Kind::Float => {
                size = Some(t.size);
                break;
            }
            Kind::Ptr => {
                size = Some(src.pointer_size());
                break;
            }
            Kind::Typedef
            | Kind::Volatile
            | Kind::Const
            | Kind::Restrict
            | Kind::Var
            | Kind::DeclTag
            | Kind::TypeTag => id = t.ref_type,
            Kind::Array => {
                let (elem, n) = t.array().ok_or(SizeError::Unsized)?;
                if nelems != 0 && n > u32::MAX / nelems {
                    return Err(SizeError::TooBig);
                }
                nelems *= n;
                id = elem;
            }
            Kind::Fwd | Kind::Func | Kind::FuncProto => return Err(SizeError::Unsized),
        }
    }
    let size = size.ok_or(SizeError::Unsized)?;
    if nelems != 0 && size > u32::MAX / nelems {
        return Err(SizeError::TooBig);
    }
    Ok(u64::from(nelems) * u64::from(size))
}

/// `bpf_core_essential_name_len`: the name without its last `___flavor` suffix. A suffix
/// starts at `X___Y` where neither `X` nor `Y` is an underscore.
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    let n = b.len();
    if n >= 5 {
        for i in (0..=n - 5).rev() {
            if b[i] != b'_'
                && b[i + 1] == b'_'
                && b[i + 2] == b'_'
                && b[i + 3] == b'_'
                && b[i + 4] != b'_'
            {
                // The cut is after an ASCII byte, so it is a char boundary.
                return &name[..=i];
            }
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::essential_name;

    #[test]
    fn essential_name_strips_the_last_flavor_only() {
        assert_eq!(essential_name("task_struct___2"), "task_struct");
        assert_eq!(essential_name("a___b___c"), "a___b");
        assert_eq!(essential_name("task_struct"), "task_struct");
        assert_eq!(essential_name("x____y"), "x____y");
        assert_eq!(essential_name("___x"), "___x");
        assert_eq!(essential_name("ab___"), "ab___");
        assert_eq!(essential_name("é___flavor"), "é");
    }
}
