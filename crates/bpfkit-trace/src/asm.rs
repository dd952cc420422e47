//! A small assembler over `bpfkit-obj`'s [`Insn`] encoder: named registers, forward labels
//! and map references patched with fds at load time.

use bpfkit_obj::insn::opcode::*;
use bpfkit_obj::insn::Insn;

/// A BPF register number.
pub type Reg = u8;

/// Frame pointer.
pub const FP: Reg = 10;

/// `(slot, map index)` of each `ld_imm64` map reference.
pub type MapRefs = Vec<(usize, u32)>;

/// A jump target, placed with [`Asm::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// Instructions under construction.
#[derive(Debug, Default)]
pub struct Asm {
    /// The slots emitted so far.
    pub insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
    /// `ld_imm64` function addresses (`BPF_PSEUDO_FUNC`) whose `imm` is the label's
    /// distance.
    func_fixups: Vec<(usize, Label)>,
    /// Slots of `ld_imm64` map references and the map index each names.
    pub map_refs: Vec<(usize, u32)>,
    /// `(first slot, source span)` of each statement, to map verifier errors back.
    pub spans: Vec<(usize, crate::diag::Span)>,
}

/// Memory access sizes.
pub fn size_code(bytes: u8) -> u8 {
    match bytes {
        1 => BPF_B,
        2 => BPF_H,
        4 => BPF_W,
        _ => BPF_DW,
    }
}

impl Asm {
    /// A new label, not yet placed.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Notes that the next instruction starts the code of `span`.
    pub fn mark(&mut self, span: crate::diag::Span) {
        self.spans.push((self.insns.len(), span));
    }

