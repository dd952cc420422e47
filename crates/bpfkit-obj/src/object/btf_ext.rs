//! `.BTF.ext` → per-function func_info, line_info and CO-RE relocations.
//!
//! `.BTF.ext` groups records by ELF section with byte offsets inside the section; each
//! record is handed to the function that contains its instruction, with the offset made
//! relative to that function and counted in instructions.

use crate::btf::{Btf, BtfExt};
use crate::insn::INSN_SIZE;

use super::elf::Elf;
use super::error::ObjectError;
use super::program::{CoreRelocation, FuncInfo, LineInfo, ProgramSpec};

const SECTION: &str = ".BTF.ext";

fn fail(reason: String) -> ObjectError {
    ObjectError::Btf {
        section: SECTION,
        reason,
    }
}

/// The function of ELF section `section` containing byte `offset`, and the instruction
/// offset relative to its start. Records outside every function (e.g. of a dropped weak
/// function) are skipped, as libbpf does.
fn locate(
    functions: &mut [ProgramSpec],
    section: usize,
    offset: u32,
) -> Option<(&mut ProgramSpec, u32)> {
    if offset as usize % INSN_SIZE != 0 {
        return None;
    }
    let insn = offset as usize / INSN_SIZE;
    let f = functions.iter_mut().find(|f| {
        f.section_index == section && insn >= f.insn_offset && insn < f.insn_offset + f.insn_count()
    })?;
    let rel = u32::try_from(insn - f.insn_offset).ok()?;
    Some((f, rel))
}

/// Parses `.BTF.ext` and attaches its records to `functions`.
pub(crate) fn attach(
    bytes: &[u8],
    btf: &Btf<'_>,
    elf: &Elf<'_>,
    functions: &mut [ProgramSpec],
) -> Result<(), ObjectError> {
    let ext = BtfExt::parse(bytes).map_err(|e| fail(e.to_string()))?;
    let section_index = |name_off: u32| -> Result<Option<usize>, ObjectError> {
        let name = btf
            .string_at(name_off)
            .map_err(|e| fail(format!("section name at string offset {name_off}: {e}")))?;
        Ok(elf.section_by_name(name).map(|s| s.index))
    };
    for sec in &ext.func_info.sections {
        let Some(index) = section_index(sec.sec_name_off)? else {
            continue;
        };
        for r in &sec.records {
            if let Some((f, insn_offset)) = locate(functions, index, r.insn_off) {
                f.btf_ext.func_info.push(FuncInfo {
                    insn_offset,
                    type_id: r.type_id,
                });
            }
        }
    }
    for sec in &ext.line_info.sections {
        let Some(index) = section_index(sec.sec_name_off)? else {
            continue;
        };
        for r in &sec.records {
            if let Some((f, insn_offset)) = locate(functions, index, r.insn_off) {
                f.btf_ext.line_info.push(LineInfo {
                    insn_offset,
                    file_name_off: r.file_name_off,
                    line_off: r.line_off,
                    line_col: r.line_col,
                });
            }
        }
    }
    for sec in &ext.core_relo.sections {
        let Some(index) = section_index(sec.sec_name_off)? else {
            continue;
        };
        for r in &sec.records {
            let access = btf
                .string_at(r.access_str_off)
                .map_err(|e| {
                    fail(format!(
                        "CO-RE relocation at offset {}: access string: {e}",
                        r.insn_off
                    ))
                })?
                .to_string();
            if let Some((f, insn_offset)) = locate(functions, index, r.insn_off) {
                f.btf_ext.core_relos.push(CoreRelocation {
                    insn_offset,
                    type_id: r.type_id,
                    access,
                    kind: r.kind,
                });
            }
        }
    }
    Ok(())
}
