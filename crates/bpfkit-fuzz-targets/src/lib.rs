//! The bodies of bpfkit's fuzz targets: one function per parser of untrusted input, each
//! taking arbitrary bytes. `fuzz/fuzz_targets/<name>.rs` (cargo-fuzz, nightly) calls them,
//! and `tests/corpus_replay.rs` feeds every file of the committed corpus
//! (`fuzz/corpus/<name>/`) to the same functions on stable, so a crash once found stays
//! fixed. Beyond "no panic" some targets check round trips (noted per function).
//!
//! [`TARGETS`] lists them by name; the names are the cargo-fuzz target names.

use bpfkit_obj::btf::{Btf, BtfExt, BtfMut, InfoBlock, Kind};
use bpfkit_obj::insn::{decode_slots, disassemble, encode_slots, Insns, NoSymbols};
use bpfkit_obj::object::ObjectSpec;
use bpfkit_obj::relo::{relocate_instructions, CandidateCache, CoreRelo, CoreReloKind, TypeSource};
use object::Endianness;

/// A target's entry point: any bytes.
pub type Entry = fn(&[u8]);

/// Every target: its name (the cargo-fuzz target and corpus directory) and entry point.
pub const TARGETS: &[(&str, Entry)] = &[
    ("elf", elf),
    ("btf", btf),
    ("btf_ext", btf_ext),
    ("core", core),
    ("insn", insn),
    ("trace_lang", trace_lang),
    ("tracefs_format", tracefs_format),
    ("proc_maps", proc_maps),
    ("ld_so_cache", ld_so_cache),
    ("usdt_notes", usdt_notes),
];

/// ELF objects: `ObjectSpec::parse`, then everything a loader reads from the spec (program
/// instructions walked and disassembled, the `.BTF` and `.BTF.ext` sections).
pub fn elf(data: &[u8]) {
    let Ok(spec) = ObjectSpec::parse(data) else {
        return;
    };
    let endian = if spec.big_endian {
        Endianness::Big
    } else {
        Endianness::Little
    };
    for prog in spec.programs.iter().chain(&spec.subprograms) {
        for (_, insn) in Insns::new(&prog.instructions, endian).flatten() {
            let _ = insn.instruction();
        }
        if let Ok(slots) = decode_slots(&prog.instructions, endian) {
            let _ = disassemble(&slots, &NoSymbols);
        }
    }
    if let Some(btf) = &spec.btf {
        let _ = Btf::parse(btf);
    }
    if let Some(ext) = &spec.btf_ext {
        let _ = BtfExt::parse(ext);
    }
}

/// BTF: `Btf::parse`, every lookup (type walk, names, sizes, modifier skipping), the writer
/// (`BtfMut::from_btf` + `to_bytes`, whose output must parse again to as many types), and
/// split BTF on top of itself.
pub fn btf(data: &[u8]) {
    let Ok(btf) = Btf::parse(data) else {
        return;
    };
    let mut names = Vec::new();
    for item in btf.types() {
        let Ok((id, _ty)) = item else {
            break;
        };
        let _ = btf.kind(id);
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
        if let Ok(name) = btf.name(id) {
            if names.len() < 64 {
                names.push(name.to_string());
            }
        }
    }
    for name in &names {
        let _ = btf.ids_by_name(name);
        let _ = btf.id_by_name_kind(name, Kind::Struct);
    }
    let _ = btf.pointer_size();
    if let Ok(written) = BtfMut::from_btf(&btf).and_then(|b| b.to_bytes()) {
        let again = Btf::parse(&written).expect("written BTF parses");
        assert_eq!(again.type_count(), btf.type_count());
    }
    if let Ok(split) = Btf::parse_split(data, &btf) {
        for item in split.types().take(256) {
            if item.is_err() {
                break;
            }
        }
    }
}

fn same_block<T: PartialEq + std::fmt::Debug>(a: &InfoBlock<T>, b: &InfoBlock<T>) {
    assert_eq!(a.sections, b.sections);
    if !a.sections.is_empty() {
        assert_eq!(a.rec_size, b.rec_size);
    }
}

