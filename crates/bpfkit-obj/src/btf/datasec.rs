//! DATASEC fix-up: section sizes and variable offsets from the ELF, as libbpf does for clang.
//!
//! clang writes every DATASEC with size 0 and leaves the ELF symbol table to say where
//! variables are. The ELF reader knows sections and symbols; this module only needs the
//! answers, through [`DatasecLayout`].

use super::{BtfMut, FuncLinkage, Kind, RawData, RawType, VarLinkage};

/// Where a global variable's ELF symbol puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSymbol {
    /// `st_value`: the offset inside its section.
    pub offset: u32,
    /// `STV_HIDDEN` or `STV_INTERNAL` visibility: the variable becomes static in BTF.
    pub hidden: bool,
}

/// The ELF facts the fix-up needs, answered by the ELF reader.
pub trait DatasecLayout {
    /// Size in bytes of the ELF section named `section`, if it exists.
    fn section_size(&self, section: &str) -> Option<u32>;
    /// The symbol of the global variable `var` placed in `section`.
    fn variable(&self, section: &str, var: &str) -> Option<VarSymbol>;
}

/// Why a DATASEC could not be fixed up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasecError {
    /// The DATASEC's name is not a readable string.
    #[error("DATASEC [{id}]: name at string offset {name_off} is unreadable")]
    BadName {
        /// The DATASEC id.
        id: u32,
        /// Its name offset.
        name_off: u32,
    },
    /// The ELF has no section of that name, or it is empty.
    #[error("DATASEC '{section}': no ELF section of that name with a non-zero size")]
    NoSectionSize {
        /// The section name.
        section: String,
    },
    /// An entry is not a VAR of this BTF.
    #[error("DATASEC '{section}': entry #{index} is type [{type_id}], not a VAR")]
    NotAVar {
        /// The section name.
        section: String,
        /// Entry index.
        index: usize,
        /// The entry's type id.
        type_id: u32,
    },
    /// A global variable has no ELF symbol.
    #[error("DATASEC '{section}': no ELF symbol for variable '{var}'")]
    NoSymbol {
        /// The section name.
        section: String,
        /// The variable name.
        var: String,
    },
}

/// Fill each DATASEC's size and its global variables' offsets from the ELF, mark hidden
/// variables static, and sort entries by offset — libbpf's `btf_fixup_datasec`:
///
/// - `.kconfig` and `.ksyms` (extern-backed) are only sorted;
/// - a DATASEC whose size is already set (e.g. by a BPF linker) keeps its offsets;
/// - static and extern variables keep what the compiler wrote.
///
/// ```
/// use bpfkit_obj::btf::{fixup_datasecs, BtfMut, DatasecLayout, Type, VarLinkage,
///     VarSecinfo, VarSymbol};
/// struct Elf;
/// impl DatasecLayout for Elf {
///     fn section_size(&self, s: &str) -> Option<u32> { (s == ".data").then_some(16) }
///     fn variable(&self, _: &str, v: &str) -> Option<VarSymbol> {
///         (v == "x").then_some(VarSymbol { offset: 8, hidden: false })
///     }
/// }
/// let mut b = BtfMut::new();
/// let int = b.add_int("int", 4, 0);
/// let var = b.add_var("x", int, VarLinkage::GlobalAllocated);
/// let sec = b.add_datasec(".data", 0, &[VarSecinfo { type_id: var, offset: 0, size: 4 }]);
/// fixup_datasecs(&mut b, &Elf).unwrap();
/// let Some(Type::Datasec(t)) = b.type_by_id(sec) else { panic!() };
/// assert_eq!(t.size, 16);
/// assert_eq!(t.vars.to_vec(), [VarSecinfo { type_id: var, offset: 8, size: 4 }]);
/// ```
pub fn fixup_datasecs(btf: &mut BtfMut, layout: &impl DatasecLayout) -> Result<(), DatasecError> {
    for id in btf.first_id()..btf.type_count() {
        let Some(t) = btf.raw(id) else {
            continue;
        };
        if t.kind() != Kind::Datasec {
            continue;
        }
        let name_off = t.name_off;
        let Some(section) = btf.string_at(name_off).map(str::to_string) else {
            return Err(DatasecError::BadName { id, name_off });
        };
        let RawData::Datasec(mut vars) = t.data.clone() else {
            continue;
        };
        let mut size = t.size_or_type;
        if section != ".kconfig" && section != ".ksyms" {
            let fixup_offsets = size == 0;
            if fixup_offsets {
                size = layout
                    .section_size(&section)
                    .filter(|&s| s != 0)
                    .ok_or_else(|| DatasecError::NoSectionSize {
                        section: section.clone(),
                    })?;
            }
            for (index, v) in vars.iter_mut().enumerate() {
                let not_a_var = || DatasecError::NotAVar {
                    section: section.clone(),
                    index,
                    type_id: v.type_id,
                };
                let var = btf.raw(v.type_id).ok_or_else(not_a_var)?;
                let RawData::Var(linkage) = var.data else {
                    return Err(not_a_var());
                };
                if var.kind() != Kind::Var {
                    return Err(not_a_var());
                }
                match VarLinkage::from_raw(linkage) {
                    VarLinkage::Static | VarLinkage::GlobalExtern => continue,
                    _ => {}
                }
                let var_name = btf.string_at(var.name_off).unwrap_or("").to_string();
                let sym =
                    layout
                        .variable(&section, &var_name)
                        .ok_or_else(|| DatasecError::NoSymbol {
                            section: section.clone(),
                            var: var_name.clone(),
                        })?;
                if fixup_offsets {
                    v.offset = sym.offset;
                }
                if sym.hidden {
                    if let Some(var) = btf.raw_mut(v.type_id) {
                        var.data = RawData::Var(VarLinkage::Static.to_raw());
                    }
                }
            }
        }
        vars.sort_by_key(|v| v.offset);
        if let Some(t) = btf.raw_mut(id) {
            t.size_or_type = size;
            t.data = RawData::Datasec(vars);
        }
    }
    Ok(())
}

