//! Programs and subprograms: functions found in executable sections, with their relocations.

use object::elf;

use crate::btf::{CoreReloKind, TypeId};
use crate::insn::opcode::BPF_PSEUDO_CALL;
use crate::insn::{Insn, INSN_SIZE};

use super::data::{internal_map_name, DataKind};
use super::elf::{Elf, Section, Symbol};
use super::error::ObjectError;
use super::kinds::ProgramType;
use super::section::ProgramSection;

/// A function's symbol binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Linkage {
    /// `STB_LOCAL`: a `static` function.
    Static,
    /// `STB_GLOBAL`.
    Global,
    /// `STB_WEAK`.
    Weak,
}

/// One function of an executable section: an entry-point program, or a subprogram of
/// `.text` that programs call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramSpec {
    /// The function's symbol name (for objects without function symbols, the nearest
    /// label or the section name).
    pub name: String,
    /// What the section name says: program type, attach type, target, flags.
    pub section: ProgramSection,
    /// Index of the ELF section holding the function.
    pub section_index: usize,
    /// Offset of the first instruction in the section, in instructions (8 bytes each).
    pub insn_offset: usize,
    /// The instructions, 8 bytes each, in the object's byte order (see
    /// [`ObjectSpec::big_endian`](super::ObjectSpec::big_endian)).
    pub instructions: Vec<u8>,
    /// Symbol binding: static, global or weak.
    pub linkage: Linkage,
    /// Global but with hidden/internal visibility: libbpf verifies it like a static function.
    pub hidden: bool,
    /// Relocations of this function's instructions, in instruction order.
    pub relocations: Vec<Relocation>,
    /// BTF information attached from `.BTF.ext`.
    pub btf_ext: ProgramBtfExt,
    /// The network device the program is loaded for (`prog_ifindex` of `BPF_PROG_LOAD`):
    /// offloaded to that device, e.g. for XDP in HW mode. Not in the ELF: 0 (none) until a
    /// loader sets it.
    pub ifindex: u32,
}

impl ProgramSpec {
    /// Number of 8-byte instruction slots (an `ld_imm64` takes two).
    pub fn insn_count(&self) -> usize {
        self.instructions.len() / INSN_SIZE
    }

    /// The program type to load the program with, or [`ObjectError::UnknownSection`]
    /// naming the program and its section when the section name matched no known kind.
    pub fn load_type(&self) -> Result<ProgramType, ObjectError> {
        match self.section.program_type {
            ProgramType::Unspec => Err(ObjectError::UnknownSection {
                program: self.name.clone(),
                section: self.section.name.clone(),
            }),
            t => Ok(t),
        }
    }
}

/// `.BTF.ext` records of one function. Instruction offsets are in 8-byte slots from the
/// function's first instruction (what `BPF_PROG_LOAD` expects once the function is placed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramBtfExt {
    /// `bpf_func_info` records: the function itself at offset 0 (and nothing else before
    /// subprograms are appended).
    pub func_info: Vec<FuncInfo>,
    /// `bpf_line_info` records.
    pub line_info: Vec<LineInfo>,
    /// CO-RE relocations.
    pub core_relos: Vec<CoreRelocation>,
}

/// One `bpf_func_info` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// Instruction offset relative to the function start.
    pub insn_offset: u32,
    /// The BTF `FUNC` type id.
    pub type_id: TypeId,
}

/// One `bpf_line_info` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Instruction offset relative to the function start.
    pub insn_offset: u32,
    /// Offset of the file name in the BTF string table.
    pub file_name_off: u32,
    /// Offset of the source line text in the BTF string table.
    pub line_off: u32,
    /// `(line << 10) | column`.
    pub line_col: u32,
}

/// One `bpf_core_relo` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreRelocation {
    /// Instruction offset relative to the function start.
    pub insn_offset: u32,
    /// The local root type id.
    pub type_id: TypeId,
    /// The access string (`"0:1:2"`), read from the BTF string table.
    pub access: String,
    /// What the relocation computes.
    pub kind: CoreReloKind,
}

