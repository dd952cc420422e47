//! The typed view of an instruction: what it does, decoded from its opcode fields.

use super::opcode::*;
use super::raw::Insn;

/// Register width of an ALU operation or jump comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32 bits (`BPF_ALU`, `BPF_JMP32`): registers print as `w0`..`w10`.
    W32,
    /// 64 bits (`BPF_ALU64`, `BPF_JMP`): registers print as `r0`..`r10`.
    W64,
}

/// Second operand of an ALU operation, jump comparison or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A register (`BPF_X`).
    Reg(u8),
    /// The immediate (`BPF_K`).
    Imm(i32),
}

/// ALU operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// Unsigned `/=`.
    Div,
    /// Signed `s/=` (cpu v4, `off == 1`).
    SDiv,
    /// `|=`
    Or,
    /// `&=`
    And,
    /// `<<=`
    Lsh,
    /// Logical `>>=`.
    Rsh,
    /// Unsigned `%=`.
    Mod,
    /// Signed `s%=` (cpu v4, `off == 1`).
    SMod,
    /// `^=`
    Xor,
    /// `=`
    Mov,
    /// Sign-extending move of the low 8, 16 or 32 bits (cpu v4 `movsx`, `off` = bits).
    MovSx(u8),
    /// Arithmetic `s>>=`.
    Arsh,
}

/// Byte-order conversion of `BPF_END`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// `BPF_ALU | BPF_END | BPF_TO_LE`: `leN`.
    ToLe,
    /// `BPF_ALU | BPF_END | BPF_TO_BE`: `beN`.
    ToBe,
    /// `BPF_ALU64 | BPF_END` (cpu v4): unconditional `bswapN`.
    Swap,
}

/// Comparison of a conditional jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JumpCond {
    /// `==`
    Eq,
    /// Unsigned `>`.
    Gt,
    /// Unsigned `>=`.
    Ge,
    /// `&`
    Set,
    /// `!=`
    Ne,
    /// Signed `s>`.
    Sgt,
    /// Signed `s>=`.
    Sge,
    /// Unsigned `<`.
    Lt,
    /// Unsigned `<=`.
    Le,
    /// Signed `s<`.
    Slt,
    /// Signed `s<=`.
    Sle,
}

/// What a call calls, from its `src_reg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTarget {
    /// A helper function by id (`BPF_FUNC_*`).
    Helper(i32),
    /// A BPF function at `index + 1 + offset` (`BPF_PSEUDO_CALL`).
    Local(i32),
    /// A kernel function by BTF id (`BPF_PSEUDO_KFUNC_CALL`); `off` selects the module BTF
    /// (an index into `fd_array`, 0 for vmlinux).
    Kfunc {
        /// BTF id of the function.
        btf_id: i32,
        /// Index of the module's BTF fd, 0 for vmlinux.
        btf_fd_index: i16,
    },
}

/// What the 64-bit immediate of an `ld_imm64` means, from its `src_reg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Imm64Kind {
    /// A plain constant (`src_reg == 0`).
    Const,
    /// `BPF_PSEUDO_MAP_FD`: a map file descriptor.
    MapFd,
    /// `BPF_PSEUDO_MAP_VALUE`: map fd plus value offset.
    MapValue,
    /// `BPF_PSEUDO_BTF_ID`: a kernel variable by BTF id.
    BtfId,
    /// `BPF_PSEUDO_FUNC`: address of a BPF function (pc-relative).
    Func,
    /// `BPF_PSEUDO_MAP_IDX`: map by `fd_array` index.
    MapIdx,
    /// `BPF_PSEUDO_MAP_IDX_VALUE`: map by `fd_array` index plus value offset.
    MapIdxValue,
    /// A `src_reg` the kernel does not define.
    Unknown(u8),
}

impl Imm64Kind {
    /// The kind named by an `ld_imm64`'s `src_reg`.
    pub const fn from_src_reg(src_reg: u8) -> Self {
        match src_reg {
            0 => Self::Const,
            BPF_PSEUDO_MAP_FD => Self::MapFd,
            BPF_PSEUDO_MAP_VALUE => Self::MapValue,
            BPF_PSEUDO_BTF_ID => Self::BtfId,
            BPF_PSEUDO_FUNC => Self::Func,
            BPF_PSEUDO_MAP_IDX => Self::MapIdx,
            BPF_PSEUDO_MAP_IDX_VALUE => Self::MapIdxValue,
            other => Self::Unknown(other),
        }
    }
}

