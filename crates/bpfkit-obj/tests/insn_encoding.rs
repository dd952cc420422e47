//! Encodings of cpu v4, atomics and the other instruction families, with the expected bytes
//! written from the UAPI definitions (linux/bpf.h, linux/bpf_common.h), checked in both
//! directions: bytes → typed view and verifier text, and back to the same bytes.

use bpfkit_obj::insn::{
    disassemble, disassemble_insn, AluOp, AtomicOp, CallTarget, Endian, Imm64Kind, Insn, InsnError,
    Insns, Instruction, LogicalInsn, NoSymbols, Operand, Size, Symbolizer, Width,
};
use object::Endianness::{Big, Little};

/// Decodes one little-endian slot, checks its typed view and text, and that it re-encodes
/// to the same bytes.
fn check(bytes: [u8; 8], expected: Instruction, text: &str) {
    let insn = Insn::decode(bytes, Little);
    assert_eq!(insn.encode(Little), bytes, "round trip of {bytes:02x?}");
    let logical = LogicalInsn::Single(insn);
    assert_eq!(
        logical.instruction(),
        expected,
        "typed view of {bytes:02x?}"
    );
    assert_eq!(disassemble_insn(&logical, &NoSymbols), text);
}

#[test]
fn sdiv_and_smod_are_div_and_mod_with_offset_one() {
    // BPF_ALU64 | BPF_DIV | BPF_K = 0x37, dst r1, off 1, imm 3.
    check(
        [0x37, 0x01, 0x01, 0x00, 0x03, 0, 0, 0],
        Instruction::Alu {
            width: Width::W64,
            op: AluOp::SDiv,
            dst: 1,
            src: Operand::Imm(3),
        },
        "(37) r1 s/= 3",
    );
    // BPF_ALU | BPF_MOD | BPF_X = 0x9c, dst w2, src w3, off 1.
    check(
        [0x9c, 0x32, 0x01, 0x00, 0, 0, 0, 0],
        Instruction::Alu {
            width: Width::W32,
            op: AluOp::SMod,
            dst: 2,
            src: Operand::Reg(3),
        },
        "(9c) w2 s%= w3",
    );
    // Same opcode with off 0 is the unsigned form.
    check(
        [0x3f, 0x32, 0, 0, 0, 0, 0, 0],
        Instruction::Alu {
            width: Width::W64,
            op: AluOp::Div,
            dst: 2,
            src: Operand::Reg(3),
        },
        "(3f) r2 /= r3",
    );
    // Any other offset is not an instruction the kernel knows.
    let odd = Insn::decode([0x37, 0x01, 0x02, 0x00, 0x03, 0, 0, 0], Little);
    assert_eq!(LogicalInsn::Single(odd).instruction(), Instruction::Unknown);
}

#[test]
fn movsx_is_mov_with_offset_in_bits() {
    // BPF_ALU64 | BPF_MOV | BPF_X = 0xbf, off 8/16/32.
    for (off, text) in [
        (8u8, "(bf) r1 = (s8)r2"),
        (16, "(bf) r1 = (s16)r2"),
        (32, "(bf) r1 = (s32)r2"),
    ] {
        check(
            [0xbf, 0x21, off, 0, 0, 0, 0, 0],
            Instruction::Alu {
                width: Width::W64,
                op: AluOp::MovSx(off),
                dst: 1,
                src: Operand::Reg(2),
            },
            text,
        );
    }
    // BPF_ALU | BPF_MOV | BPF_X = 0xbc: 32-bit movsx exists for 8 and 16 bits only.
    check(
        [0xbc, 0x21, 8, 0, 0, 0, 0, 0],
        Instruction::Alu {
            width: Width::W32,
            op: AluOp::MovSx(8),
            dst: 1,
            src: Operand::Reg(2),
        },
        "(bc) w1 = (s8)w2",
    );
    let w32 = Insn::decode([0xbc, 0x21, 32, 0, 0, 0, 0, 0], Little);
    assert_eq!(LogicalInsn::Single(w32).instruction(), Instruction::Unknown);
}

