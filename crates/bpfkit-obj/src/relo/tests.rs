//! Unit tests of the CO-RE engine over hand-built BTF: every kind, flavors, bitfields,
//! ambiguity, poisoning, size fix-ups and malformed input.

use object::Endianness;

use super::*;
use crate::btf::{BtfMut, IntEncoding};
use crate::insn::opcode::*;
use crate::insn::Insn;

const LDX_W: u8 = BPF_LDX | BPF_MEM | BPF_W;
const LDX_DW: u8 = BPF_LDX | BPF_MEM | BPF_DW;
const MOV64_IMM: u8 = BPF_ALU64 | BPF_MOV | BPF_K;
const LD_IMM64: u8 = BPF_LD | BPF_IMM | BPF_DW;
const CALL: u8 = BPF_JMP | BPF_CALL;

/// One little-endian instruction slot.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    Insn::new(code, dst, src, off, imm).encode(Endianness::Little)
}

fn prog(insns: &[[u8; 8]]) -> Vec<u8> {
    insns.concat()
}

fn ld_imm64(dst: u8, v: u64) -> [[u8; 8]; 2] {
    [
        insn(LD_IMM64, dst, 0, 0, v as u32 as i32),
        insn(0, 0, 0, 0, (v >> 32) as u32 as i32),
    ]
}

/// `(code, off, imm)` of little-endian instruction `idx`.
fn field(insns: &[u8], idx: usize) -> (u8, i16, i32) {
    let i = Insn::decode_slice(&insns[idx * 8..], Endianness::Little).unwrap();
    (i.code, i.off, i.imm)
}

fn relo(insn_off: u32, type_id: TypeId, access: &str, kind: CoreReloKind) -> CoreRelo<'_> {
    CoreRelo {
        insn_off,
        type_id,
        access,
        kind,
    }
}

/// Runs `relo` over the one-instruction program `slot`: the program afterwards and what
/// was applied.
fn run_one(
    slot: [u8; 8],
    relo: CoreRelo<'_>,
    local: &BtfMut,
    targets: &[&BtfMut],
) -> Result<(Vec<u8>, AppliedRelo), CoreError> {
    let mut insns = slot.to_vec();
    let mut applied = run(&mut insns, &[relo], local, targets)?;
    assert_eq!(applied.len(), 1, "one relocation, one result");
    Ok((insns, applied.remove(0)))
}

