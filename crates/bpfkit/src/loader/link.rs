//! Linking one program: append the subprograms it calls, patch calls, map and data
//! references, externs and CO-RE, and rebase its func/line info.

use std::collections::HashMap;

use bpfkit_obj::btf::{Btf, BtfExt, Kind};
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
    pub btf_ext: Option<&'a BtfExt>,
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

/// Apply every `.BTF.ext` CO-RE record once, before linking: one `relocate_instructions`
/// call per section in `.BTF.ext` order, over the section's functions laid out at their
/// section offsets, with one candidate cache for the whole load and `targets` (vmlinux
/// first, then module BTFs that are read only if vmlinux has no candidate). Functions of
/// programs that are not loaded are left out, as libbpf skips them. Returns the relocated
/// bytes of each function that had records, by name; each applied relocation is logged at
/// debug level.
pub(crate) fn relocate_core(
    spec: &ObjectSpec,
    local: Option<&Btf<'_>>,
    ext: Option<&BtfExt>,
    targets: &[&dyn TypeSource],
) -> Result<HashMap<String, Vec<u8>>, CoreFailure> {
    let mut out = HashMap::new();
    let (Some(ext), Some(local)) = (ext, local) else {
        return Ok(out);
    };
    let mut cache = CandidateCache::new();
    if !targets.is_empty() {
        // One scan of vmlinux for every root type the object relocates, not a name index.
        let names: Vec<&str> = (ext.core_relo.sections.iter())
            .flat_map(|sec| &sec.records)
            .filter_map(|r| local.name(r.type_id).ok())
            .map(essential_name)
            .collect();
        cache.prefetch(targets, &names);
    }
    let functions: Vec<&ProgramSpec> = (spec.programs.iter().filter(|p| p.section.autoload))
        .chain(&spec.subprograms)
        .collect();
    for sec in &ext.core_relo.sections {
        let Ok(name) = sec.name(local).map(|n| n.trim_start_matches('?')) else {
            continue;
        };
        let in_section: Vec<&ProgramSpec> = functions
            .iter()
            .copied()
            .filter(|f| f.section.name == name)
            .collect();
        let range = |f: &ProgramSpec| {
            let start = (f.insn_offset * 8) as u32;
            start..start + f.instructions.len() as u32
        };
        let mut relos = Vec::new();
        for r in &sec.records {
            // Records outside every loaded function are not applied (as before linking).
            if !in_section.iter().any(|f| range(f).contains(&r.insn_off)) {
                continue;
            }
            let access = local.string_at(r.access_str_off).map_err(|e| CoreFailure {
                function: name.to_string(),
                reason: e.to_string(),
            })?;
            relos.push(CoreRelo {
                insn_off: r.insn_off,
                type_id: r.type_id,
                access,
                kind: r.kind,
            });
        }
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
    let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (addr, _kind, sym) = (f.next()?, f.next()?, f.next()?);
        (sym == name)
            .then(|| u64::from_str_radix(addr, 16).ok())
            .flatten()
            .filter(|&a| a != 0)
    })
}

/// Copy `f`'s func/line info (section byte offsets) as instruction indices from `base`.
fn rebase_ext(ctx: &LinkContext<'_>, f: &ProgramSpec, base: usize, out: &mut Linked) {
    let (Some(ext), Some(local)) = (ctx.btf_ext, ctx.local_btf) else {
        return;
    };
    let start = (f.insn_offset * 8) as u32;
    let end = start + f.instructions.len() as u32;
    let rebase = |off: u32| (base as u32) + (off - start) / 8;
    let ours = |name: Result<&str, _>| {
        name.ok().map(|n: &str| n.trim_start_matches('?')) == Some(f.section.name.as_str())
    };
    for sec in &ext.func_info.sections {
        if ours(sec.name(local)) {
            for r in sec
                .records
                .iter()
                .filter(|r| r.insn_off >= start && r.insn_off < end)
            {
                out.func_info.push((rebase(r.insn_off), r.type_id));
            }
        }
    }
    for sec in &ext.line_info.sections {
        if ours(sec.name(local)) {
            for r in sec
                .records
                .iter()
                .filter(|r| r.insn_off >= start && r.insn_off < end)
            {
                out.line_info
                    .push([rebase(r.insn_off), r.file_name_off, r.line_off, r.line_col]);
            }
        }
    }
}
