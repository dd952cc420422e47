//! The 8-byte `struct bpf_insn`: fields, byte-order aware decoding and encoding, and the
//! predicates relocation code needs.

use object::Endianness;

use super::opcode::*;

/// Size in bytes of one instruction slot.
pub const INSN_SIZE: usize = 8;

/// One instruction slot, `struct bpf_insn`: `code`, two 4-bit registers, a signed 16-bit
/// offset and a signed 32-bit immediate.
///
/// Every bit pattern is representable: decoding never fails and encoding gives back the
/// same bytes, so unknown opcodes survive a round trip untouched (their typed view, see
/// [`super::Instruction`], is `Unknown`). `ld_imm64` occupies two slots; the
/// [`super::Insns`] iterator pairs them.
///
/// ```
/// use bpfkit_obj::insn::Insn;
/// use object::Endianness;
///
/// // r6 = r1
/// let insn = Insn::decode([0xbf, 0x16, 0, 0, 0, 0, 0, 0], Endianness::Little);
/// assert_eq!((insn.code, insn.dst_reg, insn.src_reg), (0xbf, 6, 1));
/// assert_eq!(insn.encode(Endianness::Big), [0xbf, 0x61, 0, 0, 0, 0, 0, 0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Opcode: class plus size/mode or op/source bits.
    pub code: u8,
    /// Destination register, 0..=15 (only 0..=10 are valid registers).
    pub dst_reg: u8,
    /// Source register, 0..=15; also the pseudo kind of calls and `ld_imm64`.
    pub src_reg: u8,
    /// Signed offset: jump distance, memory offset, or an opcode modifier on cpu v4.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// An instruction from its fields; registers are truncated to 4 bits.
    pub const fn new(code: u8, dst_reg: u8, src_reg: u8, off: i16, imm: i32) -> Self {
        Self {
            code,
            dst_reg: dst_reg & 0x0f,
            src_reg: src_reg & 0x0f,
            off,
            imm,
        }
    }

    /// Decodes one slot. On little-endian objects `dst_reg` is the low nibble of byte 1;
    /// big-endian objects swap the nibbles (the C bitfield order) and the byte order of
    /// `off` and `imm`.
    pub fn decode(bytes: [u8; INSN_SIZE], endian: Endianness) -> Self {
        let regs = bytes[1];
        let (off, imm) = (
            [bytes[2], bytes[3]],
            [bytes[4], bytes[5], bytes[6], bytes[7]],
        );
        match endian {
            Endianness::Little => Self {
                code: bytes[0],
                dst_reg: regs & 0x0f,
                src_reg: regs >> 4,
                off: i16::from_le_bytes(off),
                imm: i32::from_le_bytes(imm),
            },
            Endianness::Big => Self {
                code: bytes[0],
                dst_reg: regs >> 4,
                src_reg: regs & 0x0f,
                off: i16::from_be_bytes(off),
                imm: i32::from_be_bytes(imm),
            },
        }
    }

    /// Decodes the slot at the start of `bytes`, or `None` when fewer than 8 bytes remain.
    pub fn decode_slice(bytes: &[u8], endian: Endianness) -> Option<Self> {
        let slot: [u8; INSN_SIZE] = bytes.get(..INSN_SIZE)?.try_into().ok()?;
        Some(Self::decode(slot, endian))
    }

    /// Encodes the slot in the given byte order; the inverse of [`Insn::decode`].
    pub fn encode(&self, endian: Endianness) -> [u8; INSN_SIZE] {
        let (regs, off, imm) = match endian {
            Endianness::Little => (
                (self.src_reg << 4) | (self.dst_reg & 0x0f),
                self.off.to_le_bytes(),
                self.imm.to_le_bytes(),
            ),
            Endianness::Big => (
                (self.dst_reg << 4) | (self.src_reg & 0x0f),
                self.off.to_be_bytes(),
                self.imm.to_be_bytes(),
            ),
        };
        [
            self.code, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }

    /// Decodes one slot in the host's byte order: the layout bpf(2) takes in
    /// `BPF_PROG_LOAD` and returns as translated instructions.
    ///
    /// ```
    /// use bpfkit_obj::insn::Insn;
    ///
    /// let exit = Insn::from_bytes(0x95_u64.to_ne_bytes());
    /// assert!(exit.is_exit());
    /// ```
    pub fn from_bytes(bytes: [u8; INSN_SIZE]) -> Self {
        Self::decode(bytes, Endianness::default())
    }

    /// Encodes the slot in the host's byte order; the inverse of [`Insn::from_bytes`].
    pub fn to_bytes(&self) -> [u8; INSN_SIZE] {
        self.encode(Endianness::default())
    }

    /// The class bits (`BPF_CLASS`), e.g. [`BPF_ALU64`].
    pub const fn class(&self) -> u8 {
        self.code & CLASS_MASK
    }

    /// The operation bits of ALU and jump instructions (`BPF_OP`).
    pub const fn op(&self) -> u8 {
        self.code & OP_MASK
    }

    /// The source bit of ALU and jump instructions: [`BPF_K`] or [`BPF_X`].
    pub const fn source(&self) -> u8 {
        self.code & SRC_MASK
    }

    /// The size bits of loads and stores (`BPF_SIZE`).
    pub const fn size(&self) -> u8 {
        self.code & SIZE_MASK
    }

    /// The mode bits of loads and stores (`BPF_MODE`).
    pub const fn mode(&self) -> u8 {
        self.code & MODE_MASK
    }

    /// Whether this is the first slot of a 16-byte `ld_imm64` (`BPF_LD | BPF_IMM | BPF_DW`).
    pub const fn is_ld_imm64(&self) -> bool {
        self.code == BPF_LD | BPF_IMM | BPF_DW
    }

    /// Whether this is a call of any kind (`BPF_JMP | BPF_CALL`).
    pub const fn is_call(&self) -> bool {
        self.code == BPF_JMP | BPF_CALL
    }

    /// Whether this is a call of a helper function (`src_reg == 0`, `imm` = helper id).
    pub const fn is_helper_call(&self) -> bool {
        self.is_call() && self.src_reg == 0
    }

    /// Whether this is a BPF-to-BPF call (`src_reg == BPF_PSEUDO_CALL`, `imm` = pc-relative).
    pub const fn is_pseudo_call(&self) -> bool {
        self.is_call() && self.src_reg == BPF_PSEUDO_CALL
    }

    /// Whether this is a kfunc call (`src_reg == BPF_PSEUDO_KFUNC_CALL`, `imm` = BTF id).
    pub const fn is_kfunc_call(&self) -> bool {
        self.is_call() && self.src_reg == BPF_PSEUDO_KFUNC_CALL
    }

    /// Whether this `ld_imm64` loads the address of a function (`BPF_PSEUDO_FUNC`), as
    /// callbacks do.
    pub const fn is_pseudo_func(&self) -> bool {
        self.is_ld_imm64() && self.src_reg == BPF_PSEUDO_FUNC
    }

    /// Whether this is the program's or a subprogram's `exit`.
    pub const fn is_exit(&self) -> bool {
        self.code == BPF_JMP | BPF_EXIT
    }

    /// The slot-relative jump distance of a branch, or `None` when this is not a jump:
    /// `off` for `goto`, conditional jumps and `may_goto`, `imm` for `gotol`.
    /// The target slot is `index + 1 + distance`.
    pub fn jump_offset(&self) -> Option<i32> {
        let class = self.class();
        if class != BPF_JMP && class != BPF_JMP32 {
            return None;
        }
        match self.op() {
            BPF_CALL | BPF_EXIT => None,
            BPF_JA if class == BPF_JMP32 => Some(self.imm),
            BPF_JA if self.source() == BPF_X => None,
            _ => Some(i32::from(self.off)),
        }
    }

    /// Replaces `imm` (a relocation's usual target).
    pub fn set_imm(&mut self, imm: i32) {
        self.imm = imm;
    }

    /// Replaces `off`.
    pub fn set_off(&mut self, off: i16) {
        self.off = off;
    }

    /// Replaces `src_reg` (e.g. the pseudo kind of an `ld_imm64`), truncated to 4 bits.
    pub fn set_src_reg(&mut self, src_reg: u8) {
        self.src_reg = src_reg & 0x0f;
    }

    /// Replaces `dst_reg`, truncated to 4 bits.
    pub fn set_dst_reg(&mut self, dst_reg: u8) {
        self.dst_reg = dst_reg & 0x0f;
    }
}