fn run(
    insns: &mut [u8],
    relos: &[CoreRelo<'_>],
    local: &BtfMut,
    targets: &[&BtfMut],
) -> Result<Vec<AppliedRelo>, CoreError> {
    let targets: Vec<&dyn TypeSource> = targets.iter().map(|t| *t as &dyn TypeSource).collect();
    relocate_instructions(
        "test",
        insns,
        relos,
        local,
        &targets,
        &mut CandidateCache::new(),
    )
}

/// Local `struct task { int pid; long flags; int arr[4]; }` (ids: int=1, long=2, arr=3, task=4).
fn local_task() -> (BtfMut, TypeId) {
    let mut l = BtfMut::new();
    let int = l.add_int("int", 4, IntEncoding::SIGNED);
    let long = l.add_int("long", 8, IntEncoding::SIGNED);
    let arr = l.add_array(int, 0, 4);
    let task = l.add_struct(
        "task",
        32,
        &[("pid", int, 0), ("flags", long, 64), ("arr", arr, 128)],
    );
    (l, task)
}

/// Target `struct task { long x; union { int pid; int tgid; }; long flags; int arr[8]; }`:
/// pid moves into an anonymous union at byte 8, flags to 16, arr to 24.
fn target_task() -> BtfMut {
    let mut t = BtfMut::new();
    let int = t.add_int("int", 4, IntEncoding::SIGNED);
    let long = t.add_int("long", 8, IntEncoding::SIGNED);
    let anon = t.add_union("", 4, &[("pid", int, 0), ("tgid", int, 0)]);
    let arr = t.add_array(int, 0, 8);
    t.add_struct(
        "task",
        56,
        &[
            ("x", long, 0),
            ("", anon, 64),
            ("flags", long, 128),
            ("arr", arr, 192),
        ],
    );
    t
}

#[test]
fn field_byte_offset_follows_a_field_into_an_anonymous_union() {
    let (local, task) = local_task();
    let target = target_task();
    let (insns, applied) = run_one(
        insn(LDX_W, 1, 2, 0, 0),
        relo(0, task, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0), (LDX_W, 8, 0));
    assert_eq!(applied.local_value, 0);
    assert_eq!(applied.target_value, 8);
    assert_eq!(
        applied.target,
        Some(Candidate {
            target: 0,
            type_id: 5
        })
    );
    assert_eq!(applied.outcome, ReloOutcome::Patched { mem_size: None });
    assert_eq!(
        applied.to_string(),
        "insn #0: <byte_off> [4] \"task\" 0:0 -> [5]: 0 -> 8"
    );
}

#[test]
fn field_byte_offset_of_an_array_element_scales_by_the_element_size() {
    let (local, task) = local_task();
    let target = target_task();
    // &t->arr[3]: local 16 + 12 = 28, target 24 + 12 = 36; in an ALU add.
    let (insns, _) = run_one(
        insn(0x07, 1, 0, 0, 28),
        relo(0, task, "0:2:3", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).2, 36);
}

#[test]
fn array_index_beyond_the_target_bound_does_not_match_and_poisons() {
    let (mut local, _) = local_task();
    let int = 1;
    let big = local.add_array(int, 0, 16);
    let s = local.add_struct("task", 64, &[("arr", big, 0)]);
    let target = target_task();
    let (insns, applied) = run_one(
        insn(LDX_W, 1, 2, 40, 0),
        relo(0, s, "0:0:10", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(applied.outcome, ReloOutcome::Poisoned);
    assert_eq!(field(&insns, 0), (CALL, 0, POISON_CALL_IMM));
}

#[test]
fn flexible_array_member_accepts_any_index() {
    let mut local = BtfMut::new();
    let int = local.add_int("int", 4, IntEncoding::SIGNED);
    let flex = local.add_array(int, 0, 0);
    let s = local.add_struct("buf", 4, &[("n", int, 0), ("data", flex, 32)]);
    let mut target = BtfMut::new();
    let tint = target.add_int("int", 4, IntEncoding::SIGNED);
    let tflex = target.add_array(tint, 0, 0);
    target.add_struct(
        "buf",
        8,
        &[("cap", tint, 0), ("n", tint, 32), ("data", tflex, 64)],
    );
    let (insns, _) = run_one(
        insn(LDX_W, 1, 2, 4 + 5 * 4, 0),
        relo(0, s, "0:1:5", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).1, 8 + 20);
}

#[test]
fn field_byte_size_exists_and_signed() {
    let (local, task) = local_task();
    let mut target = BtfMut::new();
    let uint = target.add_int("unsigned int", 4, 0);
    target.add_struct("task", 8, &[("flags", uint, 0)]);
    let mut insns = prog(&[
        insn(MOV64_IMM, 1, 0, 0, 8),
        insn(MOV64_IMM, 2, 0, 0, 1),
        insn(MOV64_IMM, 3, 0, 0, 1),
        insn(MOV64_IMM, 4, 0, 0, 1),
    ]);
    let relos = [
        relo(0, task, "0:1", CoreReloKind::FieldByteSize),
        relo(8, task, "0:1", CoreReloKind::FieldExists),
        relo(16, task, "0:0", CoreReloKind::FieldExists),
        relo(24, task, "0:1", CoreReloKind::FieldSigned),
    ];
    let applied = run(&mut insns, &relos, &local, &[&target]).unwrap();
    assert_eq!(field(&insns, 0).2, 4, "flags is a 4-byte int in the target");
    assert_eq!(field(&insns, 1).2, 1, "flags exists");
    assert_eq!(field(&insns, 2).2, 0, "pid is missing");
    assert_eq!(applied[2].target, None);
    assert_eq!(applied[2].outcome, ReloOutcome::Patched { mem_size: None });
    assert_eq!(field(&insns, 3).2, 0, "unsigned in the target");
}

#[test]
fn field_exists_is_zero_when_the_same_name_has_an_incompatible_type() {
    let (local, task) = local_task();
    let mut target = BtfMut::new();
    let inner = target.add_struct("inner", 4, &[]);
    target.add_struct("task", 4, &[("pid", inner, 0)]);
    let (insns, _) = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, task, "0:0", CoreReloKind::FieldExists),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).2, 0);
}

/// Local `struct bf { u32 a:3; u32 b:5; }`; target `struct bf { u32 x; u32 pad:3; u32 b:5; u32 c:30; u32 d:5 }`
/// with `b` at bit 35 and `d` straddling a u32 boundary at bit 62... see each case.
#[test]
fn bitfield_shifts_sizes_and_offsets_match_libbpf_arithmetic() {
    let mut local = BtfMut::new();
    let u32_ = local.add_int("u32", 4, 0);
    let bf = local.add_composite(
        false,
        "bf",
        8,
        true,
        &[("a", u32_, 0, 3), ("b", u32_, 3, 5), ("d", u32_, 8, 5)],
    );
    let mut target = BtfMut::new();
    let tu32 = target.add_int("u32", 4, 0);
    target.add_composite(
        false,
        "bf",
        16,
        true,
        &[("x", tu32, 0, 0), ("b", tu32, 35, 5), ("d", tu32, 94, 5)],
    );
    // Local b: bit 3, size 5 -> byte_off 0, byte_sz 4, lshift 64-8=56, rshift 59.
    // Target b: bit 35 -> byte_off 4, byte_sz 4, lshift 64-(35+5-32)=56, rshift 59.
    // Target d: bit 94 size 5 crosses a u32 boundary -> byte_sz 8, byte_off 8, lshift 64-(99-64)=29.
    let mut insns = prog(&[
        insn(MOV64_IMM, 1, 0, 0, 0),
        insn(MOV64_IMM, 1, 0, 0, 4),
        insn(MOV64_IMM, 1, 0, 0, 56),
        insn(MOV64_IMM, 1, 0, 0, 59),
        insn(MOV64_IMM, 1, 0, 0, 0),
        insn(MOV64_IMM, 1, 0, 0, 4),
        insn(MOV64_IMM, 1, 0, 0, 51),
        insn(MOV64_IMM, 1, 0, 0, 59),
    ]);
    let relos = [
        relo(0, bf, "0:1", CoreReloKind::FieldByteOffset),
        relo(8, bf, "0:1", CoreReloKind::FieldByteSize),
        relo(16, bf, "0:1", CoreReloKind::FieldLshiftU64),
        relo(24, bf, "0:1", CoreReloKind::FieldRshiftU64),
        relo(32, bf, "0:2", CoreReloKind::FieldByteOffset),
        relo(40, bf, "0:2", CoreReloKind::FieldByteSize),
        relo(48, bf, "0:2", CoreReloKind::FieldLshiftU64),
        relo(56, bf, "0:2", CoreReloKind::FieldRshiftU64),
    ];
    let applied = run(&mut insns, &relos, &local, &[&target]).unwrap();
    let values: Vec<i32> = (0..8).map(|i| field(&insns, i).2).collect();
    assert_eq!(values, [4, 4, 56, 59, 8, 8, 29, 59]);
    assert_eq!(applied[2].local_value, 56);
    assert_eq!(applied[6].local_value, 51);
}

