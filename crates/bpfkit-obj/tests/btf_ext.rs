//! `.BTF.ext` of every corpus object: parse, check against its `.BTF` and ELF, write back.

mod btf_support;

use std::collections::BTreeMap;

use bpfkit_obj::btf::{Btf, BtfExt, BtfExtError, CoreReloKind, Kind};
use btf_support::*;
use object::{Object, ObjectSection};

fn corpus_ext() -> Vec<(std::path::PathBuf, Vec<u8>, Vec<u8>)> {
    bpfkit_test_support::corpus_objects()
        .into_iter()
        .filter_map(|p| {
            let btf = elf_section(&p, ".BTF")?;
            let ext = elf_section(&p, ".BTF.ext")?;
            Some((p, btf, ext))
        })
        .collect()
}

#[test]
fn corpus_btf_ext_round_trips_byte_identical() {
    let objects = corpus_ext();
    assert!(
        objects.len() >= 50,
        "{} objects with .BTF.ext",
        objects.len()
    );
    for (path, _, ext) in &objects {
        let parsed = BtfExt::parse(ext).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = parsed.to_bytes().unwrap();
        assert!(written == *ext, "{}: bytes differ", path.display());
        assert_eq!(BtfExt::parse(&written).unwrap(), parsed);
    }
}

#[test]
fn corpus_btf_ext_records_point_at_real_functions_sections_and_types() {
    let mut core_kinds: BTreeMap<CoreReloKind, usize> = BTreeMap::new();
    for (path, btf_bytes, ext_bytes) in corpus_ext() {
        let what = path.display().to_string();
        let btf = Btf::parse(&btf_bytes).unwrap();
        let ext = BtfExt::parse(&ext_bytes).unwrap();
        let elf_bytes = std::fs::read(&path).unwrap();
        let elf = object::File::parse(&*elf_bytes).unwrap();
        let section_size = |name: &str| {
            elf.section_by_name(name)
                .unwrap_or_else(|| panic!("{what}: no ELF section {name}"))
                .size()
        };
        for sec in &ext.func_info.sections {
            let name = sec.name(&btf).unwrap();
            let size = section_size(name);
            for f in &sec.records {
                assert_eq!(btf.kind(f.type_id).unwrap(), Kind::Func, "{what} {name}");
                assert!(
                    u64::from(f.insn_off) < size && f.insn_off % 8 == 0,
                    "{what}"
                );
            }
            assert_eq!(sec.records[0].insn_off, 0, "{what} {name}: first func at 0");
        }
        for sec in &ext.line_info.sections {
            let size = section_size(sec.name(&btf).unwrap());
            for l in &sec.records {
                assert!(u64::from(l.insn_off) < size, "{what}");
                assert!(
                    !btf.string_at(l.file_name_off).unwrap().is_empty(),
                    "{what}"
                );
                btf.string_at(l.line_off).unwrap();
            }
        }
        for sec in &ext.core_relo.sections {
            let size = section_size(sec.name(&btf).unwrap());
            for r in &sec.records {
                assert!(u64::from(r.insn_off) < size, "{what}");
                let access = btf.string_at(r.access_str_off).unwrap();
                assert!(
                    !access.is_empty() && access.split(':').all(|n| n.parse::<u32>().is_ok()),
                    "{what}: access string {access:?}"
                );
                assert_ne!(btf.kind(r.type_id).unwrap(), Kind::Void, "{what}");
                *core_kinds.entry(r.kind).or_insert(0) += 1;
            }
        }
    }
    // libbpf-tools use field offsets, existence checks and more.
    assert!(
        core_kinds[&CoreReloKind::FieldByteOffset] > 100,
        "{core_kinds:?}"
    );
    assert!(
        core_kinds.contains_key(&CoreReloKind::FieldExists),
        "{core_kinds:?}"
    );
}

#[test]
fn truncated_btf_ext_is_an_error_not_a_panic() {
    let (path, _, ext) = corpus_ext().into_iter().next().unwrap();
    for len in 0..ext.len() {
        let _ = BtfExt::parse(&ext[..len]);
    }
    assert!(
        matches!(
            BtfExt::parse(&ext[..8]),
            Err(BtfExtError::TruncatedHeader { len: 8, .. })
        ),
        "{}",
        path.display()
    );
}

#[test]
fn big_endian_btf_ext_round_trips() {
    let (_, _, ext) = corpus_ext().into_iter().next().unwrap();
    let mut parsed = BtfExt::parse(&ext).unwrap();
    parsed.big_endian = true;
    let be = parsed.to_bytes().unwrap();
    let back = BtfExt::parse(&be).unwrap();
    assert!(back.big_endian);
    assert_eq!(back.core_relo, parsed.core_relo);
    assert_eq!(back.func_info, parsed.func_info);
    assert_eq!(back.line_info, parsed.line_info);
}
