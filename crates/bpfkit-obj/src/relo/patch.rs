//! Writing a resolved relocation into an instruction, or poisoning it, as libbpf does.
//!
//! Instructions are raw little-endian `struct bpf_insn` bytes (8 per instruction), so this
//! module depends on nothing but the UAPI encoding.

use super::calc::Resolution;
use super::error::ReloFailure;

/// Byte order of the instructions (and of the kernel they are for).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// x86-64, arm64, riscv64, ... (`bpfel`).
    #[default]
    LittleEndian,
    /// s390x, ... (`bpfeb`): 16/32-bit fields big-endian, `dst_reg` in the high nibble.
    BigEndian,
}

/// Size of one `struct bpf_insn`.
pub const INSN_SIZE: usize = 8;

/// The `imm` of the call libbpf substitutes for an unresolvable relocation: `0xbad2310`
/// ("bad relo"). The verifier reports `invalid func unknown#195896080` if it is reachable.
pub const POISON_CALL_IMM: i32 = 0x0bad_2310;

const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_ST: u8 = 0x02;
const BPF_STX: u8 = 0x03;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_CALL: u8 = 0x80;
const BPF_X: u8 = 0x08;
const BPF_W: u8 = 0x00;
const BPF_H: u8 = 0x08;
const BPF_B: u8 = 0x10;
const BPF_DW: u8 = 0x18;
const BPF_IMM: u8 = 0x00;
/// `BPF_LD | BPF_IMM | BPF_DW`.
const LD_IMM64: u8 = BPF_LD | BPF_IMM | BPF_DW;

/// A decoded view of one instruction's fields (`regs` is the raw register byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

impl Insn {
    fn src_reg(&self, order: ByteOrder) -> u8 {
        match order {
            ByteOrder::LittleEndian => self.regs >> 4,
            ByteOrder::BigEndian => self.regs & 0x0f,
        }
    }
}

fn read(order: ByteOrder, insns: &[u8], idx: usize) -> Option<Insn> {
    let b = insns.get(idx * INSN_SIZE..idx * INSN_SIZE + INSN_SIZE)?;
    let (off, imm) = ([b[2], b[3]], [b[4], b[5], b[6], b[7]]);
    Some(match order {
        ByteOrder::LittleEndian => Insn {
            code: b[0],
            regs: b[1],
            off: i16::from_le_bytes(off),
            imm: i32::from_le_bytes(imm),
        },
        ByteOrder::BigEndian => Insn {
            code: b[0],
            regs: b[1],
            off: i16::from_be_bytes(off),
            imm: i32::from_be_bytes(imm),
        },
    })
}

fn write(order: ByteOrder, insns: &mut [u8], idx: usize, insn: Insn) {
    if let Some(b) = insns.get_mut(idx * INSN_SIZE..idx * INSN_SIZE + INSN_SIZE) {
        b[0] = insn.code;
        b[1] = insn.regs;
        let (off, imm) = match order {
            ByteOrder::LittleEndian => (insn.off.to_le_bytes(), insn.imm.to_le_bytes()),
            ByteOrder::BigEndian => (insn.off.to_be_bytes(), insn.imm.to_be_bytes()),
        };
        b[2..4].copy_from_slice(&off);
        b[4..8].copy_from_slice(&imm);
    }
}

const POISON: Insn = Insn {
    code: BPF_JMP | BPF_CALL,
    regs: 0,
    off: 0,
    imm: POISON_CALL_IMM,
};

/// `bpf_core_poison_insn`: the instruction becomes `call 0xbad2310`; for an `ld_imm64` its
/// second half too, so the verifier does not stop at "unknown opcode 00".
fn poison(order: ByteOrder, insns: &mut [u8], idx: usize, insn: Insn) -> Result<(), ReloFailure> {
    if insn.code == LD_IMM64 {
        if read(order, insns, idx + 1).is_none() {
            return Err(ReloFailure::MalformedLdImm64);
        }
        write(order, insns, idx + 1, POISON);
    }
    write(order, insns, idx, POISON);
    Ok(())
}

fn size_bytes(code: u8) -> u32 {
    match code & 0x18 {
        BPF_DW => 8,
        BPF_W => 4,
        BPF_H => 2,
        _ => 1,
    }
}