#[test]
fn bitfield_offsets_are_not_validated_but_rshift_is() {
    let mut local = BtfMut::new();
    let u32_ = local.add_int("u32", 4, 0);
    let bf = local.add_composite(false, "bf", 4, true, &[("b", u32_, 3, 5)]);
    let target = local.clone();
    // The compiler may pick a different load unit: a wrong byte offset is accepted...
    let (insns, _) = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1234),
        relo(0, bf, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).2, 0);
    // ...but a wrong right shift is an error.
    let err = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1234),
        relo(0, bf, "0:0", CoreReloKind::FieldRshiftU64),
        &local,
        &[&target],
    )
    .unwrap_err();
    assert!(
        matches!(
            err.reason,
            ReloFailure::UnexpectedInsnValue {
                found: 1234,
                expected: 59,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn bitfield_wider_than_a_u64_load_is_an_error() {
    let mut local = BtfMut::new();
    let u64_ = local.add_int("u64", 8, 0);
    let bf = local.add_composite(false, "bf", 16, true, &[("b", u64_, 60, 10)]);
    let err = run_one(
        insn(MOV64_IMM, 1, 0, 0, 0),
        relo(0, bf, "0:0", CoreReloKind::FieldByteSize),
        &local,
        &[&local.clone()],
    )
    .unwrap_err();
    assert_eq!(
        err.reason,
        ReloFailure::BitfieldTooWide {
            bit_offset: 60,
            bit_size: 10
        }
    );
}

#[test]
fn type_kinds_resolve_against_the_target() {
    let (local, task) = local_task();
    let target = target_task();
    let mut insns = prog(&[
        insn(MOV64_IMM, 1, 0, 0, 1),
        insn(MOV64_IMM, 1, 0, 0, 32),
        ld_imm64(1, 4)[0],
        ld_imm64(1, 4)[1],
        insn(MOV64_IMM, 1, 0, 0, 4),
    ]);
    let relos = [
        relo(0, task, "0", CoreReloKind::TypeExists),
        relo(8, task, "0", CoreReloKind::TypeSize),
        relo(16, task, "0", CoreReloKind::TypeIdTarget),
        relo(32, task, "0", CoreReloKind::TypeIdLocal),
    ];
    let applied = run(&mut insns, &relos, &local, &[&target]).unwrap();
    assert_eq!(field(&insns, 0).2, 1);
    assert_eq!(field(&insns, 1).2, 56);
    assert_eq!(field(&insns, 2).2, 5, "target id of struct task");
    assert_eq!(field(&insns, 3).2, 0);
    assert_eq!(field(&insns, 4).2, 4, "local id stays");
    assert_eq!(applied[3].target, None);
}

#[test]
fn type_id_target_is_not_validated_and_missing_types_give_zero() {
    let (local, task) = local_task();
    let empty = BtfMut::new();
    let [a, b] = ld_imm64(1, 777);
    let mut insns = prog(&[
        a,
        b,
        insn(MOV64_IMM, 1, 0, 0, 1),
        insn(MOV64_IMM, 1, 0, 0, 32),
    ]);
    let relos = [
        relo(0, task, "0", CoreReloKind::TypeIdTarget),
        relo(16, task, "0", CoreReloKind::TypeExists),
        relo(24, task, "0", CoreReloKind::TypeSize),
    ];
    let applied = run(&mut insns, &relos, &local, &[&empty]).unwrap();
    assert_eq!(field(&insns, 0).2, 0);
    assert_eq!(field(&insns, 2).2, 0);
    assert_eq!(field(&insns, 3).2, 0);
    assert!(applied
        .iter()
        .all(|a| a.outcome == ReloOutcome::Patched { mem_size: None }));
}

#[test]
fn type_matches_requires_structural_match_and_type_exists_does_not() {
    let mut local = BtfMut::new();
    let int = local.add_int("int", 4, IntEncoding::SIGNED);
    let s = local.add_struct("pair", 8, &[("a", int, 0), ("b", int, 32)]);
    // Target: same name, but b is a u64.
    let mut target = BtfMut::new();
    let tint = target.add_int("int", 4, IntEncoding::SIGNED);
    let tu64 = target.add_int("u64", 8, 0);
    target.add_struct("pair", 16, &[("a", tint, 0), ("b", tu64, 64)]);
    let mut insns = prog(&[insn(MOV64_IMM, 1, 0, 0, 1), insn(MOV64_IMM, 1, 0, 0, 1)]);
    let relos = [
        relo(0, s, "0", CoreReloKind::TypeMatches),
        relo(8, s, "0", CoreReloKind::TypeExists),
    ];
    run(&mut insns, &relos, &local, &[&target]).unwrap();
    assert_eq!((field(&insns, 0).2, field(&insns, 1).2), (0, 1));

    // A target with an extra member and members reordered matches.
    let mut target = BtfMut::new();
    let tint = target.add_int("int", 4, IntEncoding::SIGNED);
    target.add_struct(
        "pair",
        12,
        &[("b", tint, 0), ("c", tint, 32), ("a", tint, 64)],
    );
    let mut insns = prog(&[insn(MOV64_IMM, 1, 0, 0, 1)]);
    run(&mut insns, &relos[..1], &local, &[&target]).unwrap();
    assert_eq!(field(&insns, 0).2, 1);
}

#[test]
fn type_matches_behind_a_pointer_accepts_a_forward_declaration() {
    let mut local = BtfMut::new();
    let inner = local.add_struct("inner", 4, &[]);
    let p = local.add_ptr(inner);
    let s = local.add_struct("outer", 8, &[("p", p, 0)]);
    let mut target = BtfMut::new();
    let fwd = target.add_fwd("inner", false);
    let tp = target.add_ptr(fwd);
    target.add_struct("outer", 8, &[("p", tp, 0)]);
    let (insns, _) = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, s, "0", CoreReloKind::TypeMatches),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).2, 1);
    // A union forward declaration does not stand for a struct.
    target.set_kind_flag(fwd, true);
    let (insns, _) = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, s, "0", CoreReloKind::TypeMatches),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).2, 0);
}

