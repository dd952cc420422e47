//! Access specs: parsing `"0:1:2"` against the local BTF and matching it in a target type.
//!
//! A spec has a low-level form (`raw`: one index per access-string element, including steps
//! through anonymous members) and a high-level form (`accessors`: the named fields and array
//! indices only), plus the bit offset the access reaches — as libbpf's `bpf_core_spec`.

use super::error::ReloFailure;
use super::types::CoreKind;
use super::types::{
    essential_name, resolve_size, skip_mods_and_typedefs, Kind, SizeError, Type, TypeId, TypeSource,
};
use crate::btf::CoreReloKind;

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`.
pub(crate) const SPEC_MAX_LEN: usize = 64;

/// How many target members one member search may visit. Real structs need hundreds;
/// crafted BTF (anonymous members sharing anonymous types, 64 levels deep) would otherwise
/// take exponential time.
const MEMBER_BUDGET: u32 = 1 << 20;

/// One high-level step: a named member of `type_id`, or element `idx` of type `type_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Accessor<'a> {
    /// The struct/union holding the member, or the array element type (after modifiers).
    pub type_id: TypeId,
    /// Member index, array index or enumerator index.
    pub idx: u32,
    /// Member or enumerator name; `None` for an array index.
    pub name: Option<&'a str>,
}

/// A resolved access: `bpf_core_spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Spec<'a> {
    /// The relocation's root type id, as given (modifiers not skipped).
    pub root_type_id: TypeId,
    /// High-level accessors.
    pub accessors: Vec<Accessor<'a>>,
    /// Low-level access indices.
    pub raw: Vec<u32>,
    /// Bit offset of the accessed field from the start of the root.
    pub bit_offset: u32,
}

fn size_of<S: TypeSource + ?Sized>(
    src: &S,
    id: TypeId,
    which: &'static str,
) -> Result<u64, ReloFailure> {
    resolve_size(src, id).map_err(|e| match e {
        SizeError::Unsized | SizeError::TooBig => ReloFailure::InvalidSize { which, type_id: id },
    })
}

fn add_bits(base: u32, idx: u32, size: u64) -> Result<u32, ReloFailure> {
    u64::from(idx)
        .checked_mul(size)
        .and_then(|v| v.checked_mul(8))
        .and_then(|v| v.checked_add(u64::from(base)))
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(ReloFailure::OffsetOverflow)
}

/// Parses the access string into raw indices (`bpf_core_parse_spec`'s first half).
fn parse_access(access: &str) -> Result<Vec<u32>, ReloFailure> {
    if access.is_empty() || access.starts_with(':') {
        return Err(ReloFailure::InvalidAccessString {
            detail: "empty or starts with ':'",
        });
    }
    let mut raw = Vec::new();
    for part in access.split(':') {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReloFailure::InvalidAccessString {
                detail: "an element is not a decimal index",
            });
        }
        let idx: u32 = part
            .parse()
            .ok()
            .filter(|v| i32::try_from(*v).is_ok())
            .ok_or(ReloFailure::InvalidAccessString {
                detail: "an index does not fit 31 bits",
            })?;
        if raw.len() == SPEC_MAX_LEN {
            return Err(ReloFailure::AccessTooLong { max: SPEC_MAX_LEN });
        }
        raw.push(idx);
    }
    Ok(raw)
}

/// `is_flex_arr`: an array of 0 elements that is the last member of the struct reached by
/// the previous (named) accessor.
fn is_flex_arr<S: TypeSource + ?Sized>(src: &S, prev: Option<&Accessor<'_>>, nelems: u32) -> bool {
    let Some(prev) = prev else { return false };
    if prev.name.is_none() || nelems > 0 {
        return false;
    }
    src.type_by_id(prev.type_id)
        .is_some_and(|t| t.vlen() > 0 && prev.idx as usize == t.vlen() - 1)
}