#[test]
fn bswap_is_end_in_the_alu64_class() {
    // BPF_ALU64 | BPF_END | BPF_TO_LE = 0xd7, imm = width.
    for bits in [16u8, 32, 64] {
        check(
            [0xd7, 0x00, 0, 0, bits, 0, 0, 0],
            Instruction::Endian {
                kind: Endian::Swap,
                dst: 0,
                bits: i32::from(bits),
            },
            &format!("(d7) r0 = bswap{bits} r0"),
        );
    }
    // BPF_ALU | BPF_END | BPF_TO_LE = 0xd4, BPF_TO_BE = 0xdc.
    check(
        [0xd4, 0x03, 0, 0, 16, 0, 0, 0],
        Instruction::Endian {
            kind: Endian::ToLe,
            dst: 3,
            bits: 16,
        },
        "(d4) r3 = le16 r3",
    );
    check(
        [0xdc, 0x03, 0, 0, 32, 0, 0, 0],
        Instruction::Endian {
            kind: Endian::ToBe,
            dst: 3,
            bits: 32,
        },
        "(dc) r3 = be32 r3",
    );
}

#[test]
fn sign_extending_loads_use_mode_memsx() {
    // BPF_LDX | BPF_MEMSX (0x80) | size: B 0x91, H 0x89, W 0x81; off -4.
    for (code, size, ty) in [
        (0x91u8, Size::B, "s8"),
        (0x89, Size::H, "s16"),
        (0x81, Size::W, "s32"),
    ] {
        check(
            [code, 0x21, 0xfc, 0xff, 0, 0, 0, 0],
            Instruction::Load {
                size,
                sign_extend: true,
                dst: 1,
                src: 2,
                off: -4,
            },
            &format!("({code:02x}) r1 = *({ty} *)(r2 -4)"),
        );
    }
    // BPF_LDX | BPF_MEM | BPF_DW = 0x79.
    check(
        [0x79, 0x11, 0x08, 0, 0, 0, 0, 0],
        Instruction::Load {
            size: Size::DW,
            sign_extend: false,
            dst: 1,
            src: 1,
            off: 8,
        },
        "(79) r1 = *(u64 *)(r1 +8)",
    );
    // There is no 64-bit sign-extending load.
    let dw = Insn::decode([0x99, 0x21, 0, 0, 0, 0, 0, 0], Little);
    assert_eq!(LogicalInsn::Single(dw).instruction(), Instruction::Unknown);
}

#[test]
fn gotol_takes_its_distance_from_imm_and_may_goto_from_off() {
    // BPF_JMP32 | BPF_JA = 0x06, imm 70000 (beyond off's 16 bits).
    let gotol = Insn::decode([0x06, 0, 0, 0, 0x70, 0x11, 0x01, 0x00], Little);
    assert_eq!(gotol.imm, 70000);
    assert_eq!(gotol.jump_offset(), Some(70000));
    check(
        [0x06, 0, 0, 0, 0x70, 0x11, 0x01, 0x00],
        Instruction::GotoLong { imm: 70000 },
        "(06) gotol pc+70000",
    );
    // BPF_JMP | BPF_JCOND = 0xe5, src BPF_MAY_GOTO (0), off 3.
    check(
        [0xe5, 0, 3, 0, 0, 0, 0, 0],
        Instruction::MayGoto { off: 3 },
        "(e5) may_goto pc+3",
    );
    // BPF_JMP | BPF_JA = 0x05, off -2.
    check(
        [0x05, 0, 0xfe, 0xff, 0, 0, 0, 0],
        Instruction::Goto { off: -2 },
        "(05) goto pc-2",
    );
}