#[test]
fn type_matches_compares_enums_by_enumerator_names_and_size() {
    let mut local = BtfMut::new();
    let e = local.add_enum("state", 4, false, &[("ON", 1), ("OFF", 0)]);
    let mut target = BtfMut::new();
    target.add_enum("state", 4, false, &[("OFF", 7), ("ON", 9), ("UNKNOWN", 2)]);
    let (insns, _) = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, e, "0", CoreReloKind::TypeMatches),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).2, 1);
    let mut target = BtfMut::new();
    target.add_enum("state", 8, false, &[("OFF", 7), ("ON", 9)]);
    let (insns, _) = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, e, "0", CoreReloKind::TypeMatches),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(
        field(&insns, 0).2,
        0,
        "an 8-byte enum64 does not match a 4-byte enum"
    );
}

#[test]
fn enumval_exists_and_value_including_enum64_and_negative_values() {
    let mut local = BtfMut::new();
    let e = local.add_enum("mode", 4, true, &[("A", 0), ("B", 1), ("GONE", 2)]);
    let e64 = local.add_enum("big", 8, false, &[("HUGE", 1)]);
    let mut target = BtfMut::new();
    target.add_enum("mode", 4, true, &[("B", -1), ("A", 5)]);
    target.add_enum("big", 8, false, &[("HUGE", 0x1_0000_0002)]);
    let [h0, h1] = ld_imm64(2, 1);
    let mut insns = prog(&[
        insn(MOV64_IMM, 1, 0, 0, 1),
        insn(MOV64_IMM, 1, 0, 0, 1),
        insn(MOV64_IMM, 1, 0, 0, 1),
        h0,
        h1,
    ]);
    let relos = [
        relo(0, e, "1", CoreReloKind::EnumvalValue),
        relo(8, e, "2", CoreReloKind::EnumvalExists),
        relo(16, e, "0", CoreReloKind::EnumvalExists),
        relo(24, e64, "0", CoreReloKind::EnumvalValue),
    ];
    let applied = run(&mut insns, &relos, &local, &[&target]).unwrap();
    assert_eq!(field(&insns, 0).2, -1);
    assert_eq!(
        applied[0].target_value,
        u64::MAX,
        "s32 -1 sign-extends as in libbpf"
    );
    assert_eq!(field(&insns, 1).2, 0);
    assert_eq!(field(&insns, 2).2, 1);
    assert_eq!((field(&insns, 3).2, field(&insns, 4).2), (2, 1));
}