/// One relocated instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relocation {
    /// The instruction, as an 8-byte slot index from the function's start.
    pub insn_index: usize,
    /// The symbol the compiler named (for section symbols, the section's name).
    pub symbol: String,
    /// What the instruction refers to.
    pub target: RelocationTarget,
}

/// What a relocated instruction refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelocationTarget {
    /// `ld_imm64` of a map defined in `maps` or `.maps`: becomes a map fd.
    Map {
        /// The map's name.
        map: String,
    },
    /// `ld_imm64` of an address in a global-data section: becomes the data map's fd with a
    /// value offset of `offset` plus the instruction's own immediate.
    Data {
        /// Name of the global-data map ([`MapSpec::name`](super::MapSpec::name)).
        map: String,
        /// The ELF section (`.rodata`, `.data.custom`, `.bss`, ...).
        section: String,
        /// The symbol's offset in the section.
        offset: u64,
    },
    /// BPF-to-BPF call (`call` with `src_reg` = `BPF_PSEUDO_CALL`).
    Call {
        /// The called function (a subprogram of `.text`, or a function of the same section).
        function: String,
    },
    /// `ld_imm64` of a function's address: a callback (`bpf_loop`, `bpf_for_each_map_elem`,
    /// timers).
    FunctionAddress {
        /// The function.
        function: String,
    },
    /// Reference to an extern: a `__ksym` variable, a `__kconfig` value or a kfunc call.
    Extern {
        /// The extern's name.
        name: String,
        /// `true` for a call (kfunc), `false` for an `ld_imm64` (variable).
        call: bool,
    },
}

/// A function symbol of an executable section, before it becomes a program.
struct FunctionSym {
    name: String,
    offset: u64,
    size: u64,
    linkage: Linkage,
    hidden: bool,
}

fn linkage_of(sym: &Symbol) -> Linkage {
    match sym.bind {
        elf::STB_GLOBAL => Linkage::Global,
        elf::STB_WEAK => Linkage::Weak,
        _ => Linkage::Static,
    }
}

/// Labels old compilers emit as `NOTYPE` symbols inside code: not functions.
fn is_code_label(name: &str) -> bool {
    name.starts_with("LBB") || name.starts_with(".L") || name.starts_with("LBE")
}

/// The functions of one executable section, sorted by offset.
fn section_functions(elf: &Elf<'_>, sec: &Section<'_>) -> Result<Vec<FunctionSym>, ObjectError> {
    let in_section = |s: &&Symbol| s.section() == Some(sec.index) && !s.name.is_empty();
    let mut syms: Vec<&Symbol> = elf
        .symbols
        .iter()
        .filter(in_section)
        .filter(|s| s.kind == elf::STT_FUNC)
        .collect();
    if syms.is_empty() {
        // Old clang (before 9) emits functions as NOTYPE symbols of size 0.
        syms = elf
            .symbols
            .iter()
            .filter(in_section)
            .filter(|s| s.kind == elf::STT_NOTYPE && !is_code_label(&s.name))
            .collect();
        // Prefer global symbols: a local label at a global's offset is not a second function.
        syms.sort_by_key(|s| (s.value, s.bind == elf::STB_LOCAL, s.index));
    } else {
        syms.sort_by_key(|s| (s.value, s.index));
    }
    syms.dedup_by_key(|s| s.value);

    let len = sec.data.len() as u64;
    let mut out = Vec::with_capacity(syms.len().max(1));
    if syms.is_empty() {
        out.push(FunctionSym {
            name: sec.name.trim_start_matches('?').to_string(),
            offset: 0,
            size: len,
            linkage: Linkage::Global,
            hidden: false,
        });
    }
    for (i, sym) in syms.iter().enumerate() {
        let next = syms.get(i + 1).map_or(len, |n| n.value);
        let size = if sym.size > 0 {
            sym.size
        } else {
            next.saturating_sub(sym.value)
        };
        out.push(FunctionSym {
            name: sym.name.clone(),
            offset: sym.value,
            size,
            linkage: linkage_of(sym),
            hidden: sym.bind != elf::STB_LOCAL
                && matches!(sym.visibility, elf::STV_HIDDEN | elf::STV_INTERNAL),
        });
    }
    for f in &out {
        let fail = |reason| ObjectError::Function {
            section: sec.name.clone(),
            function: f.name.clone(),
            offset: f.offset,
            size: f.size,
            reason,
        };
        if f.size == 0 {
            return Err(fail("is empty"));
        }
        if f.offset % INSN_SIZE as u64 != 0 || f.size % INSN_SIZE as u64 != 0 {
            return Err(fail("is not a whole number of 8-byte instructions"));
        }
        match f.offset.checked_add(f.size) {
            Some(end) if end <= len => {}
            _ => return Err(fail("crosses the section's end")),
        }
    }
    Ok(out)
}

