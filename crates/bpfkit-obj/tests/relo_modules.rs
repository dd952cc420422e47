//! Module BTF as a CO-RE target: cilium's `btf_testmod.btf` split on its vmlinux BTF.
//! Types only the module has resolve there (with module type ids); types vmlinux has
//! resolve in vmlinux even when the module carries a copy, as libbpf searches.

use bpfkit_obj::btf::{Btf, BtfMut, IntEncoding, Kind};
use bpfkit_obj::insn::Insn;
use bpfkit_obj::relo::{
    relocate_instructions, Candidate, CandidateCache, CoreRelo, CoreReloKind, TypeSource,
};
use bpfkit_test_support::{corpus_dir, corpus_vmlinux_btf};
use object::Endianness;

/// One little-endian instruction slot.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    Insn::new(code, dst, src, off, imm).encode(Endianness::Little)
}

#[test]
fn module_only_types_resolve_in_the_module_and_shared_types_in_vmlinux() {
    let base_bytes = std::fs::read(corpus_vmlinux_btf()).unwrap();
    let base = Btf::parse(&base_bytes).unwrap();
    let module_bytes =
        std::fs::read(corpus_dir().join("cilium/btf/testdata/btf_testmod.btf")).unwrap();
    let module = Btf::parse_split(&module_bytes, &base).unwrap();

    let mut local = BtfMut::new();
    let int = local.add_int("int", 4, IntEncoding::SIGNED);
    // Only the module defines this; its `val` is at byte 4 there.
    let writable = local.add_struct("bpf_testmod_test_writable_ctx", 4, &[("val", int, 0)]);
    // Both define task_struct (the module carries a copy): vmlinux wins.
    let task = local.add_struct("task_struct", 8, &[("tgid", int, 0)]);

    let mut insns = [
        insn(0x61, 1, 2, 0, 0), // r1 = *(u32 *)(r2 + 0)   writable->val
        insn(0x18, 1, 0, 0, 2), // r1 = type id (ld_imm64)
        insn(0, 0, 0, 0, 0),
        insn(0x61, 1, 2, 0, 0), // r1 = *(u32 *)(r2 + 0)   task->tgid
        insn(0xb7, 1, 0, 0, 4), // r1 = sizeof(struct bpf_testmod_test_writable_ctx)
    ]
    .concat();
    let relos = [
        CoreRelo {
            insn_off: 0,
            type_id: writable,
            access: "0:0",
            kind: CoreReloKind::FieldByteOffset,
        },
        CoreRelo {
            insn_off: 8,
            type_id: writable,
            access: "0",
            kind: CoreReloKind::TypeIdTarget,
        },
        CoreRelo {
            insn_off: 24,
            type_id: task,
            access: "0:0",
            kind: CoreReloKind::FieldByteOffset,
        },
        CoreRelo {
            insn_off: 32,
            type_id: writable,
            access: "0",
            kind: CoreReloKind::TypeSize,
        },
    ];
    let targets: [&dyn TypeSource; 2] = [&base, &module];
    let applied = relocate_instructions(
        "tp/x",
        &mut insns,
        &relos,
        &local,
        &targets,
        &mut CandidateCache::new(),
    )
    .unwrap();

    let writable_id = module
        .ids_by_name("bpf_testmod_test_writable_ctx")
        .into_iter()
        .find(|&id| module.kind(id).ok() == Some(Kind::Struct))
        .unwrap();
    assert!(writable_id >= base.type_count(), "a module-owned id");
    assert_eq!(
        applied[0].target,
        Some(Candidate {
            target: 1,
            type_id: writable_id
        })
    );
    assert_eq!(applied[0].target_value, 4);
    assert_eq!(applied[1].target_value, u64::from(writable_id));
    assert_eq!(applied[3].target_value, 8);

    let base_task = base.id_by_name_kind("task_struct", Kind::Struct).unwrap();
    assert!(base_task < base.type_count());
    assert_eq!(
        applied[2].target,
        Some(Candidate {
            target: 0,
            type_id: base_task
        })
    );
    let tgid = base.type_by_id(base_task).unwrap();
    let tgid = tgid.members().iter().find(|m| m.name == "tgid").unwrap();
    assert_eq!(applied[2].target_value, u64::from(tgid.bit_offset / 8));

    // The instructions carry those values.
    let off = |i: usize| i16::from_le_bytes([insns[i * 8 + 2], insns[i * 8 + 3]]);
    let imm = |i: usize| i32::from_le_bytes(insns[i * 8 + 4..i * 8 + 8].try_into().unwrap());
    assert_eq!(off(0), 4);
    assert_eq!(imm(1) as u32, writable_id);
    assert_eq!(off(3) as u32, tgid.bit_offset / 8);
    assert_eq!(imm(4), 8);
}