#[test]
fn missing_enumerator_value_poisons_both_halves_of_ld_imm64() {
    let mut local = BtfMut::new();
    let e = local.add_enum("mode", 4, false, &[("NEW", 3)]);
    let mut target = BtfMut::new();
    target.add_enum("mode", 4, false, &[("OLD", 1)]);
    let [a, b] = ld_imm64(1, 3);
    let mut insns = prog(&[a, b, insn(0x95, 0, 0, 0, 0)]);
    let applied = run(
        &mut insns,
        &[relo(0, e, "0", CoreReloKind::EnumvalValue)],
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(applied[0].outcome, ReloOutcome::Poisoned);
    assert_eq!(field(&insns, 0), (CALL, 0, 0x0bad_2310));
    assert_eq!(field(&insns, 1), (CALL, 0, 0x0bad_2310));
    assert_eq!(field(&insns, 2).0, 0x95, "exit untouched");
}

#[test]
fn flavored_local_type_finds_the_plain_target_and_vice_versa() {
    let mut local = BtfMut::new();
    let int = local.add_int("int", 4, IntEncoding::SIGNED);
    let old = local.add_struct("task___old", 4, &[("state", int, 0)]);
    let mut target = BtfMut::new();
    let tint = target.add_int("int", 4, IntEncoding::SIGNED);
    target.add_struct("task___2", 8, &[("x", tint, 0), ("state", tint, 32)]);
    let (insns, _) = run_one(
        insn(LDX_W, 1, 2, 0, 0),
        relo(0, old, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).1, 4);
}

#[test]
fn two_flavors_with_different_offsets_are_ambiguous() {
    let (local, task) = local_task();
    let mut target = BtfMut::new();
    let int = target.add_int("int", 4, IntEncoding::SIGNED);
    target.add_struct("task___a", 4, &[("pid", int, 0)]);
    target.add_struct("task___b", 8, &[("x", int, 0), ("pid", int, 32)]);
    let err = run_one(
        insn(LDX_W, 1, 2, 0, 0),
        relo(0, task, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(
        err.reason,
        ReloFailure::FieldOffsetAmbiguity {
            first_id: 2,
            first: 0,
            other_id: 3,
            other: 32
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("section 'test'")
            && text.contains("insn #0")
            && text.contains("\"task\"")
            && text.contains("0:0"),
        "{text}"
    );
}

#[test]
fn two_flavors_agreeing_on_the_result_are_fine() {
    let (local, task) = local_task();
    let mut target = BtfMut::new();
    let int = target.add_int("int", 4, IntEncoding::SIGNED);
    target.add_struct("task___a", 8, &[("pid", int, 32)]);
    target.add_struct("task___b", 8, &[("y", int, 0), ("pid", int, 32)]);
    let (insns, applied) = run_one(
        insn(LDX_W, 1, 2, 0, 0),
        relo(0, task, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).1, 4);
    assert_eq!(applied.target.map(|c| c.type_id), Some(2));
}

#[test]
fn a_candidate_that_failed_one_relocation_is_dropped_for_the_next() {
    // libbpf narrows the per-type candidate list: after `pid` matched only task___a,
    // `flags` is looked up in task___a alone and poisons although task___b has it.
    let (local, task) = local_task();
    let mut target = BtfMut::new();
    let int = target.add_int("int", 4, IntEncoding::SIGNED);
    let long = target.add_int("long", 8, IntEncoding::SIGNED);
    target.add_struct("task___a", 4, &[("pid", int, 0)]);
    target.add_struct("task___b", 8, &[("flags", long, 0)]);
    let mut insns = prog(&[insn(LDX_W, 1, 2, 0, 0), insn(LDX_DW, 1, 2, 8, 0)]);
    let relos = [
        relo(0, task, "0:0", CoreReloKind::FieldByteOffset),
        relo(8, task, "0:1", CoreReloKind::FieldByteOffset),
    ];
    let applied = run(&mut insns, &relos, &local, &[&target]).unwrap();
    assert_eq!(applied[0].outcome, ReloOutcome::Patched { mem_size: None });
    assert_eq!(applied[1].outcome, ReloOutcome::Poisoned);
}

#[test]
fn module_targets_are_searched_only_when_vmlinux_has_no_candidate() {
    let (local, task) = local_task();
    let vmlinux = BtfMut::new();
    let module = target_task();
    let (insns, applied) = run_one(
        insn(LDX_DW, 1, 2, 8, 0),
        relo(0, task, "0:1", CoreReloKind::FieldByteOffset),
        &local,
        &[&vmlinux, &module],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).1, 16);
    assert_eq!(
        applied.target,
        Some(Candidate {
            target: 1,
            type_id: 5
        })
    );

    let (vmlinux, _) = local_task();
    let (insns, applied) = run_one(
        insn(LDX_DW, 1, 2, 8, 0),
        relo(0, task, "0:1", CoreReloKind::FieldByteOffset),
        &local,
        &[&vmlinux, &module],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).1, 8);
    assert_eq!(applied.target.map(|c| c.target), Some(0));
}

#[test]
fn unsigned_field_growing_widens_the_load() {
    let mut local = BtfMut::new();
    let u32_ = local.add_int("u32", 4, 0);
    let s = local.add_struct("s", 4, &[("v", u32_, 0)]);
    let mut target = BtfMut::new();
    let u64_ = target.add_int("u64", 8, 0);
    target.add_struct("s", 16, &[("x", u64_, 0), ("v", u64_, 64)]);
    let (insns, applied) = run_one(
        insn(LDX_W, 1, 2, 0, 0),
        relo(0, s, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0), (LDX_DW, 8, 0));
    assert_eq!(
        applied.outcome,
        ReloOutcome::Patched {
            mem_size: Some((4, 8))
        }
    );
    assert!(applied
        .to_string()
        .ends_with(": 0 -> 8, load/store size 4 -> 8"));
}

#[test]
fn signed_field_changing_size_poisons_the_load() {
    let mut local = BtfMut::new();
    let int = local.add_int("int", 4, IntEncoding::SIGNED);
    let s = local.add_struct("s", 4, &[("v", int, 0)]);
    let mut target = BtfMut::new();
    let long = target.add_int("long", 8, IntEncoding::SIGNED);
    target.add_struct("s", 8, &[("v", long, 0)]);
    let (insns, applied) = run_one(
        insn(LDX_W, 1, 2, 0, 0),
        relo(0, s, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(applied.outcome, ReloOutcome::PoisonedMemSize);
    assert_eq!(field(&insns, 0), (CALL, 0, POISON_CALL_IMM));
    // An ALU add of the same offset is patched: only loads/stores care about size.
    let (insns, _) = run_one(
        insn(0x07, 1, 0, 0, 0),
        relo(0, s, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap();
    assert_eq!(field(&insns, 0).2, 0);
}

#[test]
fn instruction_not_holding_the_local_value_is_rejected() {
    let (local, task) = local_task();
    let target = target_task();
    let err = run_one(
        insn(LDX_DW, 1, 2, 12, 0),
        relo(0, task, "0:1", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(
        err.reason,
        ReloFailure::UnexpectedInsnValue {
            class: "LDX/ST/STX",
            found: 12,
            expected: 8,
            new: 16
        }
    );
    assert_eq!(err.insn_index, 0);
}

#[test]
fn unsupported_instructions_and_malformed_ld_imm64_are_errors() {
    let (local, task) = local_task();
    let target = target_task();
    // A jump can't carry a relocation.
    let err = run_one(
        insn(0x05, 0, 0, 0, 0),
        relo(0, task, "0:1", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(err.reason, ReloFailure::UnsupportedInsn { code: 0x05 });
    // An ALU with a register source neither.
    let err = run_one(
        insn(0x0f, 1, 2, 0, 8),
        relo(0, task, "0:1", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(err.reason, ReloFailure::UnsupportedInsn { code: 0x0f });
    // ld_imm64 cut short.
    let err = run_one(
        ld_imm64(1, 8)[0],
        relo(0, task, "0:1", CoreReloKind::FieldByteOffset),
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(err.reason, ReloFailure::MalformedLdImm64);
}

#[test]
fn malformed_records_are_errors_naming_the_problem() {
    let (local, task) = local_task();
    let target = target_task();
    let mut insns = prog(&[insn(MOV64_IMM, 1, 0, 0, 0)]);
    let cases: Vec<(CoreRelo<'_>, ReloFailure)> = vec![
        (
            relo(4, task, "0:0", CoreReloKind::FieldByteOffset),
            ReloFailure::MisalignedInsnOffset { insn_off: 4 },
        ),
        (
            relo(64, task, "0:0", CoreReloKind::FieldByteOffset),
            ReloFailure::InsnOutOfRange {
                insn_index: 8,
                insn_count: 1,
            },
        ),
        (
            relo(0, 99, "0:0", CoreReloKind::FieldByteOffset),
            ReloFailure::InvalidTypeId {
                which: "local",
                type_id: 99,
            },
        ),
        (
            relo(0, task, "", CoreReloKind::FieldByteOffset),
            ReloFailure::InvalidAccessString {
                detail: "empty or starts with ':'",
            },
        ),
        (
            relo(0, task, "0:x", CoreReloKind::FieldByteOffset),
            ReloFailure::InvalidAccessString {
                detail: "an element is not a decimal index",
            },
        ),
        (
            relo(0, task, "0::1", CoreReloKind::FieldByteOffset),
            ReloFailure::InvalidAccessString {
                detail: "an element is not a decimal index",
            },
        ),
        (
            relo(0, task, "0:7", CoreReloKind::FieldByteOffset),
            ReloFailure::AccessOutOfRange {
                position: 1,
                index: 7,
                limit: 3,
            },
        ),
        (
            relo(0, task, "0:0:1", CoreReloKind::FieldByteOffset),
            ReloFailure::UnexpectedAccessKind {
                position: 2,
                type_id: 1,
                kind: Kind::Int,
            },
        ),
        (
            relo(0, task, "1", CoreReloKind::TypeExists),
            ReloFailure::InvalidAccessString {
                detail: "a type relocation's access string must be \"0\"",
            },
        ),
        (
            relo(0, task, "0", CoreReloKind::EnumvalValue),
            ReloFailure::NotAnEnum {
                type_id: task,
                kind: Kind::Struct,
            },
        ),
    ];
    for (i, (r, want)) in cases.into_iter().enumerate() {
        let err = run(&mut insns, &[r], &local, &[&target]).unwrap_err();
        assert_eq!(err.reason, want, "case {i}: {err}");
    }
    let long_access = vec!["0"; 65].join(":");
    let err = run(
        &mut insns,
        &[relo(0, task, &long_access, CoreReloKind::FieldByteOffset)],
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(err.reason, ReloFailure::AccessTooLong { max: 64 });
}

#[test]
fn array_element_access_rejects_kinds_other_than_offset_and_size() {
    let (local, task) = local_task();
    let target = target_task();
    let err = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, task, "0:2:1", CoreReloKind::FieldSigned),
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(
        err.reason,
        ReloFailure::ArrayAccessKind {
            kind: CoreReloKind::FieldSigned
        }
    );
}

#[test]
fn anonymous_root_types_are_refused_except_for_local_type_ids() {
    let mut local = BtfMut::new();
    let int = local.add_int("int", 4, IntEncoding::SIGNED);
    let anon = local.add_struct("", 4, &[("a", int, 0)]);
    let err = run_one(
        insn(MOV64_IMM, 1, 0, 0, 2),
        relo(0, anon, "0:0", CoreReloKind::FieldByteOffset),
        &local,
        &[&local.clone()],
    )
    .unwrap_err();
    assert_eq!(err.reason, ReloFailure::AnonymousType);
    let (_, applied) = run_one(
        insn(MOV64_IMM, 1, 0, 0, 2),
        relo(0, anon, "0", CoreReloKind::TypeIdLocal),
        &local,
        &[&local.clone()],
    )
    .unwrap();
    assert_eq!(applied.target_value, 2);
}

#[test]
fn cyclic_btf_is_an_error_not_a_hang() {
    let mut local = BtfMut::new();
    let t1 = local.add_typedef("loop_a", 2);
    let t2 = local.add_typedef("loop_b", t1);
    let s = local.add_struct("s", 4, &[("x", t2, 0)]);
    let err = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, s, "0:0", CoreReloKind::FieldExists),
        &local,
        &[&local.clone()],
    )
    .unwrap_err();
    assert!(
        matches!(err.reason, ReloFailure::InvalidTypeId { .. }),
        "{err}"
    );
    let err = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, t1, "0", CoreReloKind::TypeMatches),
        &local,
        &[&local.clone()],
    )
    .unwrap_err();
    assert!(
        matches!(err.reason, ReloFailure::InvalidTypeId { .. }),
        "{err}"
    );
}

#[test]
fn candidate_cache_indexes_each_target_once() {
    let (local, task) = local_task();
    let target = target_task();
    let targets: [&dyn TypeSource; 1] = [&target];
    let mut cache = CandidateCache::new();
    for _ in 0..3 {
        let mut insns = prog(&[insn(LDX_W, 1, 2, 0, 0)]);
        relocate_instructions(
            "s",
            &mut insns,
            &[relo(0, task, "0:0", CoreReloKind::FieldByteOffset)],
            &local,
            &targets,
            &mut cache,
        )
        .unwrap();
        assert_eq!(field(&insns, 0).1, 8);
    }
    assert_eq!(cache.indexed_targets(), 1);
}

/// A [`BtfMut`] that also answers the name-index methods, to exercise the indexed
/// candidate search the crate's BTF parser uses.
struct Indexed(BtfMut);

impl TypeSource for Indexed {
    fn type_count(&self) -> u32 {
        self.0.type_count()
    }
    fn type_by_id(&self, id: TypeId) -> Option<crate::btf::Type<'_>> {
        self.0.type_by_id(id)
    }
    fn ids_by_name(&self, name: &str) -> Option<Vec<TypeId>> {
        Some(
            (0..self.0.type_count())
                .filter(|&id| self.0.name_and_kind(id).is_some_and(|(n, _)| n == name))
                .collect(),
        )
    }
    fn flavored_names(&self) -> Option<Vec<&str>> {
        Some(
            (0..self.0.type_count())
                .filter_map(|id| self.0.name_and_kind(id).map(|(n, _)| n))
                .filter(|n| essential_name(n) != *n)
                .collect(),
        )
    }
}

#[test]
fn indexed_and_scanned_candidate_search_agree_on_flavors() {
    let (local, task) = local_task();
    let mut target = BtfMut::new();
    let int = target.add_int("int", 4, IntEncoding::SIGNED);
    target.add_struct("task___b", 8, &[("x", int, 0), ("pid", int, 32)]);
    target.add_struct("task", 8, &[("y", int, 0), ("pid", int, 32)]);
    target.add_struct("task___c", 4, &[("tgid", int, 0)]);
    target.add_union("task", 4, &[("pid", int, 0)]);
    let indexed = Indexed(target.clone());
    for t in [&target as &dyn TypeSource, &indexed] {
        let mut cache = CandidateCache::new();
        let mut insns = prog(&[insn(LDX_W, 1, 2, 0, 0), insn(MOV64_IMM, 1, 0, 0, 1)]);
        let relos = [
            relo(0, task, "0:0", CoreReloKind::FieldByteOffset),
            relo(8, task, "0", CoreReloKind::TypeExists),
        ];
        let applied =
            relocate_instructions("s", &mut insns, &relos, &local, &[t], &mut cache).unwrap();
        // task___b (id 2) and task (id 3) both put pid at 4; the union is not a candidate
        // for a struct and task___c has no pid.
        assert_eq!(field(&insns, 0).1, 4);
        assert_eq!(
            applied[0].target,
            Some(Candidate {
                target: 0,
                type_id: 2
            })
        );
        assert_eq!(
            applied[1].target,
            Some(Candidate {
                target: 0,
                type_id: 2
            })
        );
    }
}

/// One big-endian instruction slot.
fn insn_be(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    Insn::new(code, dst, src, off, imm).encode(Endianness::Big)
}

#[test]
fn big_endian_instructions_and_bitfield_shifts() {
    let mut local = BtfMut::new();
    let u32_ = local.add_int("u32", 4, 0);
    let bf = local.add_composite(
        false,
        "bf",
        8,
        true,
        &[("b", u32_, 3, 5), ("d", u32_, 8, 5), ("v", u32_, 32, 0)],
    );
    let mut target = BtfMut::new();
    let tu32 = target.add_int("u32", 4, 0);
    target.add_composite(
        false,
        "bf",
        16,
        true,
        &[("b", tu32, 35, 5), ("d", tu32, 94, 5), ("v", tu32, 64, 0)],
    );
    // Big-endian LSHIFT: (8 - byte_sz) * 8 + (bit_off - byte_off * 8).
    // Local b: 32 + 3 = 35; target b: byte_off 4, 32 + 3 = 35.
    // Local d: 32 + 8 = 40; target d crosses a u32 -> byte_sz 8, byte_off 8: 0 + 30 = 30.
    let [h0, h1] = [insn_be(LD_IMM64, 1, 0, 0, 40), insn_be(0, 0, 0, 0, 0)];
    let mut insns = prog(&[
        insn_be(MOV64_IMM, 1, 0, 0, 35),
        h0,
        h1,
        insn_be(LDX_W, 1, 2, 4, 0),
    ]);
    let relos = [
        relo(0, bf, "0:0", CoreReloKind::FieldLshiftU64),
        relo(8, bf, "0:1", CoreReloKind::FieldLshiftU64),
        relo(24, bf, "0:2", CoreReloKind::FieldByteOffset),
    ];
    let targets: [&dyn TypeSource; 1] = [&target];
    let applied = relocate_instructions_in(
        ByteOrder::BigEndian,
        "be",
        &mut insns,
        &relos,
        &local,
        &targets,
        &mut CandidateCache::new(),
    )
    .unwrap();
    assert_eq!(
        applied.iter().map(|a| a.target_value).collect::<Vec<_>>(),
        [35, 30, 8]
    );
    assert_eq!(&insns[0..8], &insn_be(MOV64_IMM, 1, 0, 0, 35));
    assert_eq!(&insns[8..16], &insn_be(LD_IMM64, 1, 0, 0, 30));
    assert_eq!(&insns[24..32], &insn_be(LDX_W, 1, 2, 8, 0));

    // The same load read as little-endian does not hold the expected offset (0x0400).
    let mut le = prog(&[insn_be(LDX_W, 1, 2, 4, 0)]);
    let field_v = [relo(0, bf, "0:2", CoreReloKind::FieldByteOffset)];
    let err = relocate_instructions(
        "le",
        &mut le,
        &field_v,
        &local,
        &targets,
        &mut CandidateCache::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err.reason,
            ReloFailure::UnexpectedInsnValue {
                found: 1024,
                expected: 4,
                ..
            }
        ),
        "{err}"
    );
}

/// `S0 { S1 a; S1 b; }`, `S1 { S2 a; S2 b; }`, ... down to an int: `depth` levels whose
/// full comparison takes 2^depth steps. Returns the id of `S0`.
fn doubling_structs(btf: &mut BtfMut, depth: u32, anonymous: bool) -> TypeId {
    let mut inner = btf.add_int("int", 4, IntEncoding::SIGNED);
    for level in (0..depth).rev() {
        let (a, b) = if anonymous { ("", "") } else { ("a", "b") };
        let name = if anonymous && level > 0 {
            String::new()
        } else {
            format!("S{level}")
        };
        inner = btf.add_struct(&name, 8, &[(a, inner, 0), (b, inner, 0)]);
    }
    inner
}

#[test]
fn exponential_type_graphs_hit_a_budget_instead_of_hanging() {
    let mut local = BtfMut::new();
    let s0 = doubling_structs(&mut local, 30, false);
    let target = local.clone();
    let mut insns = prog(&[insn(MOV64_IMM, 1, 0, 0, 1)]);
    let started = std::time::Instant::now();
    let err = run(
        &mut insns,
        &[relo(0, s0, "0", CoreReloKind::TypeMatches)],
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(err.reason, ReloFailure::TooDeep);

    // A member search through 60 levels of doubled anonymous members.
    let mut target = BtfMut::new();
    let s0_target = doubling_structs(&mut target, 60, true);
    let _ = s0_target;
    let mut local = BtfMut::new();
    let int = local.add_int("int", 4, IntEncoding::SIGNED);
    let s = local.add_struct("S0", 4, &[("missing", int, 0)]);
    let err = run_one(
        insn(MOV64_IMM, 1, 0, 0, 1),
        relo(0, s, "0:0", CoreReloKind::FieldExists),
        &local,
        &[&target],
    )
    .unwrap_err();
    assert_eq!(err.reason, ReloFailure::TooDeep);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Every type of `btf` whose essential name is `essential`, by brute force.
fn essential_ids_brute(btf: &crate::btf::Btf<'_>, essential: &str) -> Vec<TypeId> {
    (1..btf.type_count())
        .filter(|&id| {
            btf.name(id)
                .is_ok_and(|n| !n.is_empty() && essential_name(n) == essential)
        })
        .collect()
}

/// The one-pass scan behind `CandidateCache::prefetch` finds exactly the types whose
/// essential name matches, flavors included (`task_struct___o` and the like in the
/// libbpf-tools objects' own BTF), ascending; also on the corpus vmlinux BTF.
#[test]
fn essential_name_scan_equals_brute_force() {
    let mut checked_flavors = 0;
    for path in bpfkit_test_support::corpus_objects_in("libbpf-tools") {
        let elf = std::fs::read(&path).unwrap();
        let Ok(spec) = crate::object::ObjectSpec::parse(&elf) else {
            continue;
        };
        let Some(bytes) = spec.btf_fixed.as_deref() else {
            continue;
        };
        let btf = crate::btf::Btf::parse(bytes).unwrap();
        let mut names: Vec<&str> = (1..btf.type_count())
            .filter_map(|id| btf.name(id).ok())
            .filter(|n| !n.is_empty())
            .map(essential_name)
            .collect();
        names.sort_unstable();
        names.dedup();
        let found = btf.ids_with_essential_names(&names).unwrap();
        for (name, ids) in names.iter().zip(&found) {
            assert_eq!(ids, &essential_ids_brute(&btf, name), "{path:?} {name}");
            if ids
                .iter()
                .any(|&id| btf.name(id).is_ok_and(|n| n.len() != name.len()))
            {
                checked_flavors += 1;
            }
        }
    }
    assert!(checked_flavors > 0, "no flavored type names in the corpus");

    let bytes = std::fs::read(bpfkit_test_support::corpus_vmlinux_btf()).unwrap();
    let vmlinux = crate::btf::Btf::parse(&bytes).unwrap();
    let names = [
        "task_struct",
        "sk_buff",
        "file",
        "long int",
        "no_such_type_xyz",
    ];
    let found = vmlinux.ids_with_essential_names(&names).unwrap();
    for (name, ids) in names.iter().zip(&found) {
        assert_eq!(ids, &essential_ids_brute(&vmlinux, name), "{name}");
    }
    assert!(!found[0].is_empty() && found[4].is_empty());
}