/// Where a relocation may point besides code: map sections and data sections.
pub(crate) struct SymbolTargets<'s> {
    /// Index of the legacy `maps` section.
    pub legacy_maps: Option<usize>,
    /// Index of the `.maps` section.
    pub btf_maps: Option<usize>,
    /// Object name, for global-data map names.
    pub object_name: &'s str,
}

/// Reads every function of every executable section and resolves its relocations.
/// Returns the functions in (section index, offset) order.
pub(crate) fn collect_functions(
    elf: &Elf<'_>,
    targets: &SymbolTargets<'_>,
) -> Result<Vec<ProgramSpec>, ObjectError> {
    let mut functions = Vec::new();
    for sec in &elf.sections {
        if !sec.is_exec() || sec.data.is_empty() {
            continue;
        }
        let section = ProgramSection::parse(&sec.name);
        for f in section_functions(elf, sec)? {
            // Bounds were checked by section_functions.
            let start = f.offset as usize;
            let end = start + f.size as usize;
            functions.push(ProgramSpec {
                name: f.name,
                section: section.clone(),
                section_index: sec.index,
                insn_offset: start / INSN_SIZE,
                instructions: sec.data[start..end].to_vec(),
                linkage: f.linkage,
                hidden: f.hidden,
                relocations: Vec::new(),
                btf_ext: ProgramBtfExt::default(),
                ifindex: 0,
            });
        }
    }

    for rel_sec in &elf.sections {
        if rel_sec.sh_type != elf::SHT_REL {
            continue;
        }
        let target_index = rel_sec.info as usize;
        let Some(target) = elf.section(target_index) else {
            return Err(ObjectError::Section {
                section: rel_sec.name.clone(),
                index: rel_sec.index,
                reason: format!("relocates section {target_index}, which does not exist"),
            });
        };
        if !target.is_exec() {
            continue;
        }
        for rel in elf.rels(rel_sec)? {
            if rel.r_type == 0 {
                continue; // R_BPF_NONE
            }
            resolve_relocation(elf, targets, target, rel, &mut functions)?;
        }
    }
    for f in &mut functions {
        f.relocations.sort_by_key(|r| r.insn_index);
    }
    Ok(functions)
}

fn function_at(
    functions: &[ProgramSpec],
    section: usize,
    byte_offset: u64,
) -> Option<&ProgramSpec> {
    if byte_offset % INSN_SIZE as u64 != 0 {
        return None;
    }
    let insn = usize::try_from(byte_offset / INSN_SIZE as u64).ok()?;
    functions
        .iter()
        .find(|f| f.section_index == section && f.insn_offset == insn)
}

