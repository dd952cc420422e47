//! Shared by the CO-RE corpus tests: read an object's sections, BTF and CO-RE records, run
//! `relo::relocate_instructions` on each section, and compare programs with libbpf's.
//!
//! `.BTF.ext` is read here with a minimal reader of the `core_relo` subsection only, until
//! the crate's own `.BTF.ext` parser is available to tests.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use bpfkit_obj::btf::Btf;
use bpfkit_obj::relo::{
    relocate_instructions, AppliedRelo, CandidateCache, CoreError, CoreRelo, TypeSource,
};
use bpfkit_test_support::{mask_fd_immediates, Insn, LibbpfRelocated};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

/// A function symbol: a program or subprogram.
#[derive(Debug, Clone)]
pub struct Func {
    pub name: String,
    pub section: String,
    /// Instruction index of its first instruction in the section.
    pub start: usize,
    pub len: usize,
}

/// One code section after our CO-RE relocation.
#[derive(Debug)]
pub struct Section {
    pub name: String,
    pub original: Vec<u8>,
    pub relocated: Vec<u8>,
    /// Instruction indices that carry an ELF relocation (maps, globals, calls, externs).
    pub elf_relocated: BTreeSet<usize>,
    /// Our CO-RE result for the section (the error's text on failure).
    pub result: Result<Vec<AppliedRelo>, String>,
}

impl Section {
    /// The applied relocations; panics with our error when relocation failed.
    pub fn applied(&self) -> &[AppliedRelo] {
        match &self.result {
            Ok(a) => a,
            Err(e) => panic!("section {}: {e}", self.name),
        }
    }
}

/// An object after our CO-RE relocation.
#[derive(Debug)]
pub struct Relocated {
    pub sections: BTreeMap<String, Section>,
    pub funcs: Vec<Func>,
}

/// `(section name, records)` of the `core_relo` subsection of `.BTF.ext`, access strings
/// resolved in `btf`.
pub fn core_relos<'b>(ext: &[u8], btf: &'b Btf<'_>) -> Vec<(String, Vec<CoreRelo<'b>>)> {
    let rd = |off: usize| -> u32 { u32::from_le_bytes(ext[off..off + 4].try_into().unwrap()) };
    assert_eq!(
        u16::from_le_bytes([ext[0], ext[1]]),
        0xeb9f,
        ".BTF.ext magic"
    );
    let hdr_len = rd(4) as usize;
    if hdr_len < 32 {
        return Vec::new();
    }
    let (off, len) = (rd(24) as usize, rd(28) as usize);
    let data = &ext[hdr_len + off..hdr_len + off + len];
    let rd = |off: usize| -> u32 { u32::from_le_bytes(data[off..off + 4].try_into().unwrap()) };
    let mut out = Vec::new();
    if data.is_empty() {
        return out;
    }
    let rec_size = rd(0) as usize;
    let mut pos = 4;
    while pos < data.len() {
        let sec = btf.string_at(rd(pos)).unwrap().to_string();
        let n = rd(pos + 4) as usize;
        pos += 8;
        let mut relos = Vec::new();
        for _ in 0..n {
            relos.push(CoreRelo {
                insn_off: rd(pos),
                type_id: rd(pos + 4),
                access: btf.string_at(rd(pos + 8)).unwrap(),
                kind: rd(pos + 12),
            });
            pos += rec_size;
        }
        out.push((sec, relos));
    }
    out
}

/// Reads `elf`, relocates every section with CO-RE records against `targets` (sections in
/// order, sharing one candidate cache, as libbpf does).
pub fn relocate_object(elf: &[u8], targets: &[&dyn TypeSource]) -> Relocated {
    let file = object::File::parse(elf).expect("ELF parses");
    let btf_bytes = file.section_by_name(".BTF").expect(".BTF").data().unwrap();
    let local = Btf::parse(btf_bytes).expect(".BTF parses");
    let ext = file
        .section_by_name(".BTF.ext")
        .map(|s| s.data().unwrap().to_vec());
    let records = ext
        .as_deref()
        .map(|e| core_relos(e, &local))
        .unwrap_or_default();

    let mut funcs = Vec::new();
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text {
            continue;
        }
        let Some(idx) = sym.section_index() else {
            continue;
        };
        let sec = file.section_by_index(idx).unwrap();
        funcs.push(Func {
            name: sym.name().unwrap().to_string(),
            section: sec.name().unwrap().to_string(),
            start: sym.address() as usize / 8,
            len: sym.size() as usize / 8,
        });
    }

    let mut cache = CandidateCache::new();
    let mut sections = BTreeMap::new();
    for sec in file.sections() {
        let name = sec.name().unwrap_or("").to_string();
        if !funcs.iter().any(|f| f.section == name) {
            continue;
        }
        let original = sec.data().unwrap().to_vec();
        let mut relocated = original.clone();
        let elf_relocated = sec.relocations().map(|(off, _)| off as usize / 8).collect();
        let mut result = Ok(Vec::new());
        if let Some((_, relos)) = records.iter().find(|(s, _)| *s == name) {
            result =
                relocate_instructions(&name, &mut relocated, relos, &local, targets, &mut cache)
                    .map_err(|e: CoreError| e.to_string());
        }
        sections.insert(
            name.clone(),
            Section {
                name,
                original,
                relocated,
                elf_relocated,
                result,
            },
        );
    }
    Relocated { sections, funcs }
}