fn size_code(bytes: u32) -> Option<u8> {
    match bytes {
        8 => Some(BPF_DW),
        4 => Some(BPF_W),
        2 => Some(BPF_H),
        1 => Some(BPF_B),
        _ => None,
    }
}

/// What patching did to the instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Patched {
    /// The value was written; for a load/store whose size changed, `(old, new)` bytes.
    Value {
        /// Memory size change of a load/store.
        resized: Option<(u32, u32)>,
    },
    /// The instruction was poisoned; `memsz` says it was because of an unsafe size change.
    Poisoned {
        /// Poisoned because a load/store would change size unsafely.
        memsz: bool,
    },
}

/// `bpf_core_patch_insn`: checks the instruction holds `res.orig_val` (when validated) and
/// writes `res.new_val`, or poisons it.
pub(crate) fn patch_insn(
    order: ByteOrder,
    insns: &mut [u8],
    idx: usize,
    res: &Resolution,
) -> Result<Patched, ReloFailure> {
    let insn_count = insns.len() / INSN_SIZE;
    let mut insn = read(order, insns, idx).ok_or(ReloFailure::InsnOutOfRange {
        insn_index: idx,
        insn_count,
    })?;
    if res.poison {
        poison(order, insns, idx, insn)?;
        return Ok(Patched::Poisoned { memsz: false });
    }
    let (orig, new) = (res.orig_val, res.new_val);
    let mut resized = None;
    match insn.code & 0x07 {
        BPF_ALU | BPF_ALU64 => {
            if insn.code & BPF_X != 0 {
                return Err(ReloFailure::UnsupportedInsn { code: insn.code });
            }
            // libbpf compares the sign-extended imm with the 64-bit expected value.
            if res.validate && i64::from(insn.imm) as u64 != orig {
                return Err(ReloFailure::UnexpectedInsnValue {
                    class: "ALU/ALU64",
                    found: i64::from(insn.imm),
                    expected: orig,
                    new,
                });
            }
            insn.imm = new as i32;
            write(order, insns, idx, insn);
        }
        BPF_LDX | BPF_ST | BPF_STX => {
            if res.validate && i64::from(insn.off) as u64 != orig {
                return Err(ReloFailure::UnexpectedInsnValue {
                    class: "LDX/ST/STX",
                    found: i64::from(insn.off),
                    expected: orig,
                    new,
                });
            }
            if new > i16::MAX as u64 {
                return Err(ReloFailure::ValueTooBig { value: new });
            }
            if res.fail_memsz_adjust {
                poison(order, insns, idx, insn)?;
                return Ok(Patched::Poisoned { memsz: true });
            }
            insn.off = new as i16;
            if res.new_size != res.orig_size {
                let found = size_bytes(insn.code);
                if found != res.orig_size {
                    return Err(ReloFailure::UnexpectedMemSize {
                        found,
                        expected: res.orig_size,
                    });
                }
                let size = size_code(res.new_size)
                    .ok_or(ReloFailure::InvalidNewMemSize { size: res.new_size })?;
                insn.code = (insn.code & 0xe0) | size | (insn.code & 0x07);
                resized = Some((res.orig_size, res.new_size));
            }
            write(order, insns, idx, insn);
        }
        BPF_LD => {
            let second = read(order, insns, idx + 1);
            let well_formed = insn.code == LD_IMM64
                && insn.src_reg(order) == 0
                && insn.off == 0
                && second.is_some_and(|s| s.code == 0 && s.regs == 0 && s.off == 0);
            let Some(mut second) = second.filter(|_| well_formed) else {
                return Err(ReloFailure::MalformedLdImm64);
            };
            let imm = u64::from(insn.imm as u32) | (u64::from(second.imm as u32) << 32);
            if res.validate && imm != orig {
                return Err(ReloFailure::UnexpectedInsnValue {
                    class: "LDIMM64",
                    found: imm as i64,
                    expected: orig,
                    new,
                });
            }
            insn.imm = new as u32 as i32;
            second.imm = (new >> 32) as u32 as i32;
            write(order, insns, idx, insn);
            write(order, insns, idx + 1, second);
        }
        _ => return Err(ReloFailure::UnsupportedInsn { code: insn.code }),
    }
    Ok(Patched::Value { resized })
}
