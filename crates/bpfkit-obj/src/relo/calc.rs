//! Values of a relocation: what the local BTF predicts and what the target BTF gives.

use super::error::ReloFailure;
use super::patch::ByteOrder;
use super::spec::Spec;
use super::types::CoreKind;
use super::types::{resolve_size, skip_mods_and_typedefs, Kind, Type, TypeId, TypeSource};
use crate::btf::CoreReloKind;
use crate::btf::IntEncoding;

/// One side's computed value (`bpf_core_calc_*_relo` for a single spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Calc {
    /// The value, plus the field's memory size and type for load/store size fix-ups.
    Value {
        /// Value to put in the instruction.
        val: u64,
        /// Field size for FIELD_BYTE_OFFSET (element size for arrays), else 0.
        field_size: u32,
        /// Field type (after modifiers) for FIELD_BYTE_OFFSET, else 0.
        field_type: TypeId,
        /// Whether the instruction's current value must be checked against it.
        validate: bool,
    },
    /// No value exists (field/enumerator missing in the target): poison the instruction.
    Poison,
}

/// The result of resolving one relocation (`bpf_core_relo_res`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// Value the instruction is expected to hold (from the local BTF).
    pub orig_val: u64,
    /// Value to patch in.
    pub new_val: u64,
    /// Replace the instruction with an invalid call instead.
    pub poison: bool,
    /// Check the instruction against `orig_val`.
    pub validate: bool,
    /// The memory access size change is unsafe: poison loads/stores.
    pub fail_memsz_adjust: bool,
    /// Local field memory size.
    pub orig_size: u32,
    /// Target field memory size.
    pub new_size: u32,
}

fn size_u32<S: TypeSource + ?Sized>(
    src: &S,
    id: TypeId,
    which: &'static str,
) -> Result<u32, ReloFailure> {
    resolve_size(src, id)
        .ok()
        .and_then(|s| u32::try_from(s).ok())
        .ok_or(ReloFailure::InvalidSize { which, type_id: id })
}

/// Size of the innermost element of a (possibly multi-dimensional) array, or of the type.
fn element_size<S: TypeSource + ?Sized>(
    src: &S,
    id: TypeId,
    which: &'static str,
) -> Result<(u32, TypeId), ReloFailure> {
    let invalid = ReloFailure::InvalidTypeId { which, type_id: id };
    let (mut elem_id, mut t) = skip_mods_and_typedefs(src, id).ok_or(invalid.clone())?;
    let mut steps = 0;
    while t.kind() == Kind::Array {
        steps += 1;
        if steps > super::types::MAX_RESOLVE_DEPTH {
            return Err(ReloFailure::TooDeep);
        }
        let (elem, _) = t.array().ok_or(invalid.clone())?;
        (elem_id, t) = skip_mods_and_typedefs(src, elem).ok_or(invalid.clone())?;
    }
    Ok((size_u32(src, elem_id, which)?, elem_id))
}

