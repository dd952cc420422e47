//! Poisoned relocations meet the kernel verifier as libbpf intends: a program whose
//! unresolvable access sits in dead code loads; the same access on a live path is rejected
//! at the poisoned instruction with `invalid func unknown#195896080` (0xbad2310).

use bpfkit::sys::{prog_load, ProgLoadAttr};
use bpfkit_obj::btf::{BtfMut, IntEncoding};
use bpfkit_obj::insn::Insn;
use bpfkit_obj::relo::{
    relocate_instructions, CandidateCache, CoreRelo, CoreReloKind, ReloOutcome, TypeSource,
};
use object::Endianness;

const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

/// One little-endian instruction slot.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    Insn::new(code, dst, src, off, imm).encode(Endianness::Little)
}

/// `r0 = start; if r0 == 0 goto exit; r2 = *(u32 *)(r1 + 4) /* s.b */; r0 = 0; exit`,
/// relocated against a target whose `struct s` has no `b`.
fn relocated(start: i32) -> (Vec<u8>, ReloOutcome) {
    let mut local = BtfMut::new();
    let int = local.add_int("int", 4, IntEncoding::SIGNED);
    let s = local.add_struct("s", 8, &[("a", int, 0), ("b", int, 32)]);
    let mut target = BtfMut::new();
    let tint = target.add_int("int", 4, IntEncoding::SIGNED);
    target.add_struct("s", 4, &[("a", tint, 0)]);
    let mut code = [
        insn(0xb7, 0, 0, 0, start), // r0 = start
        insn(0x15, 0, 0, 2, 0),     // if r0 == 0 goto +2
        insn(0x61, 2, 1, 4, 0),     // r2 = *(u32 *)(r1 + 4)
        insn(0xb7, 0, 0, 0, 0),     // r0 = 0
        insn(0x95, 0, 0, 0, 0),     // exit
    ]
    .concat();
    let relo = CoreRelo {
        insn_off: 16,
        type_id: s,
        access: "0:1",
        kind: CoreReloKind::FieldByteOffset,
    };
    let targets: [&dyn TypeSource; 1] = [&target];
    let applied = relocate_instructions(
        "socket",
        &mut code,
        &[relo],
        &local,
        &targets,
        &mut CandidateCache::new(),
    )
    .unwrap();
    (code, applied[0].outcome)
}

fn load(code: &[u8]) -> Result<(), String> {
    let insns: Vec<u64> = code
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &insns,
        license: c"GPL",
        name: "relo_poison",
        ..Default::default()
    };
    prog_load(&attr).map(drop).map_err(|e| e.verifier_log)
}

#[test]
fn poisoned_access_in_dead_code_loads() {
    let (code, outcome) = relocated(0);
    assert_eq!(outcome, ReloOutcome::Poisoned);
    assert_eq!(&code[16..24], &insn(0x85, 0, 0, 0, 0x0bad_2310));
    load(&code).expect("the verifier prunes the dead poisoned call");
}

#[test]
fn poisoned_access_on_a_live_path_is_rejected_at_that_insn() {
    let (code, _) = relocated(1);
    let log = load(&code).expect_err("a reachable poisoned call must not load");
    assert!(
        log.contains("invalid func unknown#195896080"),
        "verifier log:\n{log}"
    );
    // The verifier names the poisoned instruction (#2) on the line before the error.
    assert!(
        log.contains("2: (85) call unknown#195896080"),
        "verifier log:\n{log}"
    );
}