#[test]
fn atomics_in_both_widths_with_and_without_fetch() {
    // BPF_STX | BPF_ATOMIC | BPF_DW = 0xdb, BPF_W = 0xc3; imm = op | BPF_FETCH.
    let cases: [(u8, i32, AtomicOp, &str); 12] = [
        (
            0xdb,
            0x00,
            AtomicOp::Rmw {
                op: AluOp::Add,
                fetch: false,
            },
            "(db) lock *(u64 *)(r1 -8) += r2",
        ),
        (
            0xdb,
            0x50,
            AtomicOp::Rmw {
                op: AluOp::And,
                fetch: false,
            },
            "(db) lock *(u64 *)(r1 -8) &= r2",
        ),
        (
            0xc3,
            0x40,
            AtomicOp::Rmw {
                op: AluOp::Or,
                fetch: false,
            },
            "(c3) lock *(u32 *)(r1 -8) |= r2",
        ),
        (
            0xc3,
            0xa0,
            AtomicOp::Rmw {
                op: AluOp::Xor,
                fetch: false,
            },
            "(c3) lock *(u32 *)(r1 -8) ^= r2",
        ),
        (
            0xdb,
            0x01,
            AtomicOp::Rmw {
                op: AluOp::Add,
                fetch: true,
            },
            "(db) r2 = atomic64_fetch_add((u64 *)(r1 -8), r2)",
        ),
        (
            0xc3,
            0x51,
            AtomicOp::Rmw {
                op: AluOp::And,
                fetch: true,
            },
            "(c3) r2 = atomic_fetch_and((u32 *)(r1 -8), r2)",
        ),
        (
            0xdb,
            0x41,
            AtomicOp::Rmw {
                op: AluOp::Or,
                fetch: true,
            },
            "(db) r2 = atomic64_fetch_or((u64 *)(r1 -8), r2)",
        ),
        (
            0xdb,
            0xa1,
            AtomicOp::Rmw {
                op: AluOp::Xor,
                fetch: true,
            },
            "(db) r2 = atomic64_fetch_xor((u64 *)(r1 -8), r2)",
        ),
        (
            0xdb,
            0xe1,
            AtomicOp::Xchg,
            "(db) r2 = atomic64_xchg((u64 *)(r1 -8), r2)",
        ),
        (
            0xc3,
            0xe1,
            AtomicOp::Xchg,
            "(c3) r2 = atomic_xchg((u32 *)(r1 -8), r2)",
        ),
        (
            0xdb,
            0xf1,
            AtomicOp::Cmpxchg,
            "(db) r0 = atomic64_cmpxchg((u64 *)(r1 -8), r0, r2)",
        ),
        (
            0xc3,
            0xf1,
            AtomicOp::Cmpxchg,
            "(c3) r0 = atomic_cmpxchg((u32 *)(r1 -8), r0, r2)",
        ),
    ];
    for (code, imm, op, text) in cases {
        let size = if code == 0xdb { Size::DW } else { Size::W };
        let imm = imm.to_le_bytes();
        check(
            [code, 0x21, 0xf8, 0xff, imm[0], imm[1], imm[2], imm[3]],
            Instruction::Atomic {
                size,
                op,
                dst: 1,
                src: 2,
                off: -8,
            },
            text,
        );
    }
    // Read-modify-write atomics on bytes do not exist (BPF_STX | BPF_ATOMIC | BPF_B = 0xd3).
    let byte_add = Insn::decode([0xd3, 0x21, 0, 0, 0, 0, 0, 0], Little);
    assert_eq!(
        LogicalInsn::Single(byte_add).instruction(),
        Instruction::Unknown
    );
    assert_eq!(
        disassemble_insn(&LogicalInsn::Single(byte_add), &NoSymbols),
        "(d3) BUG_stx_d3"
    );
}

#[test]
fn load_acquire_and_store_release_exist_for_every_size() {
    // imm BPF_LOAD_ACQ = 0x100, BPF_STORE_REL = 0x110; BPF_STX | BPF_ATOMIC | BPF_B = 0xd3.
    check(
        [0xd3, 0x21, 0x04, 0, 0x00, 0x01, 0, 0],
        Instruction::Atomic {
            size: Size::B,
            op: AtomicOp::LoadAcquire,
            dst: 1,
            src: 2,
            off: 4,
        },
        "(d3) r1 = load_acquire((u8 *)(r2 +4))",
    );
    check(
        [0xdb, 0x21, 0x04, 0, 0x10, 0x01, 0, 0],
        Instruction::Atomic {
            size: Size::DW,
            op: AtomicOp::StoreRelease,
            dst: 1,
            src: 2,
            off: 4,
        },
        "(db) store_release((u64 *)(r1 +4), r2)",
    );
}