/// `bpf_core_calc_field_relo` for one side; `spec` is `None` when no target matched.
pub(crate) fn field<S: TypeSource + ?Sized>(
    order: ByteOrder,
    kind: CoreReloKind,
    src: &S,
    spec: Option<&Spec<'_>>,
    which: &'static str,
) -> Result<Calc, ReloFailure> {
    if kind == CoreReloKind::FieldExists {
        return Ok(Calc::Value {
            val: u64::from(spec.is_some()),
            field_size: 0,
            field_type: 0,
            validate: true,
        });
    }
    let Some(spec) = spec else {
        return Ok(Calc::Poison);
    };
    let acc = spec
        .accessors
        .last()
        .ok_or(ReloFailure::InvalidAccessString {
            detail: "no accessor",
        })?;

    if acc.name.is_none() {
        // Array element (or the root itself): only offset and size make sense.
        return match kind {
            CoreReloKind::FieldByteOffset => {
                let (field_size, _) = element_size(src, acc.type_id, which)?;
                Ok(Calc::Value {
                    val: u64::from(spec.bit_offset / 8),
                    field_size,
                    field_type: acc.type_id,
                    validate: true,
                })
            }
            CoreReloKind::FieldByteSize => Ok(Calc::Value {
                val: u64::from(size_u32(src, acc.type_id, which)?),
                field_size: 0,
                field_type: 0,
                validate: true,
            }),
            _ => Err(ReloFailure::ArrayAccessKind { kind }),
        };
    }

    let invalid = ReloFailure::InvalidTypeId {
        which,
        type_id: acc.type_id,
    };
    let parent = src.type_by_id(acc.type_id).ok_or(invalid.clone())?;
    let member = parent.members().get(acc.idx as usize).ok_or(invalid)?;
    let (field_type, mt) =
        skip_mods_and_typedefs(src, member.type_id).ok_or(ReloFailure::InvalidTypeId {
            which,
            type_id: member.type_id,
        })?;
    let bit_off = spec.bit_offset;
    let mut bit_sz = u32::from(member.bitfield_size);
    let bitfield = bit_sz > 0;
    let (mut byte_sz, mut byte_off);
    if bitfield {
        byte_sz = mt.size().unwrap_or(0);
        if byte_sz == 0 {
            return Err(ReloFailure::InvalidSize {
                which,
                type_id: field_type,
            });
        }
        byte_off = bit_off / 8 / byte_sz * byte_sz;
        // Smallest load unit that holds the whole bitfield.
        while u64::from(bit_off) + u64::from(bit_sz) - u64::from(byte_off) * 8
            > u64::from(byte_sz) * 8
        {
            if byte_sz >= 8 {
                return Err(ReloFailure::BitfieldTooWide {
                    bit_offset: bit_off,
                    bit_size: bit_sz,
                });
            }
            byte_sz *= 2;
            byte_off = bit_off / 8 / byte_sz * byte_sz;
        }
    } else {
        byte_sz = size_u32(src, field_type, which)?;
        byte_off = bit_off / 8;
        bit_sz = byte_sz.wrapping_mul(8);
    }
    // Bitfield offsets and sizes are ambiguous (the compiler may pick another load unit),
    // so only signedness and the right shift are validated for them.
    let mut validate = !bitfield;
    let mut field_size = 0;
    let mut field_type_out = 0;
    let val = match kind {
        CoreReloKind::FieldByteOffset => {
            if !bitfield {
                field_size = element_size(src, field_type, which)?.0;
                field_type_out = field_type;
            }
            u64::from(byte_off)
        }
        CoreReloKind::FieldByteSize => u64::from(byte_sz),
        CoreReloKind::FieldSigned => {
            validate = true;
            let signed = (mt.kind().is_any_enum() && mt.kind_flag())
                || matches!(mt, Type::Int(i) if i.encoding.is_signed());
            u64::from(signed)
        }
        // Little-endian layout; libbpf computes these in 32-bit unsigned arithmetic.
        // libbpf computes these in 32-bit unsigned arithmetic.
        CoreReloKind::FieldLshiftU64 => u64::from(match order {
            ByteOrder::LittleEndian => 64u32.wrapping_sub(
                bit_off
                    .wrapping_add(bit_sz)
                    .wrapping_sub(byte_off.wrapping_mul(8)),
            ),
            ByteOrder::BigEndian => (8u32.wrapping_sub(byte_sz))
                .wrapping_mul(8)
                .wrapping_add(bit_off.wrapping_sub(byte_off.wrapping_mul(8))),
        }),
        CoreReloKind::FieldRshiftU64 => {
            validate = true;
            u64::from(64u32.wrapping_sub(bit_sz))
        }
        _ => return Err(ReloFailure::UnsupportedKind { kind }),
    };
    Ok(Calc::Value {
        val,
        field_size,
        field_type: field_type_out,
        validate,
    })
}

/// `bpf_core_calc_type_relo` for one side; `spec` is `None` when no target matched.
pub(crate) fn type_based<S: TypeSource + ?Sized>(
    kind: CoreReloKind,
    src: &S,
    spec: Option<&Spec<'_>>,
    which: &'static str,
) -> Result<Calc, ReloFailure> {
    let Some(spec) = spec else {
        return Ok(Calc::Value {
            val: 0,
            field_size: 0,
            field_type: 0,
            validate: true,
        });
    };
    let (val, validate) = match kind {
        // The id in the insn may have changed during static linking: never validated.
        CoreReloKind::TypeIdTarget => (u64::from(spec.root_type_id), false),
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => (1, true),
        CoreReloKind::TypeSize => (u64::from(size_u32(src, spec.root_type_id, which)?), true),
        _ => return Err(ReloFailure::UnsupportedKind { kind }),
    };
    Ok(Calc::Value {
        val,
        field_size: 0,
        field_type: 0,
        validate,
    })
}