fn resolve_relocation(
    elf: &Elf<'_>,
    targets: &SymbolTargets<'_>,
    section: &Section<'_>,
    rel: super::elf::Rel,
    functions: &mut [ProgramSpec],
) -> Result<(), ObjectError> {
    let sym = elf.symbols.get(rel.symbol);
    let symbol_name = sym.map_or_else(
        || format!("#{}", rel.symbol),
        |s| elf.symbol_display_name(s),
    );
    let fail = |reason: String| ObjectError::Relocation {
        section: section.name.clone(),
        offset: rel.offset,
        symbol: symbol_name.clone(),
        reason,
    };
    let sym = sym.ok_or_else(|| fail(format!("symbol index {} is out of range", rel.symbol)))?;
    let insn = usize::try_from(rel.offset)
        .ok()
        .and_then(|off| Insn::decode_slice(section.data.get(off..)?, elf.endian))
        .ok_or_else(|| fail("offset is outside the section".into()))?;
    if rel.offset % INSN_SIZE as u64 != 0 {
        return Err(fail("offset is not instruction-aligned".into()));
    }
    let insn_in_section = (rel.offset / INSN_SIZE as u64) as usize;

    let target = if sym.is_extern() {
        if !insn.is_call() && !insn.is_ld_imm64() {
            return Err(fail(format!(
                "extern referenced by opcode {:#04x}, expected call or ld_imm64",
                insn.code
            )));
        }
        RelocationTarget::Extern {
            name: sym.name.clone(),
            call: insn.is_call(),
        }
    } else if insn.is_call() {
        if insn.src_reg != BPF_PSEUDO_CALL {
            return Err(fail(format!(
                "call with src_reg {} is not a BPF-to-BPF call",
                insn.src_reg
            )));
        }
        let callee_sec = sym
            .section()
            .filter(|&i| elf.section(i).is_some_and(|s| s.is_exec()))
            .ok_or_else(|| fail("call target is not in an executable section".into()))?;
        let callee = (sym.value as i64)
            .checked_add((i64::from(insn.imm) + 1) * INSN_SIZE as i64)
            .filter(|&o| o >= 0)
            .and_then(|o| function_at(functions, callee_sec, o as u64))
            .ok_or_else(|| {
                fail(format!(
                    "no function starts at call target (imm {})",
                    insn.imm
                ))
            })?;
        RelocationTarget::Call {
            function: callee.name.clone(),
        }
    } else if insn.is_ld_imm64() {
        let target_sec = sym.section().and_then(|i| elf.section(i)).ok_or_else(|| {
            fail("symbol is undefined or special (uninitialized global variable?)".into())
        })?;
        if target_sec.is_exec() {
            let func = (sym.value as i64)
                .checked_add(i64::from(insn.imm))
                .filter(|&o| o >= 0)
                .and_then(|o| function_at(functions, target_sec.index, o as u64))
                .ok_or_else(|| fail(format!("no function starts at address (imm {})", insn.imm)))?;
            RelocationTarget::FunctionAddress {
                function: func.name.clone(),
            }
        } else if Some(target_sec.index) == targets.legacy_maps
            || Some(target_sec.index) == targets.btf_maps
        {
            let map = map_symbol_at(elf, target_sec.index, sym).ok_or_else(|| {
                fail(format!(
                    "no map symbol at offset {} of '{}'",
                    sym.value, target_sec.name
                ))
            })?;
            RelocationTarget::Map { map }
        } else if DataKind::of_section(target_sec).is_some() {
            RelocationTarget::Data {
                map: internal_map_name(targets.object_name, &target_sec.name),
                section: target_sec.name.clone(),
                offset: sym.value,
            }
        } else {
            return Err(fail(format!(
                "section '{}' is neither a map nor a global-data section",
                target_sec.name
            )));
        }
    } else {
        return Err(fail(format!(
            "opcode {:#04x} cannot be relocated (only calls and ld_imm64)",
            insn.code
        )));
    };

    let owner = functions
        .iter_mut()
        .find(|f| {
            f.section_index == section.index
                && insn_in_section >= f.insn_offset
                && insn_in_section < f.insn_offset + f.insn_count()
        })
        .ok_or_else(|| fail("instruction belongs to no function".into()))?;
    owner.relocations.push(Relocation {
        insn_index: insn_in_section - owner.insn_offset,
        symbol: symbol_name.clone(),
        target,
    });
    Ok(())
}

/// The name of the map defined at `sym`'s offset of map section `section`.
fn map_symbol_at(elf: &Elf<'_>, section: usize, sym: &Symbol) -> Option<String> {
    if sym.kind != elf::STT_SECTION && !sym.name.is_empty() {
        return Some(sym.name.clone());
    }
    elf.symbols
        .iter()
        .find(|s| {
            s.section() == Some(section)
                && s.value == sym.value
                && s.kind != elf::STT_SECTION
                && !s.name.is_empty()
        })
        .map(|s| s.name.clone())
}