#[test]
fn conditional_jumps_in_both_widths() {
    // BPF_JMP | BPF_JGT | BPF_K = 0x25; immediate printed as unsigned hex.
    check(
        [0x25, 0x01, 3, 0, 5, 0, 0, 0],
        Instruction::JumpIf {
            width: Width::W64,
            cond: bpfkit_obj::insn::JumpCond::Gt,
            dst: 1,
            src: Operand::Imm(5),
            off: 3,
        },
        "(25) if r1 > 0x5 goto pc+3",
    );
    // BPF_JMP32 | BPF_JSLT | BPF_X = 0xce.
    check(
        [0xce, 0x21, 0xf6, 0xff, 0, 0, 0, 0],
        Instruction::JumpIf {
            width: Width::W32,
            cond: bpfkit_obj::insn::JumpCond::Slt,
            dst: 1,
            src: Operand::Reg(2),
            off: -10,
        },
        "(ce) if w1 s< w2 goto pc-10",
    );
    // BPF_JMP32 | BPF_JNE | BPF_K = 0x56, imm -1.
    check(
        [0x56, 0x01, 1, 0, 0xff, 0xff, 0xff, 0xff],
        Instruction::JumpIf {
            width: Width::W32,
            cond: bpfkit_obj::insn::JumpCond::Ne,
            dst: 1,
            src: Operand::Imm(-1),
            off: 1,
        },
        "(56) if w1 != 0xffffffff goto pc+1",
    );
}

#[test]
fn calls_name_helpers_subprograms_and_kfuncs() {
    // BPF_JMP | BPF_CALL = 0x85.
    check(
        [0x85, 0, 0, 0, 14, 0, 0, 0],
        Instruction::Call(CallTarget::Helper(14)),
        "(85) call bpf_get_current_pid_tgid#14",
    );
    check(
        [0x85, 0x10, 0, 0, 5, 0, 0, 0],
        Instruction::Call(CallTarget::Local(5)),
        "(85) call pc+5",
    );
    check(
        [0x85, 0x20, 0, 0, 0xd2, 0x04, 0, 0],
        Instruction::Call(CallTarget::Kfunc {
            btf_id: 1234,
            btf_fd_index: 0,
        }),
        "(85) call kernel-function#1234",
    );
    check(
        [0x85, 0, 0, 0, 0xff, 0xff, 0, 0],
        Instruction::Call(CallTarget::Helper(65535)),
        "(85) call unknown#65535",
    );
    check([0x95, 0, 0, 0, 0, 0, 0, 0], Instruction::Exit, "(95) exit");
    let call = Insn::decode([0x85, 0x10, 0, 0, 5, 0, 0, 0], Little);
    assert!(call.is_pseudo_call() && !call.is_helper_call() && !call.is_kfunc_call());
}

#[test]
fn ld_imm64_is_one_logical_instruction_of_every_pseudo_kind() {
    let kinds = [
        (0u8, Imm64Kind::Const),
        (1, Imm64Kind::MapFd),
        (2, Imm64Kind::MapValue),
        (3, Imm64Kind::BtfId),
        (4, Imm64Kind::Func),
        (5, Imm64Kind::MapIdx),
        (6, Imm64Kind::MapIdxValue),
        (9, Imm64Kind::Unknown(9)),
    ];
    for (src, kind) in kinds {
        // BPF_LD | BPF_IMM | BPF_DW = 0x18; low imm 0x89abcdef, high imm 0x01234567.
        let mut bytes = vec![0x18, (src << 4) | 3, 0, 0, 0xef, 0xcd, 0xab, 0x89];
        bytes.extend_from_slice(&[0, 0, 0, 0, 0x67, 0x45, 0x23, 0x01]);
        bytes.extend_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
        let logical: Vec<_> = Insns::new(&bytes, Little)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(logical.len(), 2);
        assert_eq!(logical[1].0, 2, "exit follows both slots");
        assert_eq!(
            logical[0].1.instruction(),
            Instruction::LoadImm64 {
                dst: 3,
                kind,
                imm: 0x0123_4567_89ab_cdef
            }
        );
        assert_eq!(logical[0].1.to_string(), "(18) r3 = 0x123456789abcdef");
        let mut encoded = Vec::new();
        for (_, insn) in &logical {
            insn.encode_into(Little, &mut encoded);
        }
        assert_eq!(encoded, bytes);
    }
}

