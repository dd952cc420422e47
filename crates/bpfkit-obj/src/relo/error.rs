//! Errors of the CO-RE engine: which relocation failed (section, insn, type, access) and why.

use super::types::{Kind, TypeId};
use crate::btf::CoreReloKind;

/// A CO-RE relocation that could not be resolved or applied. Names the section, the
/// relocation's index in it, the instruction, the local type and the access string.
#[derive(Debug, thiserror::Error)]
#[error(
    "section '{section}': CO-RE relo #{relo_index} <{kind}> at insn #{insn_index} \
     for [{type_id}] {type_name:?} access \"{access}\": {reason}"
)]
pub struct CoreError {
    /// The ELF section (or program) the instructions belong to.
    pub section: Box<str>,
    /// Index of the relocation among the section's CO-RE relocations.
    pub relo_index: usize,
    /// Instruction index (`insn_off / 8`).
    pub insn_index: usize,
    /// Relocation kind.
    pub kind: CoreReloKind,
    /// Local root type id.
    pub type_id: TypeId,
    /// Local root type name (empty when anonymous or missing).
    pub type_name: Box<str>,
    /// Access string, e.g. `0:1:2`.
    pub access: Box<str>,
    /// What went wrong.
    #[source]
    pub reason: ReloFailure,
}

fn outcome(v: &Option<u64>) -> String {
    v.map_or_else(|| "failure".to_string(), |v| format!("success {v}"))
}

/// Why a CO-RE relocation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReloFailure {
    /// The relocation kind does not apply to this computation (an engine invariant).
    #[error("relocation kind {kind} does not apply here")]
    UnsupportedKind {
        /// Kind.
        kind: CoreReloKind,
    },
    /// `insn_off` is not a multiple of 8.
    #[error("instruction offset {insn_off} is not a multiple of 8")]
    MisalignedInsnOffset {
        /// Byte offset from the relocation record.
        insn_off: u32,
    },
    /// The instruction is outside the section.
    #[error("instruction #{insn_index} is outside the {insn_count} instructions")]
    InsnOutOfRange {
        /// Instruction index.
        insn_index: usize,
        /// Number of instructions.
        insn_count: usize,
    },
    /// A type id does not exist or cannot be decoded.
    #[error("{which} BTF has no valid type [{type_id}]")]
    InvalidTypeId {
        /// `local` or `target`.
        which: &'static str,
        /// Type id.
        type_id: TypeId,
    },
    /// The access string is malformed.
    #[error("malformed access string: {detail}")]
    InvalidAccessString {
        /// What is wrong with it.
        detail: &'static str,
    },
    /// The access string has more than 64 elements.
    #[error("access string has more than {max} elements")]
    AccessTooLong {
        /// Limit (libbpf's `BPF_CORE_SPEC_MAX_LEN`).
        max: usize,
    },
    /// A member, array or enumerator index is out of range.
    #[error("access element #{position} index {index} is out of range (limit {limit})")]
    AccessOutOfRange {
        /// Position in the access string.
        position: usize,
        /// The index.
        index: u32,
        /// Number of members/elements/enumerators.
        limit: u64,
    },
    /// The access string steps into a type that is neither struct, union nor array.
    #[error("access element #{position} steps into [{type_id}] of kind {kind}")]
    UnexpectedAccessKind {
        /// Position in the access string.
        position: usize,
        /// Type reached.
        type_id: TypeId,
        /// Its kind.
        kind: Kind,
    },
    /// An enumerator relocation's type is not an enum.
    #[error("type [{type_id}] of kind {kind} is not an enum")]
    NotAnEnum {
        /// Type id.
        type_id: TypeId,
        /// Its kind.
        kind: Kind,
    },
    /// A type has no size (void, fwd, func) or its size does not fit 32 bits.
    #[error("{which} type [{type_id}] has no valid size")]
    InvalidSize {
        /// `local` or `target`.
        which: &'static str,
        /// Type id.
        type_id: TypeId,
    },
    /// A bit offset grew past 32 bits.
    #[error("field bit offset overflows")]
    OffsetOverflow,
    /// libbpf resolves no candidates for anonymous types.
    #[error("relocation of an anonymous type is not supported")]
    AnonymousType,
    /// The relocation kind cannot apply to an array element access.
    #[error("relocation kind {kind} can't be applied to an array element access")]
    ArrayAccessKind {
        /// Kind.
        kind: CoreReloKind,
    },
    /// A bitfield spans more than a 64-bit load.
    #[error(
        "bitfield at bit offset {bit_offset} size {bit_size} can't be read with a 64-bit load"
    )]
    BitfieldTooWide {
        /// Bit offset of the field.
        bit_offset: u32,
        /// Bit size of the field.
        bit_size: u32,
    },
    /// Two candidates put the field at different offsets.
    #[error("field offset ambiguity: candidate [{first_id}] gives bit offset {first}, candidate [{other_id}] gives {other}")]
    FieldOffsetAmbiguity {
        /// First matching candidate.
        first_id: TypeId,
        /// Its bit offset.
        first: u32,
        /// Conflicting candidate.
        other_id: TypeId,
        /// Its bit offset.
        other: u32,
    },
    /// Two candidates give different values, or one poisons and the other does not.
    #[error(
        "relocation decision ambiguity: candidate [{first_id}] gives {}, candidate [{other_id}] gives {}",
        outcome(first), outcome(other)
    )]
    DecisionAmbiguity {
        /// First matching candidate.
        first_id: TypeId,
        /// Its value, `None` when it poisons.
        first: Option<u64>,
        /// Conflicting candidate.
        other_id: TypeId,
        /// Its value, `None` when it poisons.
        other: Option<u64>,
    },
    /// The instruction does not hold the value the local BTF predicts.
    #[error("unexpected {class} value in insn: got {found}, expected {expected} (-> {new})")]
    UnexpectedInsnValue {
        /// `ALU/ALU64`, `LDX/ST/STX` or `LDIMM64`.
        class: &'static str,
        /// Value found in the instruction.
        found: i64,
        /// Value the local BTF predicts.
        expected: u64,
        /// Value it would have been patched to.
        new: u64,
    },
    /// The new offset does not fit the instruction's 16-bit `off`.
    #[error("new offset {value} does not fit a LDX/ST/STX insn")]
    ValueTooBig {
        /// New value.
        value: u64,
    },
    /// The load/store's size is not the local field's size.
    #[error("LDX/ST/STX memory size {found} differs from the field size {expected}")]
    UnexpectedMemSize {
        /// Size encoded in the instruction.
        found: u32,
        /// Local field size.
        expected: u32,
    },
    /// The target field's size cannot be encoded as a load/store size.
    #[error("target field size {size} can't be a LDX/ST/STX memory size")]
    InvalidNewMemSize {
        /// Target field size.
        size: u32,
    },
    /// The instruction is not an ALU-with-immediate, load, store or `ld_imm64`.
    #[error("can't relocate insn with opcode {code:#04x}")]
    UnsupportedInsn {
        /// Opcode byte.
        code: u8,
    },
    /// An `ld_imm64` with unexpected registers/offset or a missing second half.
    #[error("LDIMM64 insn has unexpected form")]
    MalformedLdImm64,
    /// Type comparison recursed deeper than libbpf allows.
    #[error("type graph nests deeper than the limit")]
    TooDeep,
}
