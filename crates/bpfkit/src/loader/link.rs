//! Linking one program: append the subprograms it calls, patch calls, map and data
//! references, externs and CO-RE, and rebase its func/line info.

use std::collections::HashMap;

use bpfkit_obj::btf::{Btf, Kind};
use bpfkit_obj::object::{ExternKind, ObjectSpec, ProgramSpec, RelocationTarget};
use bpfkit_obj::relo::{
    essential_name, relocate_instructions, CandidateCache, CoreRelo, TypeSource,
};

use crate::sys::uapi;

/// `BPF_PSEUDO_FUNC`: ld_imm64 of a subprogram's address (callbacks).
const PSEUDO_FUNC: u8 = 4;

/// Everything the linker needs from the loaded world.
pub(crate) struct LinkContext<'a> {
    pub spec: &'a ObjectSpec,
    /// The object's fixed BTF (local BTF for CO-RE), if any.
    pub local_btf: Option<&'a Btf<'a>>,
    /// Kernel BTF for CO-RE, ksyms and kfuncs (loaded lazily by the caller).
    pub kernel_btf: Option<&'a Btf<'a>>,
    /// Map name → fd number.
    pub map_fds: &'a HashMap<String, i32>,
    /// Name of the `.kconfig` map, if any.
    pub kconfig_map: Option<&'a str>,
    /// Each function's instructions with CO-RE applied ([`relocate_core`]), by name;
    /// functions without CO-RE records are absent.
    pub relocated: &'a HashMap<String, Vec<u8>>,
}

/// A program ready for `BPF_PROG_LOAD`.
#[derive(Debug, Default)]
pub(crate) struct Linked {
    pub insns: Vec<u64>,
    /// `(insn index, FUNC type id)`.
    pub func_info: Vec<(u32, u32)>,
    /// `struct bpf_line_info` records with instruction indices.
    pub line_info: Vec<[u32; 4]>,
}

fn insn_mut(insns: &mut [u8], i: usize) -> Option<&mut [u8]> {
    insns.get_mut(i * 8..i * 8 + 8)
}

fn set_imm(insns: &mut [u8], i: usize, imm: i32) -> Option<()> {
    insn_mut(insns, i)?[4..8].copy_from_slice(&imm.to_le_bytes());
    Some(())
}

