//! Which BTF types to generate: the requested roots and everything they reach by value,
//! through pointers, arrays, typedefs and modifiers.

use std::collections::{BTreeMap, BTreeSet};

use bpfkit_obj::btf::{Btf, Kind, Type, TypeId};

use crate::GenError;

/// The types to emit.
#[derive(Debug, Default)]
pub(crate) struct TypeSet {
    /// Structs, unions, enums, typedefs and undefined forward declarations, by id.
    pub nominal: BTreeSet<TypeId>,
    /// Forward declarations that have a definition elsewhere in the BTF: fwd → definition.
    pub fwd_target: BTreeMap<TypeId, TypeId>,
}

/// The root ids for one requested name (`foo`, `struct foo`, `union foo`, `enum foo`,
/// `typedef foo`).
pub(crate) fn roots_named(btf: &Btf<'_>, request: &str) -> Result<Vec<TypeId>, GenError> {
    let request = request.trim();
    let (kinds, name): (&[Kind], &str) = match request.split_once(' ') {
        Some(("struct", n)) => (&[Kind::Struct], n.trim()),
        Some(("union", n)) => (&[Kind::Union], n.trim()),
        Some(("enum", n)) => (&[Kind::Enum, Kind::Enum64], n.trim()),
        Some(("typedef", n)) => (&[Kind::Typedef], n.trim()),
        _ => (
            &[
                Kind::Struct,
                Kind::Union,
                Kind::Enum,
                Kind::Enum64,
                Kind::Typedef,
            ],
            request,
        ),
    };
    let mut roots = Vec::new();
    let mut fwds = Vec::new();
    for id in btf.ids_by_name(name) {
        let kind = btf.kind(id)?;
        if kinds.contains(&kind) {
            roots.push(id);
        } else if kind == Kind::Fwd {
            fwds.push(id);
        }
    }
    if roots.is_empty() && kinds.len() > 1 {
        // Only declared, never defined: an opaque type is still a valid answer.
        roots = fwds;
    }
    if roots.is_empty() {
        return Err(GenError::UnknownType {
            name: request.to_string(),
        });
    }
    Ok(roots)
}

/// Every named struct, union, enum and typedef, and every anonymous enum (C's way of
/// declaring constants), in id order.
pub(crate) fn all_roots(btf: &Btf<'_>) -> Result<Vec<TypeId>, GenError> {
    let mut roots = Vec::new();
    for id in btf.local_ids() {
        let header = btf.type_header(id)?;
        let named = header.name_off != 0;
        let wanted = match header.kind {
            Kind::Struct | Kind::Union | Kind::Typedef => named,
            Kind::Enum | Kind::Enum64 => true,
            _ => false,
        };
        if wanted {
            roots.push(id);
        }
    }
    Ok(roots)
}

/// The definition a forward declaration stands for: the first struct (or union) of the
/// same name.
fn fwd_definition(btf: &Btf<'_>, name: &str, is_union: bool) -> Result<Option<TypeId>, GenError> {
    let want = if is_union { Kind::Union } else { Kind::Struct };
    for id in btf.ids_by_name(name) {
        if btf.kind(id)? == want {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Whether `id` (after modifiers and typedefs) is a function prototype.
pub(crate) fn is_function(btf: &Btf<'_>, id: TypeId) -> Result<bool, GenError> {
    let id = btf.skip_mods_and_typedefs(id)?;
    Ok(btf.kind(id)? == Kind::FuncProto)
}

/// The roots and everything they reach (through pointers too when `follow_pointers`).
pub(crate) fn reachable(
    btf: &Btf<'_>,
    roots: &[TypeId],
    follow_pointers: bool,
) -> Result<TypeSet, GenError> {
    let mut set = TypeSet::default();
    let mut seen = BTreeSet::new();
    let mut work: Vec<TypeId> = roots.to_vec();
    while let Some(id) = work.pop() {
        if !seen.insert(id) {
            continue;
        }
        match btf.type_by_id(id)? {
            Type::Struct(c) | Type::Union(c) => {
                set.nominal.insert(id);
                work.extend(c.members.iter().map(|m| m.type_id));
            }
            Type::Enum(_) | Type::Enum64(_) => {
                set.nominal.insert(id);
            }
            Type::Typedef(t) => {
                set.nominal.insert(id);
                work.push(t.target);
            }
            Type::Fwd(f) => match fwd_definition(btf, f.name, f.is_union)? {
                Some(def) => {
                    set.fwd_target.insert(id, def);
                    work.push(def);
                }
                None => {
                    set.nominal.insert(id);
                }
            },
            Type::Ptr(p) => {
                if follow_pointers && !is_function(btf, p.target)? {
                    work.push(p.target);
                }
            }
            Type::Array(a) => work.push(a.elem_type),
            Type::Const(r) | Type::Volatile(r) | Type::Restrict(r) | Type::TypeTag(r) => {
                work.push(r.target)
            }
            Type::Void | Type::Int(_) | Type::Float(_) | Type::FuncProto(_) => {}
            other @ (Type::Func(_) | Type::Var(_) | Type::Datasec(_) | Type::DeclTag(_)) => {
                return Err(GenError::NotAValueType {
                    id,
                    kind: other.kind(),
                })
            }
        }
    }
    Ok(set)
}

/// The `n` named structs and unions most referenced by members of structs and unions
/// (directly, or through typedefs, modifiers, arrays and pointers), most referenced first;
/// ties in name order.
pub(crate) fn most_referenced(btf: &Btf<'_>, n: usize) -> Result<Vec<TypeId>, GenError> {
    let mut counts: BTreeMap<TypeId, u32> = BTreeMap::new();
    for id in btf.local_ids() {
        for m in btf.type_by_id(id)?.members() {
            if let Some(target) = referenced_composite(btf, m.type_id)? {
                *counts.entry(target).or_default() += 1;
            }
        }
    }
    let mut ranked = Vec::with_capacity(counts.len());
    for (id, count) in counts {
        let name = btf.name(id)?;
        if !name.is_empty() {
            ranked.push((std::cmp::Reverse(count), name.to_string(), id));
        }
    }
    ranked.sort_unstable();
    Ok(ranked.into_iter().take(n).map(|(_, _, id)| id).collect())
}

/// The struct or union a member type refers to through typedefs, modifiers, arrays and
/// pointers.
fn referenced_composite(btf: &Btf<'_>, mut id: TypeId) -> Result<Option<TypeId>, GenError> {
    for _ in 0..bpfkit_obj::btf::MAX_RESOLVE_DEPTH {
        match btf.type_by_id(id)? {
            Type::Struct(_) | Type::Union(_) => return Ok(Some(id)),
            Type::Ptr(p) => id = p.target,
            Type::Array(a) => id = a.elem_type,
            Type::Typedef(r)
            | Type::Const(r)
            | Type::Volatile(r)
            | Type::Restrict(r)
            | Type::TypeTag(r) => id = r.target,
            _ => return Ok(None),
        }
    }
    Ok(None)
}
