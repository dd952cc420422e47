//! Externs: `__kconfig` values, `__ksym` kernel variables and kfuncs, found in the symbol
//! table and typed through BTF, and the `.kconfig` map that holds kconfig values.

use object::elf;

use crate::btf::{Btf, FuncLinkage, Kind, Type, TypeId, VarLinkage};

use super::data::{internal_map_name, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG};
use super::elf::Elf;
use super::error::ObjectError;
use super::kinds::MapType;
use super::maps::{MapDefinition, MapSpec, Pinning};

/// The `DATASEC` of kconfig externs.
pub const KCONFIG_SECTION: &str = ".kconfig";
/// The `DATASEC` of ksym externs.
pub const KSYMS_SECTION: &str = ".ksyms";

/// How a kconfig value is stored (libbpf's `enum kcfg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KconfigType {
    /// `bool`: `y` → 1, `n` → 0.
    Bool,
    /// `enum libbpf_tristate`: `y`, `m`, `n`.
    Tristate,
    /// One `char`.
    Char,
    /// An integer of 1, 2, 4 or 8 bytes.
    Int {
        /// Whether the integer is signed.
        signed: bool,
    },
    /// A `char[N]` string.
    CharArray,
}

/// What an extern refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExternKind {
    /// A `CONFIG_*` (or `LINUX_KERNEL_VERSION`, ...) value in the `.kconfig` map.
    Kconfig {
        /// How the value is stored.
        kind: KconfigType,
        /// Size in bytes.
        size: u32,
        /// Alignment in bytes.
        align: u32,
        /// Offset in the `.kconfig` map's value.
        offset: u32,
    },
    /// A kernel variable (`__ksym`), resolved to its address or BTF id at load time.
    KsymVariable {
        /// The variable's type in the object's BTF after modifiers and typedefs
        /// (0 = `void`: untyped, resolved through kallsyms).
        type_id: TypeId,
    },
    /// A kernel function called from BPF (kfunc).
    Kfunc {
        /// The `FUNC` type id in the object's BTF.
        func_id: TypeId,
    },
    /// An undefined symbol without BTF (old objects): the loader must be told its value.
    Untyped,
}

/// An extern symbol of the object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternSpec {
    /// The symbol name.
    pub name: String,
    /// `__weak`: a missing kernel symbol or config value is not an error.
    pub weak: bool,
    /// The `VAR` or `FUNC` type id in the object's BTF (0 when there is no BTF).
    pub btf_id: TypeId,
    /// What it is.
    pub kind: ExternKind,
}

fn btf_err(name: &str, e: impl std::fmt::Display) -> ObjectError {
    ObjectError::Extern {
        name: name.to_string(),
        reason: format!("BTF: {e}"),
    }
}

fn kconfig_type(btf: &Btf<'_>, id: TypeId, name: &str) -> Result<Option<KconfigType>, ObjectError> {
    let id = btf
        .skip_mods_and_typedefs(id)
        .map_err(|e| btf_err(name, e))?;
    Ok(match btf.type_by_id(id).map_err(|e| btf_err(name, e))? {
        Type::Int(i) => {
            if i.encoding.is_bool() {
                (i.size == 1).then_some(KconfigType::Bool)
            } else if i.size == 1 {
                Some(KconfigType::Char)
            } else if matches!(i.size, 2 | 4 | 8) {
                Some(KconfigType::Int {
                    signed: i.encoding.is_signed(),
                })
            } else {
                None
            }
        }
        Type::Enum(e) if e.size == 4 && e.name == "libbpf_tristate" => Some(KconfigType::Tristate),
        Type::Enum64(e) if e.name == "libbpf_tristate" => Some(KconfigType::Tristate),
        // Only arrays of chars (1-byte, non-bool integers); no recursion, so a BTF loop
        // cannot exhaust the stack.
        Type::Array(a) if a.nelems > 0 => {
            let elem = btf
                .skip_mods_and_typedefs(a.elem_type)
                .map_err(|e| btf_err(name, e))?;
            match btf.type_by_id(elem).map_err(|e| btf_err(name, e))? {
                Type::Int(i) if i.size == 1 && !i.encoding.is_bool() => {
                    Some(KconfigType::CharArray)
                }
                _ => None,
            }
        }
        _ => None,
    })
}

/// Alignment of the scalar and array types kconfig externs can have.
fn align_of(btf: &Btf<'_>, id: TypeId, name: &str) -> Result<u32, ObjectError> {
    let id = btf
        .skip_mods_and_typedefs(id)
        .map_err(|e| btf_err(name, e))?;
    match btf.type_by_id(id).map_err(|e| btf_err(name, e))? {
        Type::Int(t) => Ok(t.size.clamp(1, 8)),
        Type::Enum(t) | Type::Enum64(t) => Ok(t.size.clamp(1, 8)),
        // kconfig arrays are char arrays (checked by `kconfig_type`).
        Type::Array(_) => Ok(1),
        other => Err(ObjectError::Extern {
            name: name.to_string(),
            reason: format!("cannot align a kconfig value of kind {}", other.kind()),
        }),
    }
}

