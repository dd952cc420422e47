//! Type compatibility rules of CO-RE: field compat, type compat and TYPE_MATCHES matching.
//!
//! Each function follows the libbpf function of the same name (relo_core.c) rule by rule;
//! the tests in `relo/tests.rs` pin the edge cases. Unlike libbpf, every walk is bounded so
//! that cyclic malformed BTF yields [`ReloFailure::TooDeep`] instead of hanging.

use super::error::ReloFailure;
use super::types::CoreKind;
use super::types::{essential_name, skip_mods_and_typedefs, Kind, Type, TypeId, TypeSource};

/// How deep the mutual recursion of the compatibility checks may go (libbpf: 32 levels).
const MAX_LEVEL: i32 = 32;

/// How many type pairs one TYPE_MATCHES or type-compat check may compare. Real types need a few
/// thousand; crafted BTF (structs of many members of the same struct, 32 levels deep)
/// would otherwise take exponential time.
const MATCH_BUDGET: u32 = 1 << 20;

fn skip<'s, S: TypeSource + ?Sized>(
    src: &'s S,
    id: TypeId,
    which: &'static str,
) -> Result<(TypeId, Type<'s>), ReloFailure> {
    skip_mods_and_typedefs(src, id).ok_or(ReloFailure::InvalidTypeId { which, type_id: id })
}

fn by_id<'s, S: TypeSource + ?Sized>(
    src: &'s S,
    id: TypeId,
    which: &'static str,
) -> Result<Type<'s>, ReloFailure> {
    src.type_by_id(id)
        .ok_or(ReloFailure::InvalidTypeId { which, type_id: id })
}

fn int_offset(t: &Type<'_>) -> u8 {
    match t {
        Type::Int(i) => i.offset,
        _ => 0,
    }
}

fn int_signed(t: &Type<'_>) -> bool {
    matches!(t, Type::Int(i) if i.encoding.is_signed())
}

/// `bpf_core_types_are_compat`: may a TYPE_* relocation resolve local `local_id` to target
/// `targ_id`? Root names were already matched by the candidate search.
pub(crate) fn types_are_compat<L, T>(
    local: &L,
    local_id: TypeId,
    targ: &T,
    targ_id: TypeId,
) -> Result<bool, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    let mut budget = MATCH_BUDGET;
    types_are_compat_level(local, local_id, targ, targ_id, MAX_LEVEL, &mut budget)
}

fn types_are_compat_level<L, T>(
    local: &L,
    mut local_id: TypeId,
    targ: &T,
    mut targ_id: TypeId,
    level: i32,
    budget: &mut u32,
) -> Result<bool, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    if *budget == 0 {
        return Err(ReloFailure::TooDeep);
    }
    *budget -= 1;
    let lt = by_id(local, local_id, "local")?;
    let tt = by_id(targ, targ_id, "target")?;
    if !lt.kind().core_compat(tt.kind()) {
        return Ok(false);
    }
    for _ in 0..MAX_LEVEL {
        let (_, lt) = skip(local, local_id, "local")?;
        let (_, tt) = skip(targ, targ_id, "target")?;
        if !lt.kind().core_compat(tt.kind()) {
            return Ok(false);
        }
        match lt.kind() {
            Kind::Void | Kind::Struct | Kind::Union | Kind::Enum | Kind::Fwd | Kind::Enum64 => {
                return Ok(true)
            }
            Kind::Int => return Ok(int_offset(&lt) == 0 && int_offset(&tt) == 0),
            Kind::Ptr => {
                local_id = lt.referenced_type().unwrap_or(0);
                targ_id = tt.referenced_type().unwrap_or(0);
            }
            Kind::Array => {
                local_id = lt.array().map_or(0, |a| a.0);
                targ_id = tt.array().map_or(0, |a| a.0);
            }
            Kind::FuncProto => {
                let (lp, tp) = (lt.params(), tt.params());
                if lp.len() != tp.len() {
                    return Ok(false);
                }
                for (l, t) in lp.iter().zip(&tp) {
                    if level <= 0 {
                        return Err(ReloFailure::TooDeep);
                    }
                    let (l_arg, _) = skip(local, l.type_id, "local")?;
                    let (t_arg, _) = skip(targ, t.type_id, "target")?;
                    if !types_are_compat_level(local, l_arg, targ, t_arg, level - 1, budget)? {
                        return Ok(false);
                    }
                }
                local_id = skip(local, lt.referenced_type().unwrap_or(0), "local")?.0;
                targ_id = skip(targ, tt.referenced_type().unwrap_or(0), "target")?.0;
            }
            _ => return Ok(false),
        }
    }
    Err(ReloFailure::TooDeep)
}

/// `bpf_core_fields_are_compat`: may a local field of type `local_id` be read as a target
/// field of type `targ_id`?
pub(crate) fn fields_are_compat<L, T>(
    local: &L,
    mut local_id: TypeId,
    targ: &T,
    mut targ_id: TypeId,
) -> Result<bool, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    for _ in 0..MAX_LEVEL {
        let (_, lt) = skip(local, local_id, "local")?;
        let (_, tt) = skip(targ, targ_id, "target")?;
        if lt.kind().is_composite() && tt.kind().is_composite() {
            return Ok(true);
        }
        if !lt.kind().core_compat(tt.kind()) {
            return Ok(false);
        }
        match lt.kind() {
            Kind::Ptr | Kind::Float => return Ok(true),
            Kind::Fwd | Kind::Enum | Kind::Enum64 => {
                let ln = essential_name(lt.name());
                let tn = essential_name(tt.name());
                return Ok(ln.is_empty() || tn.is_empty() || ln == tn);
            }
            Kind::Int => return Ok(int_offset(&lt) == 0 && int_offset(&tt) == 0),
            Kind::Array => {
                local_id = lt.array().map_or(0, |a| a.0);
                targ_id = tt.array().map_or(0, |a| a.0);
            }
            _ => return Ok(false),
        }
    }
    Err(ReloFailure::TooDeep)
}