/// `bpf_core_parse_spec`: the local spec of a relocation.
pub(crate) fn parse_spec<'a, S: TypeSource + ?Sized>(
    src: &'a S,
    kind: CoreReloKind,
    root_type_id: TypeId,
    access: &str,
) -> Result<Spec<'a>, ReloFailure> {
    if access.is_empty() || access.starts_with(':') {
        return Err(ReloFailure::InvalidAccessString {
            detail: "empty or starts with ':'",
        });
    }
    let mut spec = Spec {
        root_type_id,
        ..Spec::default()
    };
    if kind.is_type_based() {
        if access != "0" {
            return Err(ReloFailure::InvalidAccessString {
                detail: "a type relocation's access string must be \"0\"",
            });
        }
        return Ok(spec);
    }
    spec.raw = parse_access(access)?;
    let (mut id, t) =
        skip_mods_and_typedefs(src, root_type_id).ok_or(ReloFailure::InvalidTypeId {
            which: "local",
            type_id: root_type_id,
        })?;
    let first = spec.raw[0];

    if kind.is_enumval_based() {
        if !t.kind().is_any_enum() {
            return Err(ReloFailure::NotAnEnum {
                type_id: id,
                kind: t.kind(),
            });
        }
        let enumerators = t.enumerators();
        if spec.raw.len() > 1 || first as usize >= enumerators.len() {
            return Err(ReloFailure::AccessOutOfRange {
                position: 0,
                index: first,
                limit: enumerators.len() as u64,
            });
        }
        spec.accessors.push(Accessor {
            type_id: id,
            idx: first,
            name: enumerators.get(first as usize).map(|e| e.name),
        });
        return Ok(spec);
    }

    spec.accessors.push(Accessor {
        type_id: id,
        idx: first,
        name: None,
    });
    let size = size_of(src, id, "local")?;
    spec.bit_offset = add_bits(0, first, size)?;

    for position in 1..spec.raw.len() {
        let idx = spec.raw[position];
        let (cur, t): (TypeId, Type<'a>) =
            skip_mods_and_typedefs(src, id).ok_or(ReloFailure::InvalidTypeId {
                which: "local",
                type_id: id,
            })?;
        id = cur;
        if t.kind().is_composite() {
            let members = t.members();
            let m = members
                .get(idx as usize)
                .ok_or(ReloFailure::AccessOutOfRange {
                    position,
                    index: idx,
                    limit: members.len() as u64,
                })?;
            spec.bit_offset = spec
                .bit_offset
                .checked_add(m.bit_offset)
                .ok_or(ReloFailure::OffsetOverflow)?;
            if !m.name.is_empty() {
                spec.accessors.push(Accessor {
                    type_id: id,
                    idx,
                    name: Some(m.name),
                });
            }
            id = m.type_id;
        } else if t.kind() == Kind::Array {
            let (elem, nelems) = t.array().ok_or(ReloFailure::InvalidTypeId {
                which: "local",
                type_id: id,
            })?;
            let (elem_id, _) =
                skip_mods_and_typedefs(src, elem).ok_or(ReloFailure::InvalidTypeId {
                    which: "local",
                    type_id: elem,
                })?;
            id = elem_id;
            let flex = is_flex_arr(src, spec.accessors.last(), nelems);
            if !flex && idx >= nelems {
                return Err(ReloFailure::AccessOutOfRange {
                    position,
                    index: idx,
                    limit: u64::from(nelems),
                });
            }
            spec.accessors.push(Accessor {
                type_id: id,
                idx,
                name: None,
            });
            let size = size_of(src, id, "local")?;
            spec.bit_offset = add_bits(spec.bit_offset, idx, size)?;
        } else {
            return Err(ReloFailure::UnexpectedAccessKind {
                position,
                type_id: id,
                kind: t.kind(),
            });
        }
    }
    Ok(spec)
}

/// `bpf_core_match_member`: finds the local accessor's member by name in target composite
/// `targ_id`, descending into anonymous members; extends `spec` on success and returns the
/// member's type id.
fn match_member<'t, L, T>(
    local: &L,
    local_acc: &Accessor<'_>,
    targ: &'t T,
    targ_id: TypeId,
    spec: &mut Spec<'t>,
    budget: &mut u32,
) -> Result<Option<TypeId>, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    let (targ_id, tt) =
        skip_mods_and_typedefs(targ, targ_id).ok_or(ReloFailure::InvalidTypeId {
            which: "target",
            type_id: targ_id,
        })?;
    if !tt.kind().is_composite() {
        return Ok(None);
    }
    let lt = local
        .type_by_id(local_acc.type_id)
        .ok_or(ReloFailure::InvalidTypeId {
            which: "local",
            type_id: local_acc.type_id,
        })?;
    let local_member =
        lt.members()
            .get(local_acc.idx as usize)
            .ok_or(ReloFailure::InvalidTypeId {
                which: "local",
                type_id: local_acc.type_id,
            })?;

    for (i, m) in tt.members().iter().enumerate() {
        if spec.raw.len() == SPEC_MAX_LEN {
            return Err(ReloFailure::AccessTooLong { max: SPEC_MAX_LEN });
        }
        if *budget == 0 {
            return Err(ReloFailure::TooDeep);
        }
        *budget -= 1;
        let saved_offset = spec.bit_offset;
        spec.bit_offset = spec
            .bit_offset
            .checked_add(m.bit_offset)
            .ok_or(ReloFailure::OffsetOverflow)?;
        spec.raw.push(i as u32);
        if m.name.is_empty() {
            if let Some(found) = match_member(local, local_acc, targ, m.type_id, spec, budget)? {
                return Ok(Some(found));
            }
        } else if m.name == local_member.name {
            if super::compat::fields_are_compat(local, local_member.type_id, targ, m.type_id)? {
                spec.accessors.push(Accessor {
                    type_id: targ_id,
                    idx: i as u32,
                    name: Some(m.name),
                });
                return Ok(Some(m.type_id));
            }
            // libbpf stops at the first same-named member, compatible or not.
            return Ok(None);
        }
        spec.bit_offset = saved_offset;
        spec.raw.pop();
    }
    Ok(None)
}

