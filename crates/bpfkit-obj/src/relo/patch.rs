//! Writing a resolved relocation into an instruction, or poisoning it, as libbpf does.
//!
//! Instructions are raw `struct bpf_insn` bytes (8 per instruction) in the object's byte
//! order, read and written through [`crate::insn::Insn`].

use object::Endianness;

use super::calc::Resolution;
use super::error::ReloFailure;
use crate::insn::opcode::{
    BPF_ALU, BPF_ALU64, BPF_B, BPF_CALL, BPF_DW, BPF_H, BPF_JMP, BPF_LD, BPF_LDX, BPF_ST, BPF_STX,
    BPF_W, BPF_X,
};
use crate::insn::{Insn, Size};

pub use crate::insn::INSN_SIZE;

/// Byte order of the instructions (and of the kernel they are for).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// x86-64, arm64, riscv64, ... (`bpfel`).
    #[default]
    LittleEndian,
    /// s390x, ... (`bpfeb`): 16/32-bit fields big-endian, `dst_reg` in the high nibble.
    BigEndian,
}

impl From<ByteOrder> for Endianness {
    fn from(order: ByteOrder) -> Self {
        match order {
            ByteOrder::LittleEndian => Endianness::Little,
            ByteOrder::BigEndian => Endianness::Big,
        }
    }
}

/// The `imm` of the call libbpf substitutes for an unresolvable relocation: `0xbad2310`
/// ("bad relo"). The verifier reports `invalid func unknown#195896080` if it is reachable.
pub const POISON_CALL_IMM: i32 = 0x0bad_2310;

fn read(order: ByteOrder, insns: &[u8], idx: usize) -> Option<Insn> {
    let b = insns.get(idx.checked_mul(INSN_SIZE)?..)?;
    Insn::decode_slice(b, order.into())
}

fn write(order: ByteOrder, insns: &mut [u8], idx: usize, insn: Insn) {
    if let Some(b) = insns.get_mut(idx * INSN_SIZE..idx * INSN_SIZE + INSN_SIZE) {
        b.copy_from_slice(&insn.encode(order.into()));
    }
}

const POISON: Insn = Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, POISON_CALL_IMM);

/// `bpf_core_poison_insn`: the instruction becomes `call 0xbad2310`; for an `ld_imm64` its
/// second half too, so the verifier does not stop at "unknown opcode 00".
fn poison(order: ByteOrder, insns: &mut [u8], idx: usize, insn: Insn) -> Result<(), ReloFailure> {
    if insn.is_ld_imm64() {
        if read(order, insns, idx + 1).is_none() {
            return Err(ReloFailure::MalformedLdImm64);
        }
        write(order, insns, idx + 1, POISON);
    }
    write(order, insns, idx, POISON);
    Ok(())
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
    match insn.class() {
        BPF_ALU | BPF_ALU64 => {
            if insn.source() == BPF_X {
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
                let found = u32::from(Size::from_code(insn.code).bytes());
                if found != res.orig_size {
                    return Err(ReloFailure::UnexpectedMemSize {
                        found,
                        expected: res.orig_size,
                    });
                }
                let size = size_code(res.new_size)
                    .ok_or(ReloFailure::InvalidNewMemSize { size: res.new_size })?;
                insn.code = insn.mode() | size | insn.class();
                resized = Some((res.orig_size, res.new_size));
            }
            write(order, insns, idx, insn);
        }
        BPF_LD => {
            let second = read(order, insns, idx + 1);
            let well_formed = insn.is_ld_imm64()
                && insn.src_reg == 0
                && insn.off == 0
                && second
                    .is_some_and(|s| s.code == 0 && s.dst_reg == 0 && s.src_reg == 0 && s.off == 0);
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
