//! BTF parsing against ground truth: kernel BTF compared with bpftool, corpus objects decoded.

mod btf_support;

use std::collections::BTreeMap;

use bpfkit_obj::btf::{Btf, BtfError, Kind, Type};
use btf_support::*;

#[test]
fn vmlinux_kind_counts_match_bpftool() {
    let bytes = std::fs::read(VMLINUX).unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let mut ours = BTreeMap::new();
    for id in btf.local_ids() {
        *ours
            .entry(btf.kind(id).unwrap().name().to_string())
            .or_insert(0) += 1;
    }
    let theirs = bpftool_kind_counts(&bpftool_dump(VMLINUX));
    assert_eq!(ours, theirs);
    assert!(
        ours["STRUCT"] > 1000,
        "vmlinux has thousands of structs: {ours:?}"
    );
}

#[test]
fn vmlinux_task_struct_members_match_bpftool() {
    let bytes = std::fs::read(VMLINUX).unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let dump = bpftool_dump(VMLINUX);
    for name in ["task_struct", "sk_buff", "file", "mm_struct"] {
        let (id, size, members) = bpftool_struct(&dump, name);
        assert_eq!(btf.id_by_name_kind(name, Kind::Struct), Some(id), "{name}");
        let Type::Struct(s) = btf.type_by_id(id).unwrap() else {
            panic!("{name} is not a struct")
        };
        assert_eq!(s.size, size, "{name}");
        assert_eq!(btf.resolve_size(id).unwrap(), u64::from(size));
        assert_eq!(DumpMember::ours(&s.members.to_vec()), members, "{name}");
    }
    // task_struct has bitfields (sched_reset_on_fork:1 ...); check one is decoded.
    let (_, _, members) = bpftool_struct(&dump, "task_struct");
    assert!(members.iter().any(|m| m.bitfield_size == 1));
}

#[test]
fn vmlinux_every_type_kind_name_and_member_matches_bpftool() {
    let bytes = std::fs::read(VMLINUX).unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let checked = assert_matches_bpftool_dump(&btf, &bpftool_dump(VMLINUX));
    assert_eq!(checked, btf.local_ids().len());
}

#[test]
fn corpus_every_type_matches_bpftool() {
    for (path, bytes) in corpus_btf().iter().step_by(7) {
        let btf = Btf::parse(bytes).unwrap();
        let dump = bpftool_dump(path.to_str().unwrap());
        assert_eq!(
            assert_matches_bpftool_dump(&btf, &dump),
            btf.local_ids().len()
        );
    }
}

#[test]
fn vmlinux_every_type_decodes() {
    let bytes = std::fs::read(VMLINUX).unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let mut n = 0;
    for t in btf.types() {
        let (id, t) = t.unwrap();
        assert_eq!(t.kind(), btf.kind(id).unwrap());
        assert_eq!(t.name(), btf.name(id).unwrap());
        n += 1;
    }
    assert_eq!(n + 1, btf.type_count() as usize);
}

#[test]
fn vmlinux_lookup_follows_typedefs_and_modifiers() {
    let bytes = std::fs::read(VMLINUX).unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let u64_id = btf.id_by_name_kind("u64", Kind::Typedef).unwrap();
    let target = btf.skip_mods_and_typedefs(u64_id).unwrap();
    assert_eq!(btf.kind(target).unwrap(), Kind::Int);
    assert_eq!(btf.resolve_size(u64_id).unwrap(), 8);
    assert_eq!(btf.pointer_size(), 8);
    assert!(btf.ids_by_name("no_such_type_in_any_kernel").is_empty());
}

#[test]
fn corpus_btf_parses_and_decodes() {
    let objects = corpus_btf();
    assert!(
        objects.len() >= 50,
        "corpus objects with .BTF: {}",
        objects.len()
    );
    for (path, bytes) in &objects {
        let btf = Btf::parse(bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut datasecs = 0;
        for t in btf.types() {
            let (_, t) = t.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if matches!(t, Type::Datasec(_)) {
                datasecs += 1;
            }
        }
        // libbpf-tools objects all have a `license` variable, so at least one DATASEC.
        if path.to_string_lossy().contains("libbpf-tools") {
            assert!(datasecs > 0, "{}: expected a DATASEC", path.display());
        }
    }
}

#[test]
fn truncated_btf_is_an_error_not_a_panic() {
    let (path, bytes) = corpus_btf().into_iter().next().unwrap();
    for len in 0..bytes.len() {
        let cut = &bytes[..len];
        match Btf::parse(cut) {
            Err(_) => {}
            Ok(btf) => {
                for t in btf.types() {
                    let _ = t;
                }
            }
        }
    }
    assert!(
        matches!(
            Btf::parse(&bytes[..10]),
            Err(BtfError::TruncatedHeader { len: 10, .. })
        ),
        "{}",
        path.display()
    );
}

#[test]
fn bad_member_name_error_names_the_type_and_its_offset() {
    let (_, bytes) = corpus_btf().into_iter().next().unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let (id, _) = btf
        .types()
        .map(Result::unwrap)
        .find(|(_, t)| matches!(t, Type::Struct(s) if !s.members.is_empty()))
        .unwrap();
    let off = btf.type_offset(id).unwrap();
    // The first member's name_off is right after the 12-byte type header.
    let mut broken = bytes.clone();
    broken[off + 12..off + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    let btf = Btf::parse(&broken).unwrap();
    let err = btf.type_by_id(id).unwrap_err();
    assert!(
        matches!(&err, BtfError::BadTypeString { id: i, offset, source }
            if *i == id && *offset == off
            && matches!(**source, BtfError::StringOutOfBounds { offset: u32::MAX, .. })),
        "{err:?}"
    );
    // Its own part only; the cause is its `source()`, printed once by a report of the chain.
    assert_eq!(err.to_string(), format!("BTF type [{id}] at offset {off}"));
    let cause = std::error::Error::source(&err).expect("the string error is the source");
    assert!(cause.to_string().contains(&u32::MAX.to_string()), "{cause}");
}