/// `bpf_core_calc_enumval_relo` for one side; `spec` is `None` when no target matched.
pub(crate) fn enumval<S: TypeSource + ?Sized>(
    kind: CoreReloKind,
    src: &S,
    spec: Option<&Spec<'_>>,
    which: &'static str,
) -> Result<Calc, ReloFailure> {
    let val = match (kind, spec) {
        (CoreReloKind::EnumvalExists, s) => u64::from(s.is_some()),
        (CoreReloKind::EnumvalValue, None) => return Ok(Calc::Poison),
        (CoreReloKind::EnumvalValue, Some(spec)) => {
            let acc = spec
                .accessors
                .first()
                .ok_or(ReloFailure::InvalidAccessString {
                    detail: "no accessor",
                })?;
            let invalid = ReloFailure::InvalidTypeId {
                which,
                type_id: acc.type_id,
            };
            let t = src.type_by_id(acc.type_id).ok_or(invalid.clone())?;
            t.enumerators()
                .get(acc.idx as usize)
                .ok_or(invalid)?
                .value_core(t.kind() == Kind::Enum64)
        }
        _ => return Err(ReloFailure::UnsupportedKind { kind }),
    };
    Ok(Calc::Value {
        val,
        field_size: 0,
        field_type: 0,
        validate: true,
    })
}

fn side<S: TypeSource + ?Sized>(
    order: ByteOrder,
    kind: CoreReloKind,
    src: &S,
    spec: Option<&Spec<'_>>,
    which: &'static str,
) -> Result<Calc, ReloFailure> {
    if kind.is_field_based() {
        field(order, kind, src, spec, which)
    } else if kind.is_type_based() {
        type_based(kind, src, spec, which)
    } else {
        enumval(kind, src, spec, which)
    }
}

/// `bpf_core_calc_relo`: local and target values of one relocation for one candidate
/// (`targ == None`: no candidate matched).
pub(crate) fn resolve<L, T>(
    order: ByteOrder,
    kind: CoreReloKind,
    local: &L,
    local_spec: &Spec<'_>,
    targ: Option<(&T, &Spec<'_>)>,
) -> Result<Resolution, ReloFailure>
where
    L: TypeSource + ?Sized,
    T: TypeSource + ?Sized,
{
    let mut res = Resolution {
        orig_val: 0,
        new_val: 0,
        poison: false,
        validate: true,
        fail_memsz_adjust: false,
        orig_size: 0,
        new_size: 0,
    };
    let (orig_type, new_type);
    match side(order, kind, local, Some(local_spec), "local")? {
        Calc::Poison => {
            res.poison = true;
            return Ok(res);
        }
        Calc::Value {
            val,
            field_size,
            field_type,
            validate,
        } => {
            res.orig_val = val;
            res.orig_size = field_size;
            res.validate = validate;
            orig_type = field_type;
        }
    }
    let target = match targ {
        Some((src, spec)) => side(order, kind, src, Some(spec), "target")?,
        None => side(order, kind, local, None, "target")?,
    };
    match target {
        Calc::Poison => {
            res.poison = true;
            return Ok(res);
        }
        Calc::Value {
            val,
            field_size,
            field_type,
            ..
        } => {
            res.new_val = val;
            res.new_size = field_size;
            new_type = field_type;
        }
    }
    if kind.is_field_based() && res.orig_size != res.new_size {
        // Resizing a load is safe only for pointers (32-bit kernels) and unsigned ints
        // (zero extension keeps the value).
        let Some((targ_src, _)) = targ else {
            return Ok(res);
        };
        let lt = local.type_by_id(orig_type);
        let nt = targ_src.type_by_id(new_type);
        let safe = match (lt, nt) {
            (Some(l), Some(n)) if l.kind() == Kind::Ptr && n.kind() == Kind::Ptr => true,
            (Some(l), Some(n)) if l.kind() == Kind::Int && n.kind() == Kind::Int => {
                let enc = |t: &Type<'_>| match t {
                    Type::Int(i) => i.encoding.0,
                    _ => 0,
                };
                enc(&l) != IntEncoding::SIGNED && enc(&n) != IntEncoding::SIGNED
            }
            _ => false,
        };
        res.fail_memsz_adjust = !safe;
    }
    Ok(res)
}
