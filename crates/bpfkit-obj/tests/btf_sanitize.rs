//! Sanitizer and DATASEC fix-up on clang-19 output with every kind, checked by the kernel.

mod btf_support;

use std::collections::BTreeSet;

use bpfkit_obj::btf::{
    fixup_datasecs, sanitize, Btf, BtfFeatures, BtfMut, FuncLinkage, IntEncoding, Kind, Type,
    VarLinkage, VarSecinfo, ENUM64_PLACEHOLDER,
};
use btf_support::*;

/// The fixture's BTF after DATASEC fix-up (what a loader has before sanitizing).
fn fixture() -> BtfMut {
    let obj = build_fixture("kinds.bpf.c");
    let bytes = elf_section(&obj, ".BTF").expect(".BTF");
    let btf = Btf::parse(&bytes).unwrap();
    let mut m = BtfMut::from_btf(&btf).unwrap();
    fixup_datasecs(&mut m, &ElfLayout::read(&obj)).unwrap();
    m
}

fn sanitized(features: BtfFeatures) -> (Vec<u8>, usize) {
    let mut m = fixture();
    let n = sanitize(&mut m, &features).unwrap();
    let bytes = m.to_bytes().unwrap();
    kernel_load_btf(&bytes).unwrap_or_else(|log| panic!("kernel rejected sanitized BTF: {log}"));
    (bytes, n)
}

fn id_of(btf: &Btf<'_>, name: &str) -> u32 {
    *btf.ids_by_name(name)
        .first()
        .unwrap_or_else(|| panic!("no type {name}"))
}

#[test]
fn fixture_has_every_kind() {
    let bytes = fixture().to_bytes().unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let kinds: BTreeSet<Kind> = btf.local_ids().map(|id| btf.kind(id).unwrap()).collect();
    let all: BTreeSet<Kind> = Kind::ALL[1..].iter().copied().collect();
    assert_eq!(kinds, all);
}

#[test]
fn fixed_up_datasecs_have_elf_sizes_and_offsets_and_load() {
    let obj = build_fixture("kinds.bpf.c");
    let layout = ElfLayout::read(&obj);
    let bytes = fixture().to_bytes().unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let id = btf.id_by_name_kind(".data", Kind::Datasec).unwrap();
    let Type::Datasec(sec) = btf.type_by_id(id).unwrap() else {
        panic!()
    };
    assert_eq!(sec.size, layout.sections[".data"]);
    let names: Vec<(&str, u32)> = sec
        .vars
        .iter()
        .map(|v| (btf.name(v.type_id).unwrap(), v.offset))
        .collect();
    assert_eq!(
        names,
        vec![
            ("global_record", layout.vars["global_record"].offset),
            ("global_double", layout.vars["global_double"].offset),
        ]
    );
    assert!(
        names.windows(2).all(|w| w[0].1 <= w[1].1),
        "sorted by offset"
    );
    kernel_load_btf(&bytes).unwrap();
}

#[test]
fn unfixed_datasecs_are_rejected_by_the_kernel() {
    // Shows why the fix-up exists: clang's DATASEC size 0 is refused.
    let obj = build_fixture("kinds.bpf.c");
    let bytes = elf_section(&obj, ".BTF").unwrap();
    assert!(kernel_load_btf(&bytes).is_err());
}

#[test]
fn oldest_kernel_gets_only_original_kinds_and_same_ids() {
    let before = fixture().to_bytes().unwrap();
    let before = Btf::parse(&before).unwrap();
    let (bytes, n) = sanitized(BtfFeatures::NONE);
    let btf = Btf::parse(&bytes).unwrap();
    assert_eq!(
        btf.type_count(),
        before.type_count() + 1,
        "one placeholder INT added"
    );
    let original = [
        Kind::Int,
        Kind::Ptr,
        Kind::Array,
        Kind::Struct,
        Kind::Union,
        Kind::Enum,
        Kind::Fwd,
        Kind::Typedef,
        Kind::Volatile,
        Kind::Const,
        Kind::Restrict,
    ];
    for id in btf.local_ids() {
        let k = btf.kind(id).unwrap();
        assert!(original.contains(&k), "[{id}] is still {k}");
        // Nothing changed its record size.
        if id < before.type_count() {
            assert_eq!(
                btf.type_offset(id).unwrap(),
                before.type_offset(id).unwrap(),
                "[{id}] moved"
            );
        }
    }
    assert!(n > 20, "rewrote {n} types");
}