/// Name of the VAR that stands in for extern functions in `.ksyms` (libbpf's name).
pub const DUMMY_KSYM: &str = "dummy_ksym";

/// Make the extern-backed DATASECs loadable, as libbpf does while collecting externs
/// (the kernel refuses `BTF_VAR_GLOBAL_EXTERN` variables):
///
/// - `.kconfig`: every VAR becomes global-allocated at `kconfig_offset(name)` (the layout the
///   ELF side chose for the `.kconfig` map); the section size is the end of the last one.
/// - `.ksyms`: every entry becomes a 4-byte slot at `4 * index`. Extern VARs become
///   global-allocated `int`s (the first 32-bit INT of the BTF); extern FUNCs become global
///   and their slot points at an added `VAR dummy_ksym` (unnamed parameters get its name).
///
/// Run before [`fixup_datasecs`] (which then only sorts these two sections). Returns the id
/// of the added `dummy_ksym` VAR, if one was needed.
pub fn finalize_extern_datasecs(
    btf: &mut BtfMut,
    kconfig_offset: impl Fn(&str) -> Option<u32>,
) -> Result<Option<u32>, DatasecError> {
    let mut dummy = None;
    for id in btf.first_id()..btf.type_count() {
        let Some(t) = btf.raw(id) else {
            continue;
        };
        if t.kind() != Kind::Datasec {
            continue;
        }
        let Some(section) = btf.string_at(t.name_off).map(str::to_string) else {
            continue;
        };
        let RawData::Datasec(mut vars) = t.data.clone() else {
            continue;
        };
        let size = match section.as_str() {
            ".kconfig" => {
                let mut end = 0u32;
                for (index, v) in vars.iter_mut().enumerate() {
                    let name = var_name(btf, &section, index, v.type_id, false)?;
                    let offset = kconfig_offset(&name).ok_or_else(|| DatasecError::NoSymbol {
                        section: section.clone(),
                        var: name.clone(),
                    })?;
                    if let Some(var) = btf.raw_mut(v.type_id) {
                        var.data = RawData::Var(VarLinkage::GlobalAllocated.to_raw());
                    }
                    v.offset = offset;
                    end = end.max(offset.saturating_add(v.size));
                }
                end
            }
            ".ksyms" => {
                let int = find_int32(btf);
                for (index, v) in vars.iter_mut().enumerate() {
                    let is_func = btf.raw(v.type_id).map(RawType::kind) == Some(Kind::Func);
                    var_name(btf, &section, index, v.type_id, is_func)?;
                    if is_func {
                        let dummy_id = match dummy {
                            Some(d) => d,
                            None => {
                                let name = btf.add_string(DUMMY_KSYM);
                                let var = RawType::new(
                                    Kind::Var,
                                    name,
                                    int,
                                    RawData::Var(VarLinkage::GlobalAllocated.to_raw()),
                                );
                                let d = btf.add_type(var);
                                dummy = Some(d);
                                d
                            }
                        };
                        let dummy_name = btf.raw(dummy_id).map_or(0, |t| t.name_off);
                        let proto = btf.raw(v.type_id).map_or(0, |f| f.size_or_type);
                        if let Some(RawType {
                            data: RawData::Params(params),
                            ..
                        }) = btf.raw_mut(proto)
                        {
                            for p in params.iter_mut() {
                                if p.type_id != 0 && p.name_off == 0 {
                                    p.name_off = dummy_name;
                                }
                            }
                        }
                        if let Some(f) = btf.raw_mut(v.type_id) {
                            let vlen = FuncLinkage::Global.to_raw();
                            f.set_info(Kind::Func, f.kind_flag(), vlen);
                        }
                        v.type_id = dummy_id;
                    } else if let Some(var) = btf.raw_mut(v.type_id) {
                        var.data = RawData::Var(VarLinkage::GlobalAllocated.to_raw());
                        var.size_or_type = int;
                    }
                    v.offset = 4 * index as u32;
                    v.size = 4;
                }
                4 * vars.len() as u32
            }
            _ => continue,
        };
        vars.sort_by_key(|v| v.offset);
        if let Some(t) = btf.raw_mut(id) {
            t.size_or_type = size;
            t.data = RawData::Datasec(vars);
        }
    }
    Ok(dummy)
}

/// The name of a `.kconfig`/`.ksyms` entry, which must be a VAR (or FUNC when allowed).
fn var_name(
    btf: &BtfMut,
    section: &str,
    index: usize,
    type_id: u32,
    func_ok: bool,
) -> Result<String, DatasecError> {
    let not_a_var = || DatasecError::NotAVar {
        section: section.to_string(),
        index,
        type_id,
    };
    let t = btf.raw(type_id).ok_or_else(not_a_var)?;
    match t.kind() {
        Kind::Var => {}
        Kind::Func if func_ok => {}
        _ => return Err(not_a_var()),
    }
    Ok(btf.string_at(t.name_off).unwrap_or("").to_string())
}

/// The first INT with 32 value bits (libbpf's `find_int_btf_id`), or void.
fn find_int32(btf: &BtfMut) -> u32 {
    (btf.first_id()..btf.type_count())
        .find(|&id| {
            matches!(btf.raw(id), Some(t) if t.kind() == Kind::Int
                && matches!(t.data, RawData::Int(enc) if enc & 0xff == 32))
        })
        .unwrap_or(0)
}
