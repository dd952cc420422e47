//! The kernel's BTF relocated against itself: every uniquely named struct and union
//! TYPE_MATCHES itself, exists, keeps its size and id — within the engine's work budgets.

use bpfkit_obj::btf::{Btf, Kind};
use bpfkit_obj::relo::{relocate_instructions, CandidateCache, CoreRelo, CoreReloKind, TypeSource};

#[test]
fn every_unique_kernel_struct_matches_itself() {
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").expect("kernel BTF");
    let btf = Btf::parse(&bytes).unwrap();
    let targets: [&dyn TypeSource; 1] = [&btf];
    let mut cache = CandidateCache::new();
    let mut checked = 0;
    for id in 1..btf.type_count() {
        let kind = btf.kind(id).unwrap();
        if !matches!(kind, Kind::Struct | Kind::Union) {
            continue;
        }
        let name = btf.name(id).unwrap();
        if name.is_empty() || name.contains("___") || btf.ids_by_name(name).len() != 1 {
            continue;
        }
        let size = btf.resolve_size(id).unwrap();
        // mov r1, 1 (matches) ; mov r1, 1 (exists) ; mov r1, size ; ld_imm64 r1, id
        let mut insns = Vec::new();
        for imm in [1, 1, size as i32] {
            insns.extend_from_slice(&[0xb7, 0x01, 0, 0]);
            insns.extend_from_slice(&imm.to_le_bytes());
        }
        insns.extend_from_slice(&[0x18, 0x01, 0, 0]);
        insns.extend_from_slice(&id.to_le_bytes());
        insns.extend_from_slice(&[0; 8]);
        let relos = [
            (0, CoreReloKind::TypeMatches),
            (8, CoreReloKind::TypeExists),
            (16, CoreReloKind::TypeSize),
            (24, CoreReloKind::TypeIdTarget),
        ]
        .map(|(insn_off, kind)| CoreRelo {
            insn_off,
            type_id: id,
            access: "0",
            kind,
        });
        let applied = relocate_instructions(name, &mut insns, &relos, &btf, &targets, &mut cache)
            .unwrap_or_else(|e| panic!("{e}"));
        let values: Vec<u64> = applied.iter().map(|a| a.target_value).collect();
        assert_eq!(values, [1, 1, size, u64::from(id)], "[{id}] {kind} {name}");
        checked += 1;
    }
    eprintln!("{checked} structs and unions match themselves");
    assert!(checked > 1000);
}