/// Atomic read-modify-write or ordered access (`BPF_STX | BPF_ATOMIC`, selected by `imm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `add`, `and`, `or` or `xor` (the [`AluOp`]), returning the old value in `src_reg`
    /// when `fetch`.
    Rmw {
        /// One of [`AluOp::Add`], [`AluOp::And`], [`AluOp::Or`], [`AluOp::Xor`].
        op: AluOp,
        /// `BPF_FETCH`: the old value is written to `src_reg`.
        fetch: bool,
    },
    /// `BPF_XCHG`: swap memory and `src_reg`.
    Xchg,
    /// `BPF_CMPXCHG`: if memory equals `r0`, store `src_reg`; `r0` gets the old value.
    Cmpxchg,
    /// `BPF_LOAD_ACQ`: `dst_reg = load_acquire(src_reg + off)`.
    LoadAcquire,
    /// `BPF_STORE_REL`: `store_release(dst_reg + off, src_reg)`.
    StoreRelease,
}

/// Access size of a load or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 8 bits (`BPF_B`).
    B,
    /// 16 bits (`BPF_H`).
    H,
    /// 32 bits (`BPF_W`).
    W,
    /// 64 bits (`BPF_DW`).
    DW,
}

impl Size {
    /// The size named by an opcode's size bits.
    pub const fn from_code(code: u8) -> Self {
        match code & SIZE_MASK {
            BPF_B => Self::B,
            BPF_H => Self::H,
            BPF_W => Self::W,
            _ => Self::DW,
        }
    }

    /// Size in bytes.
    pub const fn bytes(self) -> u8 {
        match self {
            Self::B => 1,
            Self::H => 2,
            Self::W => 4,
            Self::DW => 8,
        }
    }
}