/// `.BTF.ext`: `BtfExt::parse`; what parses must write back to bytes that parse to the same
/// value (an info block without records is written as absent: its record size is not
/// compared).
pub fn btf_ext(data: &[u8]) {
    let Ok(ext) = BtfExt::parse(data) else {
        return;
    };
    if let Ok(bytes) = ext.to_bytes() {
        let again = BtfExt::parse(&bytes).expect("written .BTF.ext parses");
        assert_eq!(
            (again.big_endian, again.flags, &again.header_extra),
            (ext.big_endian, ext.flags, &ext.header_extra)
        );
        same_block(&again.func_info, &ext.func_info);
        same_block(&again.line_info, &ext.line_info);
        same_block(&again.core_relo, &ext.core_relo);
    }
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        data.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// CO-RE: relocate fuzzed instructions with fuzzed CO-RE records against a fuzzed local and
/// target BTF.
///
/// Input layout (little-endian): `local_len: u32`, `target_len: u32`, the local BTF, the
/// target BTF, `count: u16`, `count` records of `bpf_core_relo` (`insn_off`, `type_id`,
/// `access_str_off` into the local BTF's strings, `kind`; 4 bytes each), then the
/// instructions. `fuzz/make-seeds.sh` builds such inputs from the corpus's CO-RE objects.
pub fn core(data: &[u8]) {
    let (Some(local_len), Some(target_len)) = (u32_at(data, 0), u32_at(data, 4)) else {
        return;
    };
    let rest = &data[8..];
    let (local_len, target_len) = (local_len as usize, target_len as usize);
    let Some(local_bytes) = rest.get(..local_len) else {
        return;
    };
    let Some(target_bytes) = rest.get(local_len..local_len.saturating_add(target_len)) else {
        return;
    };
    let rest = &rest[local_len + target_len..];
    let (Ok(local), Ok(target)) = (Btf::parse(local_bytes), Btf::parse(target_bytes)) else {
        return;
    };
    let Some(count) = rest
        .get(..2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    else {
        return;
    };
    let count = count.min(64);
    let mut relos = Vec::with_capacity(count);
    let mut at = 2;
    for _ in 0..count {
        let (Some(insn_off), Some(type_id), Some(access), Some(kind)) = (
            u32_at(rest, at),
            u32_at(rest, at + 4),
            u32_at(rest, at + 8),
            u32_at(rest, at + 12),
        ) else {
            break;
        };
        at += 16;
        // .BTF.ext parsing refuses unknown kinds; fold the fuzzed value onto the known ones.
        let Some(kind) = CoreReloKind::from_u32(kind % 16) else {
            continue;
        };
        let access = local.string_at(access).unwrap_or("0");
        relos.push(CoreRelo {
            insn_off,
            type_id,
            access,
            kind,
        });
    }
    let mut insns = rest.get(at..).unwrap_or(&[]).to_vec();
    let targets: [&dyn TypeSource; 1] = [&target];
    let _ = relocate_instructions(
        "fuzz",
        &mut insns,
        &relos,
        &local,
        &targets,
        &mut CandidateCache::new(),
    );
}

/// Instructions: any bytes, in both byte orders, decode, iterate as logical instructions,
/// disassemble, and encode back to the same bytes.
pub fn insn(data: &[u8]) {
    for endian in [Endianness::Little, Endianness::Big] {
        let mut reencoded = Vec::with_capacity(data.len());
        for item in Insns::new(data, endian) {
            let Ok((_, insn)) = item else {
                break;
            };
            let _ = insn.instruction();
            let _ = insn.to_string();
            insn.encode_into(endian, &mut reencoded);
        }
        assert_eq!(&data[..reencoded.len()], &reencoded[..]);
        let whole = &data[..data.len() / 8 * 8];
        let slots = decode_slots(whole, endian).expect("a multiple of 8 bytes decodes");
        assert_eq!(encode_slots(&slots, endian), whole);
        let _ = disassemble(&slots, &NoSymbols);
    }
}

/// `bpfkit trace`'s language: the parser, the code generator for programs that need no
/// tracefs or kernel BTF, every diagnostic rendered against the source (line and column),
/// the printf format parser and the probe glob on the same text.
pub fn trace_lang(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match bpfkit_trace::parser::parse(src) {
        Ok(program) => {
            // The code generator too, for programs that need nothing from the machine:
            // BEGIN/END/interval probes only (tracepoints read tracefs) and no kernel types
            // (those read the kernel's BTF).
            let local = program.probes.iter().all(|p| {
                p.attach
                    .iter()
                    .all(|(a, _)| a == "BEGIN" || a == "END" || a.starts_with("interval:"))
            });
            if local && !src.contains("curtask") && !src.contains("struct") {
                let options = bpfkit_trace::codegen::CompileOptions {
                    params: vec!["1".into(), "q".into()],
                    ..Default::default()
                };
                if let Err(diag) = bpfkit_trace::codegen::compile(&program, &options) {
                    let _ = diag.render("fuzz.bt", src);
                }
            }
        }
        Err(diag) => {
            let _ = diag.line_col(src);
            let _ = diag.render("fuzz.bt", src);
        }
    }
    let _ = bpfkit_trace::format::parse_format(src);
    let _ = bpfkit_trace::probes::glob(src, "sys_enter_openat");
}

/// tracefs `format` files: `bpfkit trace`'s parser (the one format-file parser in the tree).
pub fn tracefs_format(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = bpfkit_trace::probes::parse_format(&text);
}

/// `/proc/PID/maps`: the line parser, the library lookup by short name and the start of a
/// file's mapping.
pub fn proc_maps(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mappings = bpfkit::programs::proc_maps::parse(&text);
    for m in &mappings {
        assert!(m.path.is_none_or(|p| !p.is_empty()));
    }
    let _ = bpfkit::programs::proc_maps::library(&mappings, "libc");
    if let Some(path) = mappings.iter().find_map(|m| m.path) {
        let _ = bpfkit::programs::proc_maps::start_of(&mappings, std::path::Path::new(path));
    }
}

/// glibc's `/etc/ld.so.cache` (the new format), with the flags of x86_64 and aarch64
/// libraries and with any flags.
pub fn ld_so_cache(data: &[u8]) {
    for flags in [0x0303, 0x0a03, 0x0003, -1] {
        let _ = bpfkit::programs::uprobe::parse_ld_so_cache(data, flags);
    }
}

/// USDT: the `.note.stapsdt` notes of an ELF file and each note's argument specs.
pub fn usdt_notes(data: &[u8]) {
    if let Ok(notes) = bpfkit::programs::usdt::parse_notes(data) {
        for note in notes {
            for arg in note.args.split_whitespace() {
                let _ = bpfkit::programs::usdt::parse_arg(arg);
            }
            let _ = bpfkit::programs::usdt::encode_spec(&note.args, 0);
        }
    }
    // The argument spec grammar on its own.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = bpfkit::programs::usdt::parse_arg(text);
        let _ = bpfkit::programs::usdt::encode_spec(text, 0);
    }
}