/// The externs of the object, sorted like libbpf: kconfig first by (alignment descending,
/// size, name), then ksyms by name; kconfig offsets assigned in that order.
pub(crate) fn collect_externs(
    elf: &Elf<'_>,
    btf: Option<&Btf<'_>>,
) -> Result<Vec<ExternSpec>, ObjectError> {
    let mut externs = Vec::new();
    for sym in elf.symbols.iter().filter(|s| s.is_extern()) {
        let weak = sym.bind == elf::STB_WEAK;
        let Some(btf) = btf else {
            externs.push(ExternSpec {
                name: sym.name.clone(),
                weak,
                btf_id: 0,
                kind: ExternKind::Untyped,
            });
            continue;
        };
        let btf_id = find_extern_btf_id(btf, &sym.name)?;
        let Some(btf_id) = btf_id else {
            // No BTF for this symbol: libbpf refuses; old loaders substitute a constant.
            externs.push(ExternSpec {
                name: sym.name.clone(),
                weak,
                btf_id: 0,
                kind: ExternKind::Untyped,
            });
            continue;
        };
        let section = datasec_of(btf, btf_id).ok_or_else(|| ObjectError::Extern {
            name: sym.name.clone(),
            reason: "no DATASEC lists it (.kconfig or .ksyms expected)".into(),
        })?;
        let ty = btf.type_by_id(btf_id).map_err(|e| btf_err(&sym.name, e))?;
        let kind = match (section.as_str(), ty) {
            (KCONFIG_SECTION, Type::Var(var)) => {
                let kind = kconfig_type(btf, var.type_id, &sym.name)?.ok_or_else(|| {
                    ObjectError::Extern {
                        name: sym.name.clone(),
                        reason: "kconfig type is not bool, tristate, char, integer or char array"
                            .into(),
                    }
                })?;
                let size = btf
                    .resolve_size(var.type_id)
                    .map_err(|e| btf_err(&sym.name, e))?;
                ExternKind::Kconfig {
                    kind,
                    size: u32::try_from(size).unwrap_or(u32::MAX),
                    align: align_of(btf, var.type_id, &sym.name)?,
                    offset: 0,
                }
            }
            (KCONFIG_SECTION, _) => {
                return Err(ObjectError::Extern {
                    name: sym.name.clone(),
                    reason: "extern functions are not allowed in .kconfig".into(),
                })
            }
            (KSYMS_SECTION, Type::Var(var)) => ExternKind::KsymVariable {
                type_id: btf
                    .skip_mods_and_typedefs(var.type_id)
                    .map_err(|e| btf_err(&sym.name, e))?,
            },
            (KSYMS_SECTION, Type::Func(_)) => ExternKind::Kfunc { func_id: btf_id },
            (other, _) => {
                return Err(ObjectError::Extern {
                    name: sym.name.clone(),
                    reason: format!("unrecognized extern section '{other}'"),
                })
            }
        };
        externs.push(ExternSpec {
            name: sym.name.clone(),
            weak,
            btf_id,
            kind,
        });
    }
    externs.sort_by(|a, b| {
        sort_key(a)
            .cmp(&sort_key(b))
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut off: u32 = 0;
    for ext in &mut externs {
        if let ExternKind::Kconfig {
            size,
            align,
            offset,
            ..
        } = &mut ext.kind
        {
            *offset = off.next_multiple_of(*align);
            off = offset.saturating_add(*size);
        }
    }
    Ok(externs)
}

/// libbpf orders externs by type (kconfig before ksym), kconfig ones by alignment
/// (descending) then size.
fn sort_key(e: &ExternSpec) -> (u8, std::cmp::Reverse<u32>, u32) {
    match e.kind {
        ExternKind::Kconfig { align, size, .. } => (0, std::cmp::Reverse(align), size),
        ExternKind::KsymVariable { .. } | ExternKind::Kfunc { .. } => (1, std::cmp::Reverse(0), 0),
        ExternKind::Untyped => (2, std::cmp::Reverse(0), 0),
    }
}

/// The first `VAR` or `FUNC` named `name`, which must be declared extern.
fn find_extern_btf_id(btf: &Btf<'_>, name: &str) -> Result<Option<TypeId>, ObjectError> {
    for id in btf.ids_by_name(name) {
        let (kind, is_extern) = match btf.type_by_id(id).map_err(|e| btf_err(name, e))? {
            Type::Var(v) => ("VAR", v.linkage == VarLinkage::GlobalExtern),
            Type::Func(f) => ("FUNC", f.linkage == FuncLinkage::Extern),
            _ => continue,
        };
        if !is_extern {
            return Err(ObjectError::Extern {
                name: name.to_string(),
                reason: format!("BTF {kind} [{id}] is not extern"),
            });
        }
        return Ok(Some(id));
    }
    Ok(None)
}

/// The name of the DATASEC that lists type `id`.
fn datasec_of(btf: &Btf<'_>, id: TypeId) -> Option<String> {
    btf.types().flatten().find_map(|(_, t)| match t {
        Type::Datasec(d) if d.vars.iter().any(|v| v.type_id == id) => Some(d.name.to_string()),
        _ => None,
    })
}

/// The `.kconfig` map libbpf creates when kconfig externs exist: one array entry holding
/// every value at its offset, read-only for programs.
pub(crate) fn kconfig_map(
    externs: &[ExternSpec],
    object_name: &str,
    btf: Option<&Btf<'_>>,
) -> Option<MapSpec> {
    let size = externs
        .iter()
        .filter_map(|e| match e.kind {
            ExternKind::Kconfig { size, offset, .. } => Some(offset + size),
            _ => None,
        })
        .max()?;
    Some(MapSpec {
        name: internal_map_name(object_name, KCONFIG_SECTION),
        map_type: MapType::Array,
        key_size: 4,
        value_size: size,
        max_entries: 1,
        // libbpf turns kconfig VARs into allocated globals, which makes the map mmapable.
        map_flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE,
        numa_node: 0,
        pinning: Pinning::None,
        map_extra: 0,
        inner_map: None,
        btf_key_type_id: None,
        btf_value_type_id: btf.and_then(|b| b.id_by_name_kind(KCONFIG_SECTION, Kind::Datasec)),
        definition: MapDefinition::Kconfig,
        section_index: 0,
        section_offset: 0,
        initial_slots: Vec::new(),
        data: Some(vec![0; size as usize]),
        iproute2: None,
        replacement: None,
    })
}