/// The typed view of a logical instruction (an `ld_imm64` is one instruction of two slots).
///
/// Every encoding the kernel accepts has a variant; anything else is [`Instruction::Unknown`]
/// (the raw [`Insn`] is still kept and round-trips).
///
/// ```
/// use bpfkit_obj::insn::{AluOp, Insn, Instruction, Operand, Width};
///
/// // r1 s/= 3 (cpu v4 signed division: BPF_ALU64 | BPF_DIV | BPF_K with off = 1)
/// let insn = Insn::new(0x37, 1, 0, 1, 3);
/// assert_eq!(
///     Instruction::decode(&insn, None),
///     Instruction::Alu { width: Width::W64, op: AluOp::SDiv, dst: 1, src: Operand::Imm(3) }
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Instruction {
    /// Arithmetic, logic and moves.
    Alu {
        /// 32- or 64-bit.
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination register.
        dst: u8,
        /// Second operand.
        src: Operand,
    },
    /// Negation `dst = -dst`.
    Neg {
        /// 32- or 64-bit.
        width: Width,
        /// Register negated in place.
        dst: u8,
    },
    /// Byte-order conversion or byte swap of the low `bits` (16, 32 or 64).
    Endian {
        /// Conversion kind.
        kind: Endian,
        /// Register converted in place.
        dst: u8,
        /// Width in bits (the `imm`).
        bits: i32,
    },
    /// Arena `addr_space_cast(src, dst_as, src_as)` (`BPF_ALU64 | BPF_MOV | BPF_X`, `off == 1`).
    AddrSpaceCast {
        /// Destination register.
        dst: u8,
        /// Source register.
        src: u8,
        /// Destination address space (high 16 bits of `imm`).
        dst_as: u16,
        /// Source address space (low 16 bits of `imm`).
        src_as: u16,
    },
    /// Kernel-internal move of a per-CPU address (`off == -1`), seen in xlated dumps.
    MovPercpuAddr {
        /// Destination register.
        dst: u8,
        /// Source register.
        src: u8,
    },
    /// Conditional jump to `index + 1 + off`.
    JumpIf {
        /// Comparison width (`BPF_JMP32` compares the low 32 bits).
        width: Width,
        /// The comparison.
        cond: JumpCond,
        /// Left-hand register.
        dst: u8,
        /// Right-hand operand.
        src: Operand,
        /// Slot-relative distance.
        off: i16,
    },
    /// `goto pc+off` (`BPF_JMP | BPF_JA`).
    Goto {
        /// Slot-relative distance.
        off: i16,
    },
    /// `gotol pc+imm` (cpu v4, `BPF_JMP32 | BPF_JA`).
    GotoLong {
        /// Slot-relative distance.
        imm: i32,
    },
    /// Indirect jump `gotox dst` (`BPF_JMP | BPF_JA | BPF_X`).
    GotoIndirect {
        /// Register holding the target.
        dst: u8,
    },
    /// `may_goto pc+off` (`BPF_JMP | BPF_JCOND`, `src_reg == BPF_MAY_GOTO`).
    MayGoto {
        /// Slot-relative distance.
        off: i16,
    },
    /// A call.
    Call(CallTarget),
    /// `exit`.
    Exit,
    /// `ld_imm64`: `dst = imm64`, two slots.
    LoadImm64 {
        /// Destination register.
        dst: u8,
        /// Meaning of the immediate.
        kind: Imm64Kind,
        /// The 64-bit immediate: first slot's `imm` low, second slot's `imm` high.
        imm: u64,
    },
    /// Legacy packet load `r0 = *(size *)skb[imm]` (`BPF_LD | BPF_ABS`).
    LoadAbs {
        /// Access size.
        size: Size,
        /// Packet offset.
        imm: i32,
    },
    /// Legacy packet load `r0 = *(size *)skb[src + imm]` (`BPF_LD | BPF_IND`).
    LoadInd {
        /// Access size.
        size: Size,
        /// Register with the base offset.
        src: u8,
        /// Added offset.
        imm: i32,
    },
    /// Memory load `dst = *(size *)(src + off)`, sign-extending for `BPF_MEMSX`.
    Load {
        /// Access size.
        size: Size,
        /// `BPF_MEMSX` (cpu v4).
        sign_extend: bool,
        /// Destination register.
        dst: u8,
        /// Base register.
        src: u8,
        /// Memory offset.
        off: i16,
    },
    /// Memory store `*(size *)(dst + off) = src` (register for `BPF_STX`, immediate for `BPF_ST`).
    Store {
        /// Access size.
        size: Size,
        /// Base register.
        dst: u8,
        /// Memory offset.
        off: i16,
        /// Stored value.
        src: Operand,
    },
    /// Atomic operation on `*(size *)(dst + off)` with register `src`.
    Atomic {
        /// Access size (32 or 64 bits for read-modify-write; any for acquire/release).
        size: Size,
        /// The operation.
        op: AtomicOp,
        /// Base register.
        dst: u8,
        /// Operand register.
        src: u8,
        /// Memory offset.
        off: i16,
    },
    /// Kernel-internal speculation barrier (`BPF_ST | BPF_NOSPEC`), seen in xlated dumps.
    Nospec,
    /// An encoding the kernel does not define.
    Unknown,
}

fn width(class: u8) -> Width {
    if class == BPF_ALU || class == BPF_JMP32 {
        Width::W32
    } else {
        Width::W64
    }
}

fn operand(insn: &Insn) -> Operand {
    if insn.source() == BPF_X {
        Operand::Reg(insn.src_reg)
    } else {
        Operand::Imm(insn.imm)
    }
}

impl Instruction {
    /// Decodes the typed view of `insn`; `second` is the following slot, needed (and only
    /// used) for `ld_imm64`, which is `Unknown` without it.
    pub fn decode(insn: &Insn, second: Option<&Insn>) -> Self {
        match insn.class() {
            BPF_ALU | BPF_ALU64 => decode_alu(insn),
            BPF_JMP | BPF_JMP32 => decode_jmp(insn),
            BPF_LD => decode_ld(insn, second),
            BPF_LDX => decode_ldx(insn),
            BPF_ST => decode_st(insn),
            _ => decode_stx(insn),
        }
    }

