//! `.kconfig` and `.ksyms` DATASECs made loadable the way libbpf does, checked by the kernel.

mod btf_support;

use std::collections::BTreeMap;

use bpfkit_obj::btf::{
    finalize_extern_datasecs, fixup_datasecs, Btf, BtfMut, FuncLinkage, Kind, Type, VarLinkage,
    DUMMY_KSYM,
};
use btf_support::*;

/// A libbpf-like `.kconfig` layout for the fixture: alignment descending, then size.
fn kconfig_layout() -> BTreeMap<&'static str, u32> {
    BTreeMap::from([
        ("CONFIG_HZ", 0),
        ("LINUX_KERNEL_VERSION", 8),
        ("CONFIG_BPF_SYSCALL", 12),
        ("CONFIG_HZ_TEXT", 13),
    ])
}

fn finalized() -> (BtfMut, Option<u32>) {
    let obj = build_fixture("externs.bpf.c");
    let bytes = elf_section(&obj, ".BTF").unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let mut m = BtfMut::from_btf(&btf).unwrap();
    let layout = kconfig_layout();
    let dummy = finalize_extern_datasecs(&mut m, |name| layout.get(name).copied()).unwrap();
    fixup_datasecs(&mut m, &ElfLayout::read(&obj)).unwrap();
    (m, dummy)
}

#[test]
fn extern_vars_are_rejected_by_the_kernel_until_finalized() {
    let obj = build_fixture("externs.bpf.c");
    let bytes = elf_section(&obj, ".BTF").unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let mut m = BtfMut::from_btf(&btf).unwrap();
    // Only the DATASEC fix-up: .kconfig/.ksyms keep extern linkage.
    fixup_datasecs(&mut m, &ElfLayout::read(&obj)).unwrap();
    let err = kernel_load_btf(&m.to_bytes().unwrap()).unwrap_err();
    assert!(err.contains("Invalid func linkage"), "{err}");

    let (m, _) = finalized();
    kernel_load_btf(&m.to_bytes().unwrap()).unwrap();
}

#[test]
fn kconfig_vars_get_the_given_offsets_and_global_linkage() {
    let (m, _) = finalized();
    let bytes = m.to_bytes().unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    let sec = btf.id_by_name_kind(".kconfig", Kind::Datasec).unwrap();
    let Type::Datasec(d) = btf.type_by_id(sec).unwrap() else {
        panic!()
    };
    let placed: Vec<(&str, u32, u32)> = d
        .vars
        .iter()
        .map(|v| (btf.name(v.type_id).unwrap(), v.offset, v.size))
        .collect();
    assert_eq!(
        placed,
        vec![
            ("CONFIG_HZ", 0, 8),
            ("LINUX_KERNEL_VERSION", 8, 4),
            ("CONFIG_BPF_SYSCALL", 12, 1),
            ("CONFIG_HZ_TEXT", 13, 8)
        ]
    );
    assert_eq!(d.size, 21, "end of the last value");
    for v in &d.vars {
        let Type::Var(var) = btf.type_by_id(v.type_id).unwrap() else {
            panic!()
        };
        assert_eq!(var.linkage, VarLinkage::GlobalAllocated);
    }
}

#[test]
fn ksyms_become_int_slots_and_kfuncs_point_at_dummy_ksym() {
    let (m, dummy) = finalized();
    let dummy = dummy.expect("kfuncs need the dummy var");
    let bytes = m.to_bytes().unwrap();
    let btf = Btf::parse(&bytes).unwrap();
    assert_eq!(btf.name(dummy).unwrap(), DUMMY_KSYM);
    assert_eq!(dummy, btf.type_count() - 1, "appended last");
    let sec = btf.id_by_name_kind(".ksyms", Kind::Datasec).unwrap();
    let Type::Datasec(d) = btf.type_by_id(sec).unwrap() else {
        panic!()
    };
    assert_eq!(d.size, 12);
    let slots: Vec<(u32, u32, u32)> = d
        .vars
        .iter()
        .map(|v| (v.type_id, v.offset, v.size))
        .collect();
    let active = btf.id_by_name_kind("bpf_prog_active", Kind::Var).unwrap();
    assert_eq!(slots, vec![(dummy, 0, 4), (dummy, 4, 4), (active, 8, 4)]);
    // The ksym variable is now a global int.
    let Type::Var(v) = btf.type_by_id(active).unwrap() else {
        panic!()
    };
    assert_eq!(v.linkage, VarLinkage::GlobalAllocated);
    assert_eq!(btf.resolve_size(v.type_id).unwrap(), 4);
    assert_eq!(btf.kind(v.type_id).unwrap(), Kind::Int);
    // kfuncs became global and their unnamed parameters borrowed the dummy's name.
    let obj = build_fixture("externs.bpf.c");
    let original_bytes = elf_section(&obj, ".BTF").unwrap();
    let original = Btf::parse(&original_bytes).unwrap();
    for name in ["bpf_task_acquire", "bpf_task_release"] {
        let Type::Func(f) = btf
            .type_by_id(btf.id_by_name_kind(name, Kind::Func).unwrap())
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(f.linkage, FuncLinkage::Global, "{name}");
        let Type::FuncProto(p) = btf.type_by_id(f.proto).unwrap() else {
            panic!()
        };
        let Type::FuncProto(before) = original.type_by_id(f.proto).unwrap() else {
            panic!()
        };
        assert_eq!(
            before.params.first().unwrap().name,
            "",
            "clang drops names in extern declarations"
        );
        assert_eq!(p.params.first().unwrap().name, DUMMY_KSYM, "{name}");
    }
}