#[test]
fn legacy_packet_loads() {
    // BPF_LD | BPF_ABS | BPF_B = 0x30; BPF_LD | BPF_IND | BPF_H = 0x48.
    check(
        [0x30, 0, 0, 0, 12, 0, 0, 0],
        Instruction::LoadAbs {
            size: Size::B,
            imm: 12,
        },
        "(30) r0 = *(u8 *)skb[12]",
    );
    check(
        [0x48, 0x10, 0, 0, 2, 0, 0, 0],
        Instruction::LoadInd {
            size: Size::H,
            src: 1,
            imm: 2,
        },
        "(48) r0 = *(u16 *)skb[r1 + 2]",
    );
}

#[test]
fn stores_alu_and_negation() {
    check(
        [0x7b, 0x1a, 0xf8, 0xff, 0, 0, 0, 0],
        Instruction::Store {
            size: Size::DW,
            dst: 10,
            off: -8,
            src: Operand::Reg(1),
        },
        "(7b) *(u64 *)(r10 -8) = r1",
    );
    check(
        [0x62, 0x0a, 0xfc, 0xff, 0xfe, 0xff, 0xff, 0xff],
        Instruction::Store {
            size: Size::W,
            dst: 10,
            off: -4,
            src: Operand::Imm(-2),
        },
        "(62) *(u32 *)(r10 -4) = -2",
    );
    check(
        [0x87, 0x01, 0, 0, 0, 0, 0, 0],
        Instruction::Neg {
            width: Width::W64,
            dst: 1,
        },
        "(87) r1 = -r1",
    );
    check(
        [0x84, 0x01, 0, 0, 0, 0, 0, 0],
        Instruction::Neg {
            width: Width::W32,
            dst: 1,
        },
        "(84) w1 = -w1",
    );
    check(
        [0x07, 0x02, 0, 0, 0x9c, 0xff, 0xff, 0xff],
        Instruction::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: 2,
            src: Operand::Imm(-100),
        },
        "(07) r2 += -100",
    );
    check(
        [0xc7, 0x02, 0, 0, 3, 0, 0, 0],
        Instruction::Alu {
            width: Width::W64,
            op: AluOp::Arsh,
            dst: 2,
            src: Operand::Imm(3),
        },
        "(c7) r2 s>>= 3",
    );
}

#[test]
fn arena_cast_and_kernel_internal_forms() {
    // BPF_ALU64 | BPF_MOV | BPF_X with off BPF_ADDR_SPACE_CAST (1), imm = dst_as << 16 | src_as.
    check(
        [0xbf, 0x21, 1, 0, 0x00, 0x00, 0x01, 0x00],
        Instruction::AddrSpaceCast {
            dst: 1,
            src: 2,
            dst_as: 1,
            src_as: 0,
        },
        "(bf) r1 = addr_space_cast(r2, 1, 0)",
    );
    check(
        [0xbf, 0x00, 0xff, 0xff, 0, 0, 0, 0],
        Instruction::MovPercpuAddr { dst: 0, src: 0 },
        "(bf) r0 = &(void __percpu *)(r0)",
    );
    check(
        [0xc2, 0, 0, 0, 0, 0, 0, 0],
        Instruction::Nospec,
        "(c2) nospec",
    );
}

#[test]
fn big_endian_objects_swap_register_nibbles_and_field_bytes() {
    // r1 = *(u64 *)(r2 -8) in both byte orders.
    let le = [0x79, 0x21, 0xf8, 0xff, 0, 0, 0, 0];
    let be = [0x79, 0x12, 0xff, 0xf8, 0, 0, 0, 0];
    assert_eq!(Insn::decode(le, Little), Insn::decode(be, Big));
    let insn = Insn::decode(be, Big);
    assert_eq!((insn.dst_reg, insn.src_reg, insn.off), (1, 2, -8));
    assert_eq!(insn.encode(Big), be);
    assert_eq!(insn.encode(Little), le);
    // imm: call helper 0x01020304 big-endian.
    let call = Insn::decode([0x85, 0, 0, 0, 1, 2, 3, 4], Big);
    assert_eq!(call.imm, 0x0102_0304);
}

