//! Shared by the CO-RE corpus tests: read an object's sections, BTF and CO-RE records, run
//! `relo::relocate_instructions` on each section, and compare programs with libbpf's.
//!

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use bpfkit_obj::btf::{Btf, BtfExt};
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
    let ext = BtfExt::parse(ext).expect(".BTF.ext parses");
    ext.core_relo
        .sections
        .iter()
        .map(|sec| {
            let relos = sec
                .records
                .iter()
                .map(|r| CoreRelo::from_ext(r, btf).expect("access string"))
                .collect();
            (sec.name(btf).expect("section name").to_string(), relos)
        })
        .collect()
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

/// CO-RE-relocated instructions, compared with libbpf's.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// CO-RE records whose instruction was compared with libbpf's.
    pub relos: usize,
    /// Compared instructions that CO-RE changed (a comparison of unrelocated code would
    /// fail on each of them).
    pub changed: usize,
    /// CO-RE records in functions libbpf did not load (programs turned off or failed before,
    /// subprograms no loaded program calls).
    pub not_loaded: usize,
}

fn touched_in(sec: &Section, f: &Func) -> Vec<usize> {
    match &sec.result {
        Ok(applied) => applied
            .iter()
            .map(|a| a.insn_index)
            .filter(|i| (f.start..f.start + f.len).contains(i))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn changed_in(sec: &Section, f: &Func) -> usize {
    (f.start..f.start + f.len)
        .filter(|&i| sec.original[i * 8..i * 8 + 8] != sec.relocated[i * 8..i * 8 + 8])
        .count()
}

/// Compares every program libbpf handed to `BPF_PROG_LOAD` with our relocation of the same
/// code: its main function instruction by instruction, then each subprogram libbpf appended
/// after it (libbpf appends whole subprograms, so the tail must split into our functions).
/// Only instructions `not_core` describes are masked.
pub fn assert_same_as_libbpf(ours: &Relocated, libbpf: &LibbpfRelocated, what: &str) -> Comparison {
    assert!(
        !libbpf.programs.is_empty(),
        "{what}: libbpf loaded no program: {:?}",
        libbpf.load_error
    );
    let mut compared_funcs: BTreeSet<(String, String)> = BTreeSet::new();
    let mut out = Comparison::default();
    let codes: BTreeMap<&str, Vec<Insn>> = ours
        .sections
        .iter()
        .map(|(n, s)| (n.as_str(), insns(&s.relocated)))
        .collect();
    let matches_at = |f: &Func, theirs: &[Insn], at: usize| -> bool {
        let sec = &ours.sections[&f.section];
        let code = &codes[f.section.as_str()];
        at + f.len <= theirs.len()
            && (0..f.len).all(|k| {
                let i = f.start + k;
                not_core(code, &sec.elf_relocated, i) || code[i] == theirs[at + k]
            })
    };
    for prog in &libbpf.programs {
        let main = ours
            .funcs
            .iter()
            .find(|f| f.name == prog.name)
            .unwrap_or_else(|| panic!("{what}: no symbol for program {}", prog.name));
        let theirs = mask_fd_immediates(&prog.load.insns);
        let sec = &ours.sections[&main.section];
        let code = &codes[main.section.as_str()];
        assert!(
            theirs.len() >= main.len,
            "{what}: {} shorter than its symbol",
            prog.name
        );
        for (k, their) in theirs.iter().enumerate().take(main.len) {
            let i = main.start + k;
            if !not_core(code, &sec.elf_relocated, i) {
                assert_eq!(
                    code[i], *their,
                    "{what}: program {} insn #{k} (section {} #{i}) differs from libbpf",
                    prog.name, sec.name
                );
            }
        }
        compared_funcs.insert((main.section.clone(), main.name.clone()));
        let mut at = main.len;
        while at < theirs.len() {
            let sub = ours
                .funcs
                .iter()
                .filter(|f| f.len > 0 && f.name != main.name)
                .find(|f| matches_at(f, &theirs, at))
                .unwrap_or_else(|| {
                    panic!(
                        "{what}: program {}: libbpf's insns from #{at} are none of our subprograms \
                         as we relocated them",
                        prog.name
                    )
                });
            compared_funcs.insert((sub.section.clone(), sub.name.clone()));
            at += sub.len;
        }
    }
    for f in &ours.funcs {
        let sec = &ours.sections[&f.section];
        let code = &codes[f.section.as_str()];
        // Only records whose instruction was really compared (not masked) count.
        let touched = touched_in(sec, f)
            .into_iter()
            .filter(|&i| !not_core(code, &sec.elf_relocated, i))
            .count();
        if compared_funcs.contains(&(f.section.clone(), f.name.clone())) {
            out.relos += touched;
            out.changed += changed_in(sec, f);
        } else {
            out.not_loaded += touched;
        }
    }
    out
}

/// The running kernel's BTF: vmlinux bytes and every module's split BTF bytes, sorted by
/// module name. Parse with [`kernel_targets`].
pub fn kernel_btf_bytes() -> (Vec<u8>, Vec<Vec<u8>>) {
    let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux").expect("kernel BTF");
    let mut names: Vec<_> = std::fs::read_dir("/sys/kernel/btf")
        .expect("/sys/kernel/btf")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n != "vmlinux"))
        .collect();
    names.sort();
    let modules = names.iter().map(|p| std::fs::read(p).unwrap()).collect();
    (vmlinux, modules)
}

/// Parses `modules` as split BTF on `vmlinux`.
pub fn kernel_modules<'a>(vmlinux: &'a Btf<'a>, modules: &'a [Vec<u8>]) -> Vec<Btf<'a>> {
    modules
        .iter()
        .map(|b| Btf::parse_split(b, vmlinux).expect("module BTF parses"))
        .collect()
}

/// `[vmlinux, modules...]` as CO-RE targets, in libbpf's search order.
pub fn kernel_targets<'a>(vmlinux: &'a Btf<'a>, modules: &'a [Btf<'a>]) -> Vec<&'a dyn TypeSource> {
    let mut targets: Vec<&dyn TypeSource> = vec![vmlinux];
    targets.extend(modules.iter().map(|m| m as &dyn TypeSource));
    targets
}
