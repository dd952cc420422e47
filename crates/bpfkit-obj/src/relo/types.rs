//! The view of BTF the CO-RE engine needs: decoded types by id, names, sizes, modifiers.
//!
//! The engine never parses BTF itself. Anything that can answer [`TypeSource`] — the
//! crate's BTF parser, a split module BTF on top of vmlinux, or an owned
//! [`BtfMut`](crate::btf::BtfMut) built in memory — can be a local or a target BTF.

pub use crate::btf::{Kind, Type, TypeId};

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
    fn type_by_id(&self, id: TypeId) -> Option<Type<'_>>;

    /// Name and kind of a type without decoding its members (used to index a target).
    fn name_and_kind(&self, id: TypeId) -> Option<(&str, Kind)> {
        self.type_by_id(id).map(|t| (t.name(), t.kind()))
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
) -> Option<(TypeId, Type<'_>)> {
    // libbpf has no bound here; a cycle in malformed BTF must not hang us.
    for _ in 0..MAX_RESOLVE_DEPTH * 8 {
        let t = src.type_by_id(id)?;
        if !t.kind().is_mod_or_typedef() {
            return Some((id, t));
        }
        id = t.referenced_type()?;
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
        match t.kind() {
            Kind::Void => break,
            Kind::Int
            | Kind::Struct
            | Kind::Union
            | Kind::Enum
            | Kind::Enum64
            | Kind::Datasec
            | Kind::Float => {
                size = t.size();
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
            | Kind::TypeTag => id = t.referenced_type().unwrap_or(0),
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