#[test]
fn unknown_opcodes_round_trip_and_print_as_bugs() {
    for code in 0..=255u8 {
        let bytes = [code, 0xab, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc];
        for endian in [Little, Big] {
            assert_eq!(Insn::decode(bytes, endian).encode(endian), bytes);
        }
    }
    // BPF_ALU64 with op 0xe0 is undefined.
    let insn = Insn::decode([0xe7, 0x01, 0, 0, 0, 0, 0, 0], Little);
    assert_eq!(
        LogicalInsn::Single(insn).instruction(),
        Instruction::Unknown
    );
    assert_eq!(LogicalInsn::Single(insn).to_string(), "(e7) BUG_alu64_e7");
}

#[test]
fn malformed_streams_are_errors_naming_the_offset() {
    let mut bytes = vec![0x95, 0, 0, 0, 0, 0, 0, 0, 0x18, 0x01, 0, 0, 0, 0, 0, 0];
    let items: Vec<_> = Insns::new(&bytes, Little).collect();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[1],
        Err(InsnError::TruncatedLdImm64 {
            index: 1,
            offset: 8
        })
    );
    assert_eq!(
        items[1].as_ref().unwrap_err().to_string(),
        "ld_imm64 at instruction 1 (offset 8) has no second slot"
    );
    bytes.truncate(11);
    let items: Vec<_> = Insns::new(&bytes, Little).collect();
    assert_eq!(
        items[1],
        Err(InsnError::TrailingBytes {
            len: 11,
            offset: 8,
            trailing: 3
        })
    );
    assert_eq!(
        bpfkit_obj::insn::decode_slots(&bytes, Little),
        Err(InsnError::TrailingBytes {
            len: 11,
            offset: 8,
            trailing: 3
        })
    );
}

struct MapNames;

impl Symbolizer for MapNames {
    fn call_name(&self, call: &Insn) -> Option<String> {
        call.is_pseudo_call()
            .then(|| format!("{:+}#my_subprog", call.imm))
    }

    fn imm64_name(&self, first: &Insn, second: &Insn, _imm: u64) -> Option<String> {
        (first.src_reg == 2).then(|| format!("map[id:{}][0]+{}", first.imm, second.imm))
    }
}

#[test]
fn program_listing_counts_slots_and_uses_the_symbolizer() {
    let slots = [
        Insn::new(0x18, 1, 2, 0, 7),
        Insn::new(0, 0, 0, 0, 16),
        Insn::new(0x85, 0, 1, 0, 2),
        Insn::new(0x95, 0, 0, 0, 0),
    ];
    assert_eq!(
        disassemble(&slots, &MapNames).unwrap(),
        "   0: (18) r1 = map[id:7][0]+16\n   2: (85) call pc+2#my_subprog\n   3: (95) exit\n"
    );
    assert_eq!(
        disassemble(&slots, &NoSymbols).unwrap(),
        "   0: (18) r1 = 0x1000000007\n   2: (85) call pc+2\n   3: (95) exit\n"
    );
}

#[test]
fn helper_table_matches_the_kernel_ids() {
    assert_eq!(
        bpfkit_obj::insn::helper_name(1),
        Some("bpf_map_lookup_elem")
    );
    assert_eq!(
        bpfkit_obj::insn::helper_name(14),
        Some("bpf_get_current_pid_tgid")
    );
    assert_eq!(
        bpfkit_obj::insn::helper_name(209),
        Some("bpf_user_ringbuf_drain")
    );
    assert_eq!(
        bpfkit_obj::insn::helper_name(211),
        Some("bpf_cgrp_storage_delete")
    );
    assert_eq!(bpfkit_obj::insn::helper_name(212), None);
    assert_eq!(bpfkit_obj::insn::helper_name(-1), None);
}