fn imm(insns: &[u8], i: usize) -> Option<i32> {
    let b = insns.get(i * 8 + 4..i * 8 + 8)?;
    Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn set_src(insns: &mut [u8], i: usize, src: u8) -> Option<()> {
    let b = insn_mut(insns, i)?;
    b[1] = (b[1] & 0x0f) | (src << 4);
    Some(())
}

fn set_off(insns: &mut [u8], i: usize, off: i16) -> Option<()> {
    insn_mut(insns, i)?[2..4].copy_from_slice(&off.to_le_bytes());
    Some(())
}

/// A CO-RE relocation that could not be applied, in the function it belongs to.
pub(crate) struct CoreFailure {
    /// The function (program or subprogram) holding the instruction, or the section name.
    pub function: String,
    /// What went wrong.
    pub reason: String,
}

/// Apply every CO-RE record of the spec (the `.BTF.ext` records the parser attached to
/// each function) once, before linking: one `relocate_instructions` call per ELF section,
/// over the section's functions laid out at their section offsets, with one candidate cache
/// for the whole load and `targets` (vmlinux first, then module BTFs that are read only if
/// vmlinux has no candidate). Functions of programs that are not loaded are left out, as
/// libbpf skips them. Returns the relocated bytes of each function that had records, by
/// name; each applied relocation is logged at debug level.
pub(crate) fn relocate_core(
    spec: &ObjectSpec,
    local: Option<&Btf<'_>>,
    targets: &[&dyn TypeSource],
) -> Result<HashMap<String, Vec<u8>>, CoreFailure> {
    let mut out = HashMap::new();
    let Some(local) = local else {
        return Ok(out);
    };
    let functions: Vec<&ProgramSpec> = (spec.programs.iter().filter(|p| p.section.autoload))
        .chain(&spec.subprograms)
        .collect();
    if functions.iter().all(|f| f.btf_ext.core_relos.is_empty()) {
        return Ok(out);
    }
    let mut cache = CandidateCache::new();
    if !targets.is_empty() {
        // One scan of vmlinux for every root type the object relocates, not a name index.
        let names: Vec<&str> = (functions.iter())
            .flat_map(|f| &f.btf_ext.core_relos)
            .filter_map(|r| local.name(r.type_id).ok())
            .map(essential_name)
            .collect();
        cache.prefetch(targets, &names);
    }
    // ELF sections with records, in section order.
    let mut sections: Vec<usize> = (functions.iter())
        .filter(|f| !f.btf_ext.core_relos.is_empty())
        .map(|f| f.section_index)
        .collect();
    sections.sort_unstable();
    sections.dedup();
    for index in sections {
        let in_section: Vec<&ProgramSpec> = functions
            .iter()
            .copied()
            .filter(|f| f.section_index == index)
            .collect();
        let name = in_section[0].section.name.as_str();
        let range = |f: &ProgramSpec| {
            let start = (f.insn_offset * 8) as u32;
            start..start + f.instructions.len() as u32
        };
        let mut relos: Vec<CoreRelo<'_>> = (in_section.iter())
            .flat_map(|f| {
                let start = range(f).start;
                f.btf_ext.core_relos.iter().map(move |r| CoreRelo {
                    insn_off: start + r.insn_offset * 8,
                    type_id: r.type_id,
                    access: r.access.as_str(),
                    kind: r.kind,
                })
            })
            .collect();
        relos.sort_by_key(|r| r.insn_off);
        if relos.is_empty() {
            continue;
        }
        if targets.is_empty() {
            return Err(CoreFailure {
                function: name.to_string(),
                reason: "CO-RE relocations need the kernel's BTF, which is unavailable".into(),
            });
        }
        let len = in_section
            .iter()
            .map(|f| range(f).end as usize)
            .max()
            .unwrap_or(0);
        let mut insns = vec![0u8; len];
        for f in &in_section {
            let r = range(f);
            insns[r.start as usize..r.end as usize].copy_from_slice(&f.instructions);
        }
        let applied = relocate_instructions(name, &mut insns, &relos, local, targets, &mut cache)
            .map_err(|e| {
            let at = (e.insn_index * 8) as u32;
            CoreFailure {
                function: in_section
                    .iter()
                    .find(|f| range(f).contains(&at))
                    .map_or_else(|| name.to_string(), |f| f.name.clone()),
                reason: e.to_string(),
            }
        })?;
        for a in &applied {
            log::debug!("CO-RE {name}: {a}");
        }
        for f in in_section {
            let r = range(f);
            if relos.iter().any(|x| r.contains(&x.insn_off)) {
                out.insert(
                    f.name.clone(),
                    insns[r.start as usize..r.end as usize].to_vec(),
                );
            }
        }
    }
    Ok(out)
}

/// Link `main` with every function it reaches.
pub(crate) fn link(ctx: &LinkContext<'_>, main: &ProgramSpec) -> Result<Linked, String> {
    let spec = ctx.spec;
    let mut order: Vec<&ProgramSpec> = vec![main];
    let mut start: HashMap<&str, usize> = HashMap::from([(main.name.as_str(), 0)]);
    let mut len = main.insn_count();
    let mut i = 0;
    while i < order.len() {
        let f = order[i];
        for r in &f.relocations {
            let callee = match &r.target {
                RelocationTarget::Call { function } => function,
                RelocationTarget::FunctionAddress { function } => function,
                _ => continue,
            };
            if start.contains_key(callee.as_str()) {
                continue;
            }
            let g = spec
                .function(callee)
                .ok_or_else(|| format!("calls '{callee}', which the object does not define"))?;
            start.insert(g.name.as_str(), len);
            len += g.insn_count();
            order.push(g);
        }
        i += 1;
    }

    let mut out = Linked::default();
    let mut bytes = Vec::with_capacity(len * 8);
    for f in &order {
        let base = start[f.name.as_str()];
        let mut insns = ctx
            .relocated
            .get(&f.name)
            .unwrap_or(&f.instructions)
            .clone();
        for r in &f.relocations {
            let at = r.insn_index;
            let bad = || format!("relocation of '{}' at insn {at} is out of range", r.symbol);
            match &r.target {
                RelocationTarget::Call { function }
                | RelocationTarget::FunctionAddress { function } => {
                    let target = start[function.as_str()] as i64;
                    let rel = target - (base + at) as i64 - 1;
                    set_imm(&mut insns, at, rel as i32).ok_or_else(bad)?;
                    if matches!(r.target, RelocationTarget::FunctionAddress { .. }) {
                        set_src(&mut insns, at, PSEUDO_FUNC).ok_or_else(bad)?;
                    }
                }
                RelocationTarget::Map { map } => {
                    let fd = *ctx
                        .map_fds
                        .get(map)
                        .ok_or_else(|| format!("map '{map}' was not created"))?;
                    set_src(&mut insns, at, uapi::BPF_PSEUDO_MAP_FD as u8).ok_or_else(bad)?;
                    set_imm(&mut insns, at, fd).ok_or_else(bad)?;
                }
                RelocationTarget::Data { map, offset, .. } => {
                    let fd = *ctx
                        .map_fds
                        .get(map)
                        .ok_or_else(|| format!("global data map '{map}' was not created"))?;
                    let addend = imm(&insns, at).ok_or_else(bad)?;
                    set_src(&mut insns, at, uapi::BPF_PSEUDO_MAP_VALUE as u8).ok_or_else(bad)?;
                    set_imm(&mut insns, at, fd).ok_or_else(bad)?;
                    set_imm(&mut insns, at + 1, addend + *offset as i32).ok_or_else(bad)?;
                }
                RelocationTarget::Extern { name, call } => {
                    link_extern(ctx, &mut insns, at, name, *call)?;
                }
            }
        }
        bytes.extend_from_slice(&insns);
        rebase_ext(ctx, f, base, &mut out);
    }
    out.insns = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    Ok(out)
}

fn link_extern(
    ctx: &LinkContext<'_>,
    insns: &mut [u8],
    at: usize,
    name: &str,
    call: bool,
) -> Result<(), String> {
    let ext = ctx
        .spec
        .externs
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| format!("extern '{name}' has no description in the object"))?;
    let bad = || format!("extern '{name}' at insn {at} is out of range");
    match &ext.kind {
        ExternKind::Kconfig { offset, .. } => {
            let map = ctx.kconfig_map.ok_or("no .kconfig map")?;
            let fd = *ctx.map_fds.get(map).ok_or(".kconfig map was not created")?;
            set_src(insns, at, uapi::BPF_PSEUDO_MAP_VALUE as u8).ok_or_else(bad)?;
            set_imm(insns, at, fd).ok_or_else(bad)?;
            set_imm(insns, at + 1, *offset as i32).ok_or_else(bad)?;
        }
        ExternKind::KsymVariable { type_id: 0 } => {
            // Typeless ksym: its address from /proc/kallsyms, as libbpf does.
            match kallsyms_address(name) {
                Some(addr) => {
                    set_imm(insns, at, addr as u32 as i32).ok_or_else(bad)?;
                    set_imm(insns, at + 1, (addr >> 32) as u32 as i32).ok_or_else(bad)?;
                }
                None if ext.weak => {
                    set_imm(insns, at, 0).ok_or_else(bad)?;
                    set_imm(insns, at + 1, 0).ok_or_else(bad)?;
                }
                None => {
                    return Err(format!(
                        "kernel symbol '{name}' not found in /proc/kallsyms"
                    ))
                }
            }
        }
        ExternKind::KsymVariable { .. } | ExternKind::Kfunc { .. } => {
            let kernel = ctx
                .kernel_btf
                .ok_or_else(|| format!("extern '{name}' needs the kernel's BTF"))?;
            let kind = if call { Kind::Func } else { Kind::Var };
            match kernel.id_by_name_kind(name, kind) {
                Some(id) if call => {
                    set_src(insns, at, uapi::BPF_PSEUDO_KFUNC_CALL as u8).ok_or_else(bad)?;
                    set_imm(insns, at, id as i32).ok_or_else(bad)?;
                    set_off(insns, at, 0).ok_or_else(bad)?;
                }
                Some(id) => {
                    set_src(insns, at, uapi::BPF_PSEUDO_BTF_ID as u8).ok_or_else(bad)?;
                    set_imm(insns, at, id as i32).ok_or_else(bad)?;
                    set_imm(insns, at + 1, 0).ok_or_else(bad)?;
                }
                None if ext.weak && !call => {
                    // A missing weak variable reads as NULL: a plain ld_imm64 of 0.
                    set_imm(insns, at, 0).ok_or_else(bad)?;
                    set_imm(insns, at + 1, 0).ok_or_else(bad)?;
                }
                None if ext.weak => {
                    // libbpf's poison for unresolved weak kfunc calls.
                    set_imm(insns, at, bpfkit_obj::relo::POISON_CALL_IMM).ok_or_else(bad)?;
                }
                None => return Err(format!("kernel symbol '{name}' not found in kernel BTF")),
            }
        }
        ExternKind::Untyped => {
            return Err(format!(
                "extern '{name}' has no BTF type: cannot resolve it"
            ))
        }
    }
    Ok(())
}

/// The address of kernel symbol `name` in /proc/kallsyms (0 addresses mean hidden: `None`).
fn kallsyms_address(name: &str) -> Option<u64> {
    let text = crate::sys::fdtrace::read_to_string("/proc/kallsyms", "proc file").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (addr, _kind, sym) = (f.next()?, f.next()?, f.next()?);
        (sym == name)
            .then(|| u64::from_str_radix(addr, 16).ok())
            .flatten()
            .filter(|&a| a != 0)
    })
}

/// Copy `f`'s func/line info (the spec's records, offsets relative to `f`) as instruction
/// indices from `base`. Without a usable local BTF the kernel gets none.
fn rebase_ext(ctx: &LinkContext<'_>, f: &ProgramSpec, base: usize, out: &mut Linked) {
    if ctx.local_btf.is_none() {
        return;
    }
    let base = base as u32;
    out.func_info
        .extend((f.btf_ext.func_info.iter()).map(|r| (base + r.insn_offset, r.type_id)));
    out.line_info.extend((f.btf_ext.line_info.iter()).map(|r| {
        [
            base + r.insn_offset,
            r.file_name_off,
            r.line_off,
            r.line_col,
        ]
    }));
}