    /// Number of 8-byte slots this instruction occupies (2 for `ld_imm64`).
    pub const fn slots(&self) -> usize {
        match self {
            Self::LoadImm64 { .. } => 2,
            _ => 1,
        }
    }
}

fn decode_alu(insn: &Insn) -> Instruction {
    let class = insn.class();
    let w = width(class);
    let dst = insn.dst_reg;
    let src = operand(insn);
    let off = insn.off;
    let op = match insn.op() {
        BPF_ADD if off == 0 => AluOp::Add,
        BPF_SUB if off == 0 => AluOp::Sub,
        BPF_MUL if off == 0 => AluOp::Mul,
        BPF_DIV if off == 0 => AluOp::Div,
        BPF_DIV if off == 1 => AluOp::SDiv,
        BPF_OR if off == 0 => AluOp::Or,
        BPF_AND if off == 0 => AluOp::And,
        BPF_LSH if off == 0 => AluOp::Lsh,
        BPF_RSH if off == 0 => AluOp::Rsh,
        BPF_MOD if off == 0 => AluOp::Mod,
        BPF_MOD if off == 1 => AluOp::SMod,
        BPF_XOR if off == 0 => AluOp::Xor,
        BPF_ARSH if off == 0 => AluOp::Arsh,
        BPF_NEG if off == 0 && insn.source() == BPF_K => {
            return Instruction::Neg { width: w, dst };
        }
        BPF_END if off == 0 && matches!(insn.imm, 16 | 32 | 64) => {
            let kind = match (class, insn.source()) {
                (BPF_ALU64, BPF_TO_LE) => Endian::Swap,
                (BPF_ALU, BPF_TO_LE) => Endian::ToLe,
                (BPF_ALU, _) => Endian::ToBe,
                _ => return Instruction::Unknown,
            };
            return Instruction::Endian {
                kind,
                dst,
                bits: insn.imm,
            };
        }
        BPF_MOV if off == 0 => AluOp::Mov,
        BPF_MOV if insn.source() == BPF_X && matches!(off, 8 | 16) => AluOp::MovSx(off as u8),
        BPF_MOV if insn.source() == BPF_X && off == 32 && class == BPF_ALU64 => AluOp::MovSx(32),
        BPF_MOV if class == BPF_ALU64 && insn.source() == BPF_X && off == BPF_ADDR_SPACE_CAST => {
            let imm = insn.imm as u32;
            return Instruction::AddrSpaceCast {
                dst,
                src: insn.src_reg,
                dst_as: (imm >> 16) as u16,
                src_as: imm as u16,
            };
        }
        BPF_MOV if class == BPF_ALU64 && insn.source() == BPF_X && off == BPF_ADDR_PERCPU => {
            return Instruction::MovPercpuAddr {
                dst,
                src: insn.src_reg,
            };
        }
        _ => return Instruction::Unknown,
    };
    Instruction::Alu {
        width: w,
        op,
        dst,
        src,
    }
}

fn decode_jmp(insn: &Insn) -> Instruction {
    let class = insn.class();
    let cond = match insn.op() {
        BPF_JA => {
            return match (class, insn.source()) {
                (BPF_JMP, BPF_K) => Instruction::Goto { off: insn.off },
                (BPF_JMP, _) => Instruction::GotoIndirect { dst: insn.dst_reg },
                (_, BPF_K) => Instruction::GotoLong { imm: insn.imm },
                _ => Instruction::Unknown,
            };
        }
        BPF_CALL if class == BPF_JMP && insn.source() == BPF_K => {
            return Instruction::Call(match insn.src_reg {
                0 => CallTarget::Helper(insn.imm),
                BPF_PSEUDO_CALL => CallTarget::Local(insn.imm),
                BPF_PSEUDO_KFUNC_CALL => CallTarget::Kfunc {
                    btf_id: insn.imm,
                    btf_fd_index: insn.off,
                },
                _ => return Instruction::Unknown,
            });
        }
        BPF_EXIT if class == BPF_JMP && insn.source() == BPF_K => return Instruction::Exit,
        BPF_JCOND if class == BPF_JMP && insn.src_reg == BPF_MAY_GOTO => {
            return Instruction::MayGoto { off: insn.off };
        }
        BPF_JEQ => JumpCond::Eq,
        BPF_JGT => JumpCond::Gt,
        BPF_JGE => JumpCond::Ge,
        BPF_JSET => JumpCond::Set,
        BPF_JNE => JumpCond::Ne,
        BPF_JSGT => JumpCond::Sgt,
        BPF_JSGE => JumpCond::Sge,
        BPF_JLT => JumpCond::Lt,
        BPF_JLE => JumpCond::Le,
        BPF_JSLT => JumpCond::Slt,
        BPF_JSLE => JumpCond::Sle,
        _ => return Instruction::Unknown,
    };
    Instruction::JumpIf {
        width: width(class),
        cond,
        dst: insn.dst_reg,
        src: operand(insn),
        off: insn.off,
    }
}