/// `bpf_core_spec_match`: matches `local_spec` against candidate `targ_id`; `None` when the
/// candidate does not match.
pub(crate) fn match_spec<'t, L, T>(
    local: &L,
    local_spec: &Spec<'_>,
    kind: CoreReloKind,
    targ: &'t T,
    targ_id: TypeId,
) -> Result<Option<Spec<'t>>, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    let mut spec = Spec {
        root_type_id: targ_id,
        ..Spec::default()
    };
    if kind.is_type_based() {
        let ok = if kind == CoreReloKind::TypeMatches {
            super::compat::types_match(local, local_spec.root_type_id, targ, targ_id)?
        } else {
            super::compat::types_are_compat(local, local_spec.root_type_id, targ, targ_id)?
        };
        return Ok(ok.then_some(spec));
    }
    let Some(local_acc) = local_spec.accessors.first() else {
        return Ok(None);
    };

    if kind.is_enumval_based() {
        let (targ_id, tt) =
            skip_mods_and_typedefs(targ, targ_id).ok_or(ReloFailure::InvalidTypeId {
                which: "target",
                type_id: targ_id,
            })?;
        if !tt.kind().is_any_enum() {
            return Ok(None);
        }
        let local_name = essential_name(local_acc.name.unwrap_or(""));
        for (i, e) in tt.enumerators().iter().enumerate() {
            if essential_name(e.name) == local_name {
                spec.accessors.push(Accessor {
                    type_id: targ_id,
                    idx: i as u32,
                    name: Some(e.name),
                });
                spec.raw.push(i as u32);
                return Ok(Some(spec));
            }
        }
        return Ok(None);
    }

    let mut targ_id = targ_id;
    for (i, local_acc) in local_spec.accessors.iter().enumerate() {
        let (cur, tt) =
            skip_mods_and_typedefs(targ, targ_id).ok_or(ReloFailure::InvalidTypeId {
                which: "target",
                type_id: targ_id,
            })?;
        targ_id = cur;
        if local_acc.name.is_some() {
            let mut budget = MEMBER_BUDGET;
            match match_member(local, local_acc, targ, targ_id, &mut spec, &mut budget)? {
                Some(next) => targ_id = next,
                None => return Ok(None),
            }
            continue;
        }
        if i > 0 {
            if tt.kind() != Kind::Array {
                return Ok(None);
            }
            let Some((elem, nelems)) = tt.array() else {
                return Ok(None);
            };
            let flex = is_flex_arr(targ, spec.accessors.last(), nelems);
            if !flex && local_acc.idx >= nelems {
                return Ok(None);
            }
            targ_id = skip_mods_and_typedefs(targ, elem)
                .ok_or(ReloFailure::InvalidTypeId {
                    which: "target",
                    type_id: elem,
                })?
                .0;
        }
        if spec.raw.len() == SPEC_MAX_LEN {
            return Err(ReloFailure::AccessTooLong { max: SPEC_MAX_LEN });
        }
        spec.accessors.push(Accessor {
            type_id: targ_id,
            idx: local_acc.idx,
            name: None,
        });
        spec.raw.push(local_acc.idx);
        let size = size_of(targ, targ_id, "target")?;
        spec.bit_offset = add_bits(spec.bit_offset, local_acc.idx, size)?;
    }
    Ok(Some(spec))
}
