//! Disassembler printing instructions exactly as the kernel verifier log and `bpftool prog
//! dump xlated` do, with a hook to name call targets and 64-bit immediates.

use std::fmt::{self, Write as _};

use super::helper_names::HELPER_NAMES;
use super::iter::{logical_insns, InsnError, LogicalInsn};
use super::kind::{
    AluOp, AtomicOp, CallTarget, Endian, Instruction, JumpCond, Operand, Size, Width,
};
use super::opcode::{BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL};
use super::raw::Insn;

/// Names what the instruction text alone cannot: call targets and `ld_imm64` values.
///
/// Mirrors the kernel disassembler's callbacks. Returning `None` keeps the default text:
/// the helper name for helper ids the kernel knows, `pc+N` for BPF-to-BPF calls,
/// `kernel-function` for kfuncs, `unknown` otherwise, and `0x…` for immediates.
pub trait Symbolizer {
    /// Name of the target of `call`, consulted for every call except helper calls whose
    /// id has a kernel name. For a BPF-to-BPF call (`src_reg == 1`) the text follows
    /// `call pc`, so it should start with the signed offset (`+5`).
    fn call_name(&self, call: &Insn) -> Option<String> {
        let _ = call;
        None
    }

    /// Text for the value of an `ld_imm64` (e.g. `map[id:5]`); `first` and `second` are
    /// its slots, `imm` the combined 64-bit immediate.
    fn imm64_name(&self, first: &Insn, second: &Insn, imm: u64) -> Option<String> {
        let _ = (first, second, imm);
        None
    }
}

/// The symbolizer that names nothing beyond the kernel's helper table.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSymbols;

impl Symbolizer for NoSymbols {}

/// The kernel name of helper `id` (`bpf_map_lookup_elem` for 1), if the kernel defines it.
pub fn helper_name(id: i32) -> Option<&'static str> {
    usize::try_from(id)
        .ok()
        .and_then(|id| HELPER_NAMES.get(id))
        .copied()
}

/// Text of one logical instruction as the verifier prints it, without the index:
/// `(bf) r6 = r1`, `(85) call bpf_get_current_pid_tgid#14`, `(18) r1 = 0x5`.
///
/// ```
/// use bpfkit_obj::insn::{disassemble_insn, Insn, LogicalInsn, NoSymbols};
///
/// let load = Insn::new(0x79, 1, 1, 8, 0); // BPF_LDX | BPF_MEM | BPF_DW
/// assert_eq!(disassemble_insn(&LogicalInsn::Single(load), &NoSymbols), "(79) r1 = *(u64 *)(r1 +8)");
/// ```
pub fn disassemble_insn(insn: &LogicalInsn, symbolizer: &dyn Symbolizer) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_insn(&mut out, insn, symbolizer);
    out
}

/// A whole program in `bpftool prog dump xlated` layout: one line per logical
/// instruction, `"{index:>4}: {text}\n"`, the index counting slots.
pub fn disassemble(slots: &[Insn], symbolizer: &dyn Symbolizer) -> Result<String, InsnError> {
    let mut out = String::new();
    for item in logical_insns(slots) {
        let (index, insn) = item?;
        let _ = write!(out, "{index:>4}: ");
        let _ = write_insn(&mut out, &insn, symbolizer);
        out.push('\n');
    }
    Ok(out)
}

impl fmt::Display for LogicalInsn {
    /// The verifier's text with no symbolizer (see [`disassemble_insn`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_insn(f, self, &NoSymbols)
    }
}

fn reg_prefix(width: Width) -> char {
    match width {
        Width::W32 => 'w',
        Width::W64 => 'r',
    }
}

fn size_name(size: Size) -> &'static str {
    match size {
        Size::B => "u8",
        Size::H => "u16",
        Size::W => "u32",
        Size::DW => "u64",
    }
}

fn signed_size_name(size: Size) -> &'static str {
    match size {
        Size::B => "s8",
        Size::H => "s16",
        Size::W => "s32",
        Size::DW => "s64",
    }
}

fn alu_symbol(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::SDiv => "s/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod => "%=",
        AluOp::SMod => "s%=",
        AluOp::Xor => "^=",
        AluOp::Mov | AluOp::MovSx(_) => "=",
        AluOp::Arsh => "s>>=",
    }
}

fn atomic_name(op: AluOp) -> &'static str {
    match op {
        AluOp::And => "and",
        AluOp::Or => "or",
        AluOp::Xor => "xor",
        _ => "add",
    }
}

fn jump_symbol(cond: JumpCond) -> &'static str {
    match cond {
        JumpCond::Eq => "==",
        JumpCond::Gt => ">",
        JumpCond::Ge => ">=",
        JumpCond::Set => "&",
        JumpCond::Ne => "!=",
        JumpCond::Sgt => "s>",
        JumpCond::Sge => "s>=",
        JumpCond::Lt => "<",
        JumpCond::Le => "<=",
        JumpCond::Slt => "s<",
        JumpCond::Sle => "s<=",
    }
}

fn class_name(code: u8) -> &'static str {
    ["ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64"][usize::from(code & 7)]
}

fn call_text(insn: &Insn, symbolizer: &dyn Symbolizer) -> String {
    if insn.src_reg == 0 {
        if let Some(name) = helper_name(insn.imm) {
            return name.to_string();
        }
    }
    if let Some(name) = symbolizer.call_name(insn) {
        return name;
    }
    match insn.src_reg {
        BPF_PSEUDO_CALL => format!("{:+}", insn.imm),
        BPF_PSEUDO_KFUNC_CALL => "kernel-function".to_string(),
        _ => "unknown".to_string(),
    }
}