#[test]
fn without_datasec_vars_become_ints_and_datasecs_structs() {
    let (bytes, _) = sanitized(BtfFeatures {
        has_datasec: false,
        ..BtfFeatures::ALL
    });
    let btf = Btf::parse(&bytes).unwrap();
    let var = id_of(&btf, "counter");
    assert_eq!(
        btf.type_by_id(var).unwrap(),
        Type::Int(bpfkit_obj::btf::Int {
            name: "counter",
            size: 1,
            encoding: Default::default(),
            offset: 0,
            bits: 8
        })
    );
    let Type::Struct(s) = btf.type_by_id(id_of(&btf, "_data")).unwrap() else {
        panic!("'.data' is not a struct '_data'")
    };
    let layout = ElfLayout::read(&build_fixture("kinds.bpf.c"));
    assert_eq!(s.size, layout.sections[".data"]);
    let members: Vec<(&str, u32)> = s.members.iter().map(|m| (m.name, m.bit_offset)).collect();
    assert_eq!(
        members,
        vec![
            ("global_record", layout.vars["global_record"].offset * 8),
            ("global_double", layout.vars["global_double"].offset * 8)
        ]
    );
    assert!(
        !btf.ids_by_name("_data_custom").is_empty(),
        "'.data.custom' renamed"
    );
}

#[test]
fn without_func_funcs_become_typedefs_and_protos_enums() {
    let before = fixture().to_bytes().unwrap();
    let before = Btf::parse(&before).unwrap();
    let (bytes, _) = sanitized(BtfFeatures {
        has_func: false,
        ..BtfFeatures::ALL
    });
    let btf = Btf::parse(&bytes).unwrap();
    let helper = id_of(&btf, "helper");
    let Type::Func(f) = before.type_by_id(helper).unwrap() else {
        panic!()
    };
    let Type::FuncProto(proto) = before.type_by_id(f.proto).unwrap() else {
        panic!()
    };
    assert_eq!(
        btf.type_by_id(helper).unwrap(),
        Type::Typedef(bpfkit_obj::btf::Reference {
            name: "helper",
            target: f.proto
        })
    );
    let Type::Enum(e) = btf.type_by_id(f.proto).unwrap() else {
        panic!("proto not enum")
    };
    assert_eq!(e.size, 4);
    let values: Vec<(&str, u64)> = e.values.iter().map(|v| (v.name, v.raw)).collect();
    let params: Vec<(&str, u64)> = proto
        .params
        .iter()
        .map(|p| (p.name, u64::from(p.type_id)))
        .collect();
    assert_eq!(values, params);
    assert_eq!(values[0].0, "r");
}

#[test]
fn without_global_funcs_linkage_becomes_static() {
    let (bytes, _) = sanitized(BtfFeatures {
        has_func_global: false,
        ..BtfFeatures::ALL
    });
    let btf = Btf::parse(&bytes).unwrap();
    for name in ["global_fn", "prog", "helper"] {
        let Type::Func(f) = btf.type_by_id(id_of(&btf, name)).unwrap() else {
            panic!()
        };
        assert_eq!(f.linkage, FuncLinkage::Static, "{name}");
    }
}

