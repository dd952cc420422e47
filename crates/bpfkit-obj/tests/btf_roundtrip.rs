//! BTF parse → write → parse is the identity on kernel BTF and every corpus object, and the
//! owned BTF shows the same type view as the parsed one, also after an edit.

mod btf_support;

use bpfkit_obj::btf::{Btf, BtfMut, Type};
use btf_support::*;

fn assert_round_trip(what: &str, bytes: &[u8]) {
    let btf = Btf::parse(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut owned = BtfMut::from_btf(&btf).unwrap();
    for id in btf.local_ids() {
        assert_eq!(
            owned.type_by_id(id),
            Some(btf.type_by_id(id).unwrap()),
            "{what} [{id}] owned view"
        );
    }
    let written = owned.to_bytes().unwrap();
    // An edit is seen by the next read.
    let last = btf.type_count() - 1;
    let ptr = owned.add_ptr(last);
    assert!(
        matches!(owned.type_by_id(ptr), Some(Type::Ptr(p)) if p.target == last),
        "{what}: added PTR"
    );
    assert_eq!(written.len(), bytes.len(), "{what}: length");
    assert!(written == bytes, "{what}: bytes differ after round trip");
    let again = Btf::parse(&written).unwrap();
    assert_eq!(again.type_count(), btf.type_count(), "{what}");
    for id in btf.local_ids() {
        assert_eq!(
            again.type_by_id(id).unwrap(),
            btf.type_by_id(id).unwrap(),
            "{what} [{id}]"
        );
    }
}

#[test]
fn vmlinux_round_trips_byte_identical() {
    let bytes = std::fs::read(VMLINUX).unwrap();
    assert_round_trip(VMLINUX, &bytes);
}

#[test]
fn corpus_btf_round_trips_byte_identical() {
    let objects = corpus_btf();
    assert!(objects.len() >= 50);
    for (path, bytes) in &objects {
        assert_round_trip(&path.display().to_string(), bytes);
    }
}

#[test]
fn big_endian_round_trip_decodes_the_same_types() {
    let (path, bytes) = corpus_btf().into_iter().next().unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let mut m = BtfMut::from_btf(&btf).unwrap();
    m.set_big_endian(true);
    let be = m.to_bytes().unwrap();
    assert_eq!(&be[..2], &[0xeb, 0x9f], "big-endian magic");
    let be_btf = Btf::parse(&be).unwrap();
    assert!(be_btf.is_big_endian());
    for id in btf.local_ids() {
        assert_eq!(
            be_btf.type_by_id(id).unwrap(),
            btf.type_by_id(id).unwrap(),
            "{} [{id}]",
            path.display()
        );
    }
    // And back to little-endian gives the original bytes.
    let mut le = BtfMut::from_btf(&be_btf).unwrap();
    le.set_big_endian(false);
    assert!(le.to_bytes().unwrap() == bytes);
}

#[test]
fn clang_big_endian_btf_decodes_like_little_endian_and_round_trips() {
    let el = build_fixture_for("kinds.bpf.c", "bpfel");
    let eb = build_fixture_for("kinds.bpf.c", "bpfeb");
    let el_bytes = elf_section(&el, ".BTF").unwrap();
    let eb_bytes = elf_section(&eb, ".BTF").unwrap();
    assert_eq!(&eb_bytes[..2], &[0xeb, 0x9f], "clang wrote big-endian BTF");
    let el_btf = Btf::parse(&el_bytes).unwrap();
    let eb_btf = Btf::parse(&eb_bytes).unwrap();
    assert!(eb_btf.is_big_endian() && !el_btf.is_big_endian());
    assert_eq!(eb_btf.type_count(), el_btf.type_count());
    for id in el_btf.local_ids() {
        assert_eq!(
            eb_btf.type_by_id(id).unwrap(),
            el_btf.type_by_id(id).unwrap(),
            "[{id}]"
        );
    }
    assert_round_trip("bpfeb .BTF", &eb_bytes);
    let eb_ext = elf_section(&eb, ".BTF.ext").unwrap();
    let ext = bpfkit_obj::btf::BtfExt::parse(&eb_ext).unwrap();
    assert!(ext.big_endian);
    assert!(ext.to_bytes().unwrap() == eb_ext);
    let el_ext = bpfkit_obj::btf::BtfExt::parse(&elf_section(&el, ".BTF.ext").unwrap()).unwrap();
    assert_eq!(ext.func_info, el_ext.func_info);
    assert_eq!(ext.line_info.len(), el_ext.line_info.len());
}
