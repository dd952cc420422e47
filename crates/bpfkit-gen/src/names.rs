//! Rust names for BTF types and members: keywords, clashes, anonymous types.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use bpfkit_obj::btf::{Btf, Kind, Type, TypeId};

use crate::collect::TypeSet;
use crate::GenError;

/// Rust keywords usable as raw identifiers (`r#type`).
const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// Keywords that cannot be raw identifiers: these get a `_` suffix.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Rust's primitive type names, which a type of the same name would shadow.
pub(crate) const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64",
];

/// `name` as a Rust identifier: `r#type`, `self_`.
pub(crate) fn ident(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

/// The identifier without a raw prefix, for building derived names (`set_type`).
pub(crate) fn bare(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// The Rust name of every emitted type, and the typedefs that are not emitted because they
/// are the type they name (`typedef struct foo foo`, `typedef __u8 u8`).
#[derive(Debug, Default)]
pub(crate) struct Naming {
    /// Rust identifier of each emitted nominal type (structs, unions, enums, typedefs,
    /// opaque forward declarations, and anonymous types).
    pub names: BTreeMap<TypeId, String>,
    /// Typedefs replaced by their target.
    pub elided: BTreeSet<TypeId>,
}

struct Namer {
    used: HashSet<String>,
}

impl Namer {
    /// A free identifier for `wanted`: itself, else `wanted___1`, `wanted___2`, …
    fn unique(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_string();
        let mut n = 1;
        while PRIMITIVES.contains(&candidate.as_str()) || !self.used.insert(candidate.clone()) {
            candidate = format!("{wanted}___{n}");
            n += 1;
        }
        ident(&candidate)
    }
}

fn rank(kind: Kind) -> u8 {
    match kind {
        Kind::Struct | Kind::Union => 0,
        Kind::Fwd => 1,
        Kind::Enum | Kind::Enum64 => 2,
        _ => 3,
    }
}

/// Skips const/volatile/restrict/type tags (not typedefs).
fn skip_mods(btf: &Btf<'_>, mut id: TypeId) -> Result<TypeId, GenError> {
    for _ in 0..bpfkit_obj::btf::MAX_RESOLVE_DEPTH {
        match btf.type_by_id(id)? {
            Type::Const(r) | Type::Volatile(r) | Type::Restrict(r) | Type::TypeTag(r) => {
                id = r.target
            }
            _ => return Ok(id),
        }
    }
    Ok(id)
}

/// The anonymous struct/union/enum a member type denotes through modifiers, arrays and
/// pointers, if any.
fn anonymous_under(btf: &Btf<'_>, mut id: TypeId) -> Result<Option<TypeId>, GenError> {
    for _ in 0..bpfkit_obj::btf::MAX_RESOLVE_DEPTH {
        match btf.type_by_id(id)? {
            Type::Const(r) | Type::Volatile(r) | Type::Restrict(r) | Type::TypeTag(r) => {
                id = r.target
            }
            Type::Array(a) => id = a.elem_type,
            Type::Ptr(p) => id = p.target,
            t @ (Type::Struct(_) | Type::Union(_) | Type::Enum(_) | Type::Enum64(_)) => {
                return Ok(t.name().is_empty().then_some(id))
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Names every type of the set, deterministically (by kind rank, then BTF id).
pub(crate) fn assign(btf: &Btf<'_>, set: &TypeSet) -> Result<Naming, GenError> {
    let mut naming = Naming::default();
    let mut namer = Namer {
        used: HashSet::new(),
    };
    let mut order: Vec<(u8, TypeId, Kind)> = Vec::with_capacity(set.nominal.len());
    for &id in &set.nominal {
        let kind = btf.kind(id)?;
        order.push((rank(kind), id, kind));
    }
    order.sort_unstable();

    for &(_, id, kind) in &order {
        let name = btf.name(id)?.to_string();
        if name.is_empty() {
            continue;
        }
        if kind == Kind::Typedef {
            let Type::Typedef(t) = btf.type_by_id(id)? else {
                continue;
            };
            let target = skip_mods(btf, t.target)?;
            let target_type = btf.type_by_id(target)?;
            let target = match target_type {
                Type::Fwd(_) => set.fwd_target.get(&target).copied().unwrap_or(target),
                _ => target,
            };
            let target_type = btf.type_by_id(target)?;
            let nominal_target = matches!(
                target_type,
                Type::Struct(_) | Type::Union(_) | Type::Enum(_) | Type::Enum64(_) | Type::Fwd(_)
            );
            // `typedef struct foo foo`: the struct is the type.
            if nominal_target && target_type.name() == name {
                naming.elided.insert(id);
                continue;
            }
            // `typedef unsigned char u8`: the primitive is the type.
            if PRIMITIVES.contains(&name.as_str()) {
                let resolved = btf.skip_mods_and_typedefs(t.target)?;
                if matches!(btf.kind(resolved)?, Kind::Int | Kind::Float) {
                    naming.elided.insert(id);
                    continue;
                }
            }
            // `typedef struct { … } foo_t`: the anonymous type takes the typedef's name.
            if nominal_target
                && target_type.name().is_empty()
                && set.nominal.contains(&target)
                && !naming.names.contains_key(&target)
                && !namer.used.contains(&name)
            {
                let ident = namer.unique(&name);
                naming.names.insert(target, ident);
                naming.elided.insert(id);
                continue;
            }
        }
        let ident = namer.unique(&name);
        naming.names.insert(id, ident);
    }

    // Anonymous types: named after the first parent (in id order) whose members reach them.
    let parents: Vec<TypeId> = order
        .iter()
        .filter(|(_, id, kind)| {
            matches!(kind, Kind::Struct | Kind::Union) && naming.names.contains_key(id)
        })
        .map(|(_, id, _)| *id)
        .collect();
    for parent in parents {
        name_anonymous_members(btf, set, &mut naming, &mut namer, parent)?;
    }
    for &(_, id, kind) in &order {
        if naming.names.contains_key(&id) || naming.elided.contains(&id) {
            continue;
        }
        let what = match kind {
            Kind::Union => "union",
            Kind::Enum | Kind::Enum64 => "enum",
            _ => "struct",
        };
        let ident = namer.unique(&format!("__anon_{what}_{id}"));
        naming.names.insert(id, ident);
        name_anonymous_members(btf, set, &mut naming, &mut namer, id)?;
    }
    Ok(naming)
}

/// Names the anonymous types reached from `parent`'s members `__anon_<parent>_<n>`,
/// depth first.
fn name_anonymous_members(
    btf: &Btf<'_>,
    set: &TypeSet,
    naming: &mut Naming,
    namer: &mut Namer,
    parent: TypeId,
) -> Result<(), GenError> {
    let members = btf.type_by_id(parent)?.members();
    if members.is_empty() {
        return Ok(());
    }
    // Nested anonymous types extend their parent's name: `__anon_slab_1_2`.
    let parent_name = bare(&naming.names[&parent]);
    let parent_name = parent_name
        .strip_prefix("__anon_")
        .unwrap_or(parent_name)
        .to_string();
    let mut n = 0;
    for member in members {
        let Some(anon) = anonymous_under(btf, member.type_id)? else {
            continue;
        };
        if naming.names.contains_key(&anon) || !set.nominal.contains(&anon) {
            continue;
        }
        n += 1;
        let ident = namer.unique(&format!("__anon_{parent_name}_{n}"));
        naming.names.insert(anon, ident);
        name_anonymous_members(btf, set, naming, namer, anon)?;
    }
    Ok(())
}