#[test]
fn without_float_floats_become_anonymous_structs_of_same_size() {
    let before = fixture().to_bytes().unwrap();
    let before = Btf::parse(&before).unwrap();
    let double = id_of(&before, "double");
    let float = id_of(&before, "float");
    let (bytes, _) = sanitized(BtfFeatures {
        has_float: false,
        ..BtfFeatures::ALL
    });
    let btf = Btf::parse(&bytes).unwrap();
    for (id, size) in [(double, 8), (float, 4)] {
        let Type::Struct(s) = btf.type_by_id(id).unwrap() else {
            panic!()
        };
        assert_eq!((s.name, s.size, s.members.len()), ("", size, 0));
    }
}

#[test]
fn without_decl_tag_tags_become_byte_ints() {
    let (bytes, _) = sanitized(BtfFeatures {
        has_decl_tag: false,
        ..BtfFeatures::ALL
    });
    let btf = Btf::parse(&bytes).unwrap();
    let tag = btf.id_by_name_kind("member_tag", Kind::Int).unwrap();
    assert_eq!(btf.resolve_size(tag).unwrap(), 1);
    assert_eq!(
        btf.local_ids()
            .filter(|&id| btf.kind(id).unwrap() == Kind::DeclTag)
            .count(),
        0
    );
}

#[test]
fn without_type_tag_tags_become_anonymous_consts() {
    let before = fixture().to_bytes().unwrap();
    let before = Btf::parse(&before).unwrap();
    let tag = id_of(&before, "user");
    let target = before.type_by_id(tag).unwrap().referenced_type().unwrap();
    let (bytes, _) = sanitized(BtfFeatures {
        has_type_tag: false,
        ..BtfFeatures::ALL
    });
    let btf = Btf::parse(&bytes).unwrap();
    assert_eq!(
        btf.type_by_id(tag).unwrap(),
        Type::Const(bpfkit_obj::btf::Reference { name: "", target })
    );
}

#[test]
fn without_enum64_enum64_becomes_union_and_enums_lose_sign() {
    let (bytes, _) = sanitized(BtfFeatures {
        has_enum64: false,
        ..BtfFeatures::ALL
    });
    let btf = Btf::parse(&bytes).unwrap();
    let placeholder = btf.id_by_name_kind(ENUM64_PLACEHOLDER, Kind::Int).unwrap();
    assert_eq!(placeholder, btf.type_count() - 1, "appended last");
    assert_eq!(btf.resolve_size(placeholder).unwrap(), 1);
    let Type::Union(u) = btf.type_by_id(id_of(&btf, "big64")).unwrap() else {
        panic!()
    };
    assert_eq!(u.size, 8);
    let members: Vec<(&str, u32, u32)> = u
        .members
        .iter()
        .map(|m| (m.name, m.type_id, m.bit_offset))
        .collect();
    assert_eq!(
        members,
        vec![("BIG_A", placeholder, 0), ("BIG_B", placeholder, 0)]
    );
    let Type::Enum(e) = btf.type_by_id(id_of(&btf, "small_signed")).unwrap() else {
        panic!()
    };
    assert!(!e.signed);
}

#[test]
fn without_qmark_datasec_leading_question_mark_becomes_underscore() {
    let mut m = BtfMut::new();
    let int = m.add_int("int", 4, IntEncoding::SIGNED);
    let var = m.add_var("opt", int, VarLinkage::GlobalAllocated);
    let sec = m.add_datasec(
        "?.data.opt",
        4,
        &[VarSecinfo {
            type_id: var,
            offset: 0,
            size: 4,
        }],
    );
    assert_eq!(
        sanitize(
            &mut m,
            &BtfFeatures {
                has_qmark_datasec: false,
                ..BtfFeatures::ALL
            }
        )
        .unwrap(),
        1
    );
    let bytes = m.to_bytes().unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    assert_eq!(btf.name(sec).unwrap(), "_.data.opt");
    assert_eq!(btf.kind(sec).unwrap(), Kind::Datasec);
}

#[test]
fn full_feature_set_changes_nothing() {
    let mut m = fixture();
    let before = m.to_bytes().unwrap();
    assert_eq!(sanitize(&mut m, &BtfFeatures::ALL).unwrap(), 0);
    assert!(m.to_bytes().unwrap() == before);
}