    /// Places `l` at the next instruction.
    pub fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.insns.len());
    }

    fn push(&mut self, i: Insn) {
        self.insns.push(i);
    }

    /// `dst = imm` (64-bit, sign-extended 32-bit immediate).
    pub fn mov_imm(&mut self, dst: Reg, imm: i32) {
        self.push(Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm));
    }

    /// `dst = src`.
    pub fn mov(&mut self, dst: Reg, src: Reg) {
        self.push(Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0));
    }

    /// `wdst = wsrc`: keeps the low 32 bits, zero-extended.
    pub fn mov32(&mut self, dst: Reg, src: Reg) {
        self.push(Insn::new(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0));
    }

    /// `dst = imm64`.
    pub fn ld_imm64(&mut self, dst: Reg, imm: u64) {
        self.push(Insn::new(
            BPF_LD | BPF_IMM | BPF_DW,
            dst,
            0,
            0,
            imm as u32 as i32,
        ));
        self.push(Insn::new(0, 0, 0, 0, (imm >> 32) as u32 as i32));
    }

    /// `dst = map` (an fd reference patched at load).
    pub fn ld_map(&mut self, dst: Reg, map: u32) {
        self.map_refs.push((self.insns.len(), map));
        self.push(Insn::new(
            BPF_LD | BPF_IMM | BPF_DW,
            dst,
            BPF_PSEUDO_MAP_FD,
            0,
            map as i32,
        ));
        self.push(Insn::new(0, 0, 0, 0, 0));
    }

    /// `dst = &function` at `l` (`BPF_PSEUDO_FUNC`, a callback for helpers such as
    /// `bpf_for_each_map_elem`).
    pub fn ld_func(&mut self, dst: Reg, l: Label) {
        self.func_fixups.push((self.insns.len(), l));
        self.push(Insn::new(
            BPF_LD | BPF_IMM | BPF_DW,
            dst,
            BPF_PSEUDO_FUNC,
            0,
            0,
        ));
        self.push(Insn::new(0, 0, 0, 0, 0));
    }

    /// Whether a jump to `l` was emitted.
    pub fn is_jumped_to(&self, l: Label) -> bool {
        self.fixups.iter().any(|&(_, x)| x == l)
    }

    /// 64-bit ALU with a register operand (`op` is `BPF_ADD`, ...; `off` 1 makes
    /// `BPF_DIV`/`BPF_MOD` signed).
    pub fn alu(&mut self, op: u8, dst: Reg, src: Reg, off: i16) {
        self.push(Insn::new(BPF_ALU64 | op | BPF_X, dst, src, off, 0));
    }

    /// 64-bit ALU with an immediate.
    pub fn alu_imm(&mut self, op: u8, dst: Reg, imm: i32) {
        self.push(Insn::new(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm));
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, bytes: u8, dst: Reg, src: Reg, off: i16) {
        self.push(Insn::new(
            BPF_LDX | BPF_MEM | size_code(bytes),
            dst,
            src,
            off,
            0,
        ));
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store(&mut self, bytes: u8, dst: Reg, off: i16, src: Reg) {
        self.push(Insn::new(
            BPF_STX | BPF_MEM | size_code(bytes),
            dst,
            src,
            off,
            0,
        ));
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn store_imm(&mut self, bytes: u8, dst: Reg, off: i16, imm: i32) {
        self.push(Insn::new(
            BPF_ST | BPF_MEM | size_code(bytes),
            dst,
            0,
            off,
            imm,
        ));
    }

    /// Zeroes `len` bytes (rounded up to a multiple of 8) from `dst + off`, 8 at a time.
    pub fn zero(&mut self, dst: Reg, off: i16, len: i16) {
        for i in (0..len).step_by(8) {
            self.store_imm(8, dst, off + i, 0);
        }
    }

    /// `lock *(u64 *)(dst + off) += src`.
    pub fn atomic_add(&mut self, dst: Reg, off: i16, src: Reg) {
        self.push(Insn::new(
            BPF_STX | BPF_ATOMIC | BPF_DW,
            dst,
            src,
            off,
            BPF_ADD as i32,
        ));
    }

    /// `if dst op src goto l`.
    pub fn jmp(&mut self, op: u8, dst: Reg, src: Reg, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.push(Insn::new(BPF_JMP | op | BPF_X, dst, src, 0, 0));
    }

    /// `if dst op imm goto l`.
    pub fn jmp_imm(&mut self, op: u8, dst: Reg, imm: i32, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.push(Insn::new(BPF_JMP | op | BPF_K, dst, 0, 0, imm));
    }

    /// `goto l`.
    pub fn ja(&mut self, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.push(Insn::new(BPF_JMP | BPF_JA, 0, 0, 0, 0));
    }

    /// Byte swap of the low `bits` (16, 32 or 64) of `dst`, zero-extending a 16/32-bit result
    /// (`BPF_ALU | BPF_END` towards the byte order the host does not use).
    pub fn bswap(&mut self, dst: Reg, bits: i32) {
        let order = if cfg!(target_endian = "little") {
            BPF_TO_BE
        } else {
            BPF_TO_LE
        };
        self.push(Insn::new(BPF_ALU | BPF_END | order, dst, 0, 0, bits));
    }

    /// `call helper`.
    pub fn call(&mut self, helper: i32) {
        self.push(Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, helper));
    }

    /// `exit`.
    pub fn exit(&mut self) {
        self.push(Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    }

    /// Resolves jumps; an error names a jump out of range or a label never placed.
    pub fn finish(mut self) -> Result<(Vec<Insn>, MapRefs), String> {
        for &(at, l) in &self.fixups {
            let target = self.labels[l.0].ok_or("internal error: jump to an unplaced label")?;
            let delta = target as i64 - at as i64 - 1;
            self.insns[at].off = i16::try_from(delta)
                .map_err(|_| "program too large: a jump spans more than 32767 instructions")?;
        }
        for &(at, l) in &self.func_fixups {
            let target = self.labels[l.0].ok_or("internal error: call to an unplaced label")?;
            self.insns[at].imm = i32::try_from(target as i64 - at as i64 - 1)
                .map_err(|_| "program too large: a function address is out of range")?;
        }
        Ok((self.insns, self.map_refs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfkit_obj::insn::{disassemble, NoSymbols};

    #[test]
    fn labels_resolve_forward_and_backward() {
        let mut a = Asm::default();
        let top = a.label();
        let end = a.label();
        a.bind(top);
        a.jmp_imm(BPF_JEQ, 1, 0, end);
        a.ja(top);
        a.bind(end);
        a.mov_imm(0, 0);
        a.exit();
        let (insns, _) = a.finish().unwrap();
        assert_eq!(
            disassemble(&insns, &NoSymbols).unwrap(),
            "   0: (15) if r1 == 0x0 goto pc+1\n   1: (05) goto pc-2\n   2: (b7) r0 = 0\n   3: (95) exit\n"
        );
    }
}