fn write_insn(
    out: &mut dyn fmt::Write,
    logical: &LogicalInsn,
    symbolizer: &dyn Symbolizer,
) -> fmt::Result {
    let insn = logical.first();
    let code = insn.code;
    write!(out, "({code:02x}) ")?;
    match logical.instruction() {
        Instruction::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let r = reg_prefix(width);
            let symbol = alu_symbol(op);
            match (src, op) {
                (Operand::Reg(src), AluOp::MovSx(bits)) => {
                    write!(out, "{r}{dst} {symbol} (s{bits}){r}{src}")
                }
                (Operand::Reg(src), _) => write!(out, "{r}{dst} {symbol} {r}{src}"),
                (Operand::Imm(imm), _) => write!(out, "{r}{dst} {symbol} {imm}"),
            }
        }
        Instruction::Neg { width, dst } => {
            let r = reg_prefix(width);
            write!(out, "{r}{dst} = -{r}{dst}")
        }
        Instruction::Endian { kind, dst, bits } => {
            let name = match kind {
                Endian::ToLe => "le",
                Endian::ToBe => "be",
                Endian::Swap => "bswap",
            };
            write!(out, "r{dst} = {name}{bits} r{dst}")
        }
        Instruction::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => write!(out, "r{dst} = addr_space_cast(r{src}, {dst_as}, {src_as})"),
        Instruction::MovPercpuAddr { dst, src } => {
            write!(out, "r{dst} = &(void __percpu *)(r{src})")
        }
        Instruction::JumpIf {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let r = reg_prefix(width);
            let symbol = jump_symbol(cond);
            match src {
                Operand::Reg(src) => write!(out, "if {r}{dst} {symbol} {r}{src} goto pc{off:+}"),
                Operand::Imm(imm) => {
                    write!(out, "if {r}{dst} {symbol} {:#x} goto pc{off:+}", imm as u32)
                }
            }
        }
        Instruction::Goto { off } => write!(out, "goto pc{off:+}"),
        Instruction::GotoLong { imm } => write!(out, "gotol pc{imm:+}"),
        Instruction::GotoIndirect { dst } => write!(out, "gotox r{dst}"),
        Instruction::MayGoto { off } => write!(out, "may_goto pc{off:+}"),
        Instruction::Call(target) => {
            let name = call_text(insn, symbolizer);
            match target {
                CallTarget::Local(_) => write!(out, "call pc{name}"),
                CallTarget::Helper(imm) | CallTarget::Kfunc { btf_id: imm, .. } => {
                    write!(out, "call {name}#{imm}")
                }
            }
        }
        Instruction::Exit => write!(out, "exit"),
        Instruction::LoadImm64 { dst, imm, .. } => {
            let second = logical.second().copied().unwrap_or_default();
            match symbolizer.imm64_name(insn, &second, imm) {
                Some(text) => write!(out, "r{dst} = {text}"),
                None => write!(out, "r{dst} = {imm:#x}"),
            }
        }
        Instruction::LoadAbs { size, imm } => {
            write!(out, "r0 = *({} *)skb[{imm}]", size_name(size))
        }
        Instruction::LoadInd { size, src, imm } => {
            write!(out, "r0 = *({} *)skb[r{src} + {imm}]", size_name(size))
        }
        Instruction::Load {
            size,
            sign_extend,
            dst,
            src,
            off,
        } => {
            let ty = if sign_extend {
                signed_size_name(size)
            } else {
                size_name(size)
            };
            write!(out, "r{dst} = *({ty} *)(r{src} {off:+})")
        }
        Instruction::Store {
            size,
            dst,
            off,
            src,
        } => {
            let ty = size_name(size);
            match src {
                Operand::Reg(src) => write!(out, "*({ty} *)(r{dst} {off:+}) = r{src}"),
                Operand::Imm(imm) => write!(out, "*({ty} *)(r{dst} {off:+}) = {imm}"),
            }
        }
        Instruction::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let ty = size_name(size);
            let bits = if size == Size::DW { "64" } else { "" };
            match op {
                AtomicOp::Rmw { op, fetch: false } => write!(
                    out,
                    "lock *({ty} *)(r{dst} {off:+}) {} r{src}",
                    alu_symbol(op)
                ),
                AtomicOp::Rmw { op, fetch: true } => write!(
                    out,
                    "r{src} = atomic{bits}_fetch_{}(({ty} *)(r{dst} {off:+}), r{src})",
                    atomic_name(op)
                ),
                AtomicOp::Xchg => write!(
                    out,
                    "r{src} = atomic{bits}_xchg(({ty} *)(r{dst} {off:+}), r{src})"
                ),
                AtomicOp::Cmpxchg => write!(
                    out,
                    "r0 = atomic{bits}_cmpxchg(({ty} *)(r{dst} {off:+}), r0, r{src})"
                ),
                AtomicOp::LoadAcquire => {
                    write!(out, "r{dst} = load_acquire(({ty} *)(r{src} {off:+}))")
                }
                AtomicOp::StoreRelease => {
                    write!(out, "store_release(({ty} *)(r{dst} {off:+}), r{src})")
                }
            }
        }
        Instruction::Nospec => write!(out, "nospec"),
        Instruction::Unknown => write!(out, "BUG_{}_{code:02x}", class_name(code)),
    }
}