/// `bpf_core_names_match`: an anonymous target matches only an anonymous local; otherwise
/// the essential names must be equal.
fn names_match(local: &str, targ: &str) -> bool {
    if targ.is_empty() {
        return local.is_empty();
    }
    essential_name(local) == essential_name(targ)
}

/// `bpf_core_types_match`: does target `targ_id` structurally match local `local_id`
/// (`bpf_core_type_matches()`)? Root names were already matched by the candidate search.
pub(crate) fn types_match<L, T>(
    local: &L,
    local_id: TypeId,
    targ: &T,
    targ_id: TypeId,
) -> Result<bool, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    let mut budget = MATCH_BUDGET;
    types_match_level(
        local,
        local_id,
        targ,
        targ_id,
        false,
        MAX_LEVEL,
        &mut budget,
    )
}

fn types_match_level<L, T>(
    local: &L,
    mut local_id: TypeId,
    targ: &T,
    mut targ_id: TypeId,
    mut behind_ptr: bool,
    level: i32,
    budget: &mut u32,
) -> Result<bool, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    if level <= 0 || *budget == 0 {
        return Err(ReloFailure::TooDeep);
    }
    *budget -= 1;
    for _ in 0..MAX_LEVEL {
        let (_, lt) = skip(local, local_id, "local")?;
        let (_, tt) = skip(targ, targ_id, "target")?;
        if !names_match(lt.name(), tt.name()) {
            return Ok(false);
        }
        let (lk, tk) = (lt.kind(), tt.kind());
        match lk {
            Kind::Void => return Ok(lk == tk),
            Kind::Fwd => {
                let local_union = lt.kind_flag();
                if behind_ptr {
                    if lk == tk {
                        return Ok(local_union == tt.kind_flag());
                    }
                    return Ok(
                        (tk == Kind::Struct && !local_union) || (tk == Kind::Union && local_union)
                    );
                }
                return Ok(lk == tk && local_union == tt.kind_flag());
            }
            Kind::Enum | Kind::Enum64 => {
                if !tk.is_any_enum() {
                    return Ok(false);
                }
                return Ok(enums_match(&lt, &tt));
            }
            Kind::Struct | Kind::Union => {
                if behind_ptr {
                    if lk == tk {
                        return Ok(true);
                    }
                    if tk != Kind::Fwd {
                        return Ok(false);
                    }
                    return Ok((lk == Kind::Union) == tt.kind_flag());
                }
                if lk != tk {
                    return Ok(false);
                }
                return composites_match(local, &lt, targ, &tt, behind_ptr, level, budget);
            }
            Kind::Int => {
                if lk != tk {
                    return Ok(false);
                }
                return Ok(lt.size().unwrap_or(0) == tt.size().unwrap_or(0)
                    && int_signed(&lt) == int_signed(&tt));
            }
            Kind::Ptr => {
                if lk != tk {
                    return Ok(false);
                }
                behind_ptr = true;
                local_id = lt.referenced_type().unwrap_or(0);
                targ_id = tt.referenced_type().unwrap_or(0);
            }
            Kind::Array => {
                if lk != tk {
                    return Ok(false);
                }
                let (Some((l_elem, l_n)), Some((t_elem, t_n))) = (lt.array(), tt.array()) else {
                    return Ok(false);
                };
                if l_n != t_n {
                    return Ok(false);
                }
                local_id = l_elem;
                targ_id = t_elem;
            }
            Kind::FuncProto => {
                if lk != tk {
                    return Ok(false);
                }
                let (lp, tp) = (lt.params(), tt.params());
                if lp.len() != tp.len() {
                    return Ok(false);
                }
                for (l, t) in lp.iter().zip(&tp) {
                    if !types_match_level(
                        local,
                        l.type_id,
                        targ,
                        t.type_id,
                        behind_ptr,
                        level - 1,
                        budget,
                    )? {
                        return Ok(false);
                    }
                }
                local_id = lt.referenced_type().unwrap_or(0);
                targ_id = tt.referenced_type().unwrap_or(0);
            }
            _ => return Ok(false),
        }
    }
    Err(ReloFailure::TooDeep)
}

/// `bpf_core_enums_match`: same size, and every local enumerator name exists in the target.
fn enums_match(lt: &Type<'_>, tt: &Type<'_>) -> bool {
    if lt.size().unwrap_or(0) != tt.size().unwrap_or(0) {
        return false;
    }
    let (le, te) = (lt.enumerators(), tt.enumerators());
    if le.len() > te.len() {
        return false;
    }
    le.iter()
        .all(|l| te.iter().any(|t| names_match(l.name, t.name)))
}

/// `bpf_core_composites_match`: every local member has a same-named target member whose
/// type matches.
fn composites_match<L, T>(
    local: &L,
    lt: &Type<'_>,
    targ: &T,
    tt: &Type<'_>,
    behind_ptr: bool,
    level: i32,
    budget: &mut u32,
) -> Result<bool, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    let (lm, tm) = (lt.members(), tt.members());
    if lm.len() > tm.len() {
        return Ok(false);
    }
    for l in &lm {
        let mut matched = false;
        for t in &tm {
            if !names_match(l.name, t.name) {
                continue;
            }
            if types_match_level(
                local,
                l.type_id,
                targ,
                t.type_id,
                behind_ptr,
                level - 1,
                budget,
            )? {
                matched = true;
                break;
            }
        }
        if !matched {
            return Ok(false);
        }
    }
    Ok(true)
}