fn decode_ld(insn: &Insn, second: Option<&Insn>) -> Instruction {
    let size = Size::from_code(insn.code);
    match insn.mode() {
        BPF_IMM if size == Size::DW => match second {
            Some(hi) => Instruction::LoadImm64 {
                dst: insn.dst_reg,
                kind: Imm64Kind::from_src_reg(insn.src_reg),
                imm: u64::from(insn.imm as u32) | (u64::from(hi.imm as u32) << 32),
            },
            None => Instruction::Unknown,
        },
        BPF_ABS if size != Size::DW => Instruction::LoadAbs {
            size,
            imm: insn.imm,
        },
        BPF_IND if size != Size::DW => Instruction::LoadInd {
            size,
            src: insn.src_reg,
            imm: insn.imm,
        },
        _ => Instruction::Unknown,
    }
}

fn decode_ldx(insn: &Insn) -> Instruction {
    let size = Size::from_code(insn.code);
    let sign_extend = match insn.mode() {
        BPF_MEM => false,
        BPF_MEMSX if size != Size::DW => true,
        _ => return Instruction::Unknown,
    };
    Instruction::Load {
        size,
        sign_extend,
        dst: insn.dst_reg,
        src: insn.src_reg,
        off: insn.off,
    }
}

fn decode_st(insn: &Insn) -> Instruction {
    match insn.mode() {
        BPF_MEM => Instruction::Store {
            size: Size::from_code(insn.code),
            dst: insn.dst_reg,
            off: insn.off,
            src: Operand::Imm(insn.imm),
        },
        BPF_NOSPEC => Instruction::Nospec,
        _ => Instruction::Unknown,
    }
}

fn decode_stx(insn: &Insn) -> Instruction {
    let size = Size::from_code(insn.code);
    match insn.mode() {
        BPF_MEM => Instruction::Store {
            size,
            dst: insn.dst_reg,
            off: insn.off,
            src: Operand::Reg(insn.src_reg),
        },
        BPF_ATOMIC => {
            let rmw_size = matches!(size, Size::W | Size::DW);
            let fetch = insn.imm & BPF_FETCH != 0;
            let op = match insn.imm {
                BPF_XCHG if rmw_size => AtomicOp::Xchg,
                BPF_CMPXCHG if rmw_size => AtomicOp::Cmpxchg,
                BPF_LOAD_ACQ => AtomicOp::LoadAcquire,
                BPF_STORE_REL => AtomicOp::StoreRelease,
                imm if rmw_size && (0..=0xff).contains(&imm) => {
                    let op = match (imm & !BPF_FETCH) as u8 {
                        BPF_ADD => AluOp::Add,
                        BPF_AND => AluOp::And,
                        BPF_OR => AluOp::Or,
                        BPF_XOR => AluOp::Xor,
                        _ => return Instruction::Unknown,
                    };
                    AtomicOp::Rmw { op, fetch }
                }
                _ => return Instruction::Unknown,
            };
            Instruction::Atomic {
                size,
                op,
                dst: insn.dst_reg,
                src: insn.src_reg,
                off: insn.off,
            }
        }
        _ => Instruction::Unknown,
    }
}