fn insns(bytes: &[u8]) -> Vec<Insn> {
    bytes
        .chunks_exact(8)
        .map(|c| Insn::from_bytes(c.try_into().unwrap()))
        .collect()
}

/// Whether instruction `i` of `code` holds something libbpf rewrites for reasons other than
/// CO-RE: a target of an ELF relocation (map/global data/extern/call), the second half of a
/// relocated `ld_imm64`, or a BPF-to-BPF call or function pointer (its imm depends on where
/// libbpf appended the subprogram).
fn not_core(code: &[Insn], elf_relocated: &BTreeSet<usize>, i: usize) -> bool {
    let insn = code[i];
    if elf_relocated.contains(&i)
        || (i > 0 && elf_relocated.contains(&(i - 1)) && code[i - 1].is_ld_imm64())
    {
        return true;
    }
    (insn.code == 0x85 && insn.src_reg == 1) || (insn.is_ld_imm64() && insn.src_reg == 4)
}

/// Compares each program libbpf loaded with our relocation of the same function, and each
/// subprogram we relocated with the copy libbpf appended to some program. Returns the
/// number of CO-RE records whose instructions were compared, and how many compared
/// instructions CO-RE changed (so a comparison that would pass unrelocated is visible).
pub fn assert_same_as_libbpf(
    ours: &Relocated,
    libbpf: &LibbpfRelocated,
    what: &str,
) -> (usize, usize) {
    let mut core_checked = 0;
    let mut changed = 0;
    assert!(
        !libbpf.programs.is_empty(),
        "{what}: libbpf loaded no program: {:?}",
        libbpf.load_error
    );
    let mut mains = BTreeSet::new();
    for prog in &libbpf.programs {
        let func = ours
            .funcs
            .iter()
            .find(|f| f.name == prog.name)
            .unwrap_or_else(|| panic!("{what}: no symbol for program {}", prog.name));
        mains.insert(func.name.clone());
        let sec = &ours.sections[&func.section];
        let code = insns(&sec.relocated);
        let theirs = mask_fd_immediates(&prog.load.insns);
        assert!(
            theirs.len() >= func.len,
            "{what}: {} shorter than its symbol",
            prog.name
        );
        for (k, their) in theirs.iter().enumerate().take(func.len) {
            let i = func.start + k;
            if not_core(&code, &sec.elf_relocated, i) {
                continue;
            }
            assert_eq!(
                code[i], *their,
                "{what}: program {} insn #{k} (section {} #{i}) differs from libbpf",
                prog.name, sec.name
            );
            if sec.original[i * 8..i * 8 + 8] != sec.relocated[i * 8..i * 8 + 8] {
                changed += 1;
            }
        }
        core_checked += sec
            .applied()
            .iter()
            .filter(|a| (func.start..func.start + func.len).contains(&a.insn_index))
            .count();
    }
    // Subprograms: libbpf appends each called one after the main code; find our copy there.
    for func in ours.funcs.iter().filter(|f| !mains.contains(&f.name)) {
        let sec = &ours.sections[&func.section];
        let Ok(applied) = &sec.result else { continue };
        let touched: Vec<&AppliedRelo> = applied
            .iter()
            .filter(|a| (func.start..func.start + func.len).contains(&a.insn_index))
            .collect();
        if touched.is_empty() {
            continue;
        }
        let code = insns(&sec.relocated);
        let matches_at = |theirs: &[Insn], at: usize| {
            (0..func.len).all(|k| {
                let i = func.start + k;
                not_core(&code, &sec.elf_relocated, i) || code[i] == theirs[at + k]
            })
        };
        let mut found = false;
        let mut appended_anywhere = false;
        for prog in &libbpf.programs {
            let main_len = ours
                .funcs
                .iter()
                .find(|f| f.name == prog.name)
                .map_or(0, |f| f.len);
            let theirs = mask_fd_immediates(&prog.load.insns);
            for at in main_len..theirs.len().saturating_sub(func.len - 1) {
                // Same shape (opcodes) means this is where libbpf put the subprogram.
                let same_shape = (0..func.len).all(|k| {
                    code[func.start + k].code == theirs[at + k].code
                        || touched.iter().any(|a| a.insn_index == func.start + k)
                });
                if !same_shape {
                    continue;
                }
                appended_anywhere = true;
                if matches_at(&theirs, at) && !found {
                    found = true;
                    changed += (func.start..func.start + func.len)
                        .filter(|&i| {
                            sec.original[i * 8..i * 8 + 8] != sec.relocated[i * 8..i * 8 + 8]
                        })
                        .count();
                }
            }
        }
        if appended_anywhere {
            assert!(
                found,
                "{what}: subprogram {} differs from every copy libbpf appended",
                func.name
            );
            core_checked += touched.len();
        }
    }
    (core_checked, changed)
}
