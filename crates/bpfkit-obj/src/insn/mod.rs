//! BPF instructions: decoding, encoding and a disassembler matching the verifier log.
//!
//! - [`Insn`] is one 8-byte slot (`struct bpf_insn`), decoded from and encoded to either
//!   byte order without loss, whatever the opcode.
//! - [`Instruction`] is the typed view (what the slot does); unknown encodings are
//!   [`Instruction::Unknown`].
//! - [`Insns`] walks program bytes as logical instructions, an `ld_imm64` being one
//!   instruction of two slots; [`decode_slots`]/[`encode_slots`] convert whole programs.
//! - [`disassemble`] prints the kernel's text (`(bf) r6 = r1`), naming helpers from the
//!   kernel's table and anything else through a [`Symbolizer`].
//! - [`opcode`] holds the field values under their kernel names.

mod disasm;
mod helper_names;
mod iter;
mod kind;
pub mod opcode;
mod raw;

pub use disasm::{disassemble, disassemble_insn, helper_name, NoSymbols, Symbolizer};
pub use helper_names::HELPER_NAMES;
pub use iter::{
    decode_slots, encode_slots, logical_insns, InsnError, Insns, LogicalInsn, LogicalInsns,
};
pub use kind::{
    AluOp, AtomicOp, CallTarget, Endian, Imm64Kind, Instruction, JumpCond, Operand, Size, Width,
};
pub use raw::{Insn, INSN_SIZE};
