//! Walking a program: raw bytes or decoded slots → logical instructions, with the two
//! slots of an `ld_imm64` kept together.

use object::Endianness;

use super::kind::Instruction;
use super::raw::{Insn, INSN_SIZE};

/// Why a byte slice or slot sequence is not a well-formed instruction stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsnError {
    /// The length is not a multiple of 8 bytes.
    #[error("instruction bytes end with {trailing} stray bytes at offset {offset} (length {len} is not a multiple of 8)")]
    TrailingBytes {
        /// Total length in bytes.
        len: usize,
        /// Offset of the first stray byte.
        offset: usize,
        /// Number of stray bytes.
        trailing: usize,
    },
    /// An `ld_imm64` is the last slot, so its upper half is missing.
    #[error("ld_imm64 at instruction {index} (offset {offset}) has no second slot")]
    TruncatedLdImm64 {
        /// Slot index of the `ld_imm64`.
        index: usize,
        /// Byte offset of the `ld_imm64`.
        offset: usize,
    },
}

/// One logical instruction: a single slot, or the two slots of an `ld_imm64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogicalInsn {
    /// Any instruction but `ld_imm64`.
    Single(Insn),
    /// `ld_imm64`: the first slot carries code, registers and the low 32 bits, the second
    /// the high 32 bits.
    Wide(Insn, Insn),
}

impl LogicalInsn {
    /// The first (or only) slot: the one holding the opcode.
    pub const fn first(&self) -> &Insn {
        match self {
            Self::Single(insn) | Self::Wide(insn, _) => insn,
        }
    }

    /// The second slot of an `ld_imm64`.
    pub const fn second(&self) -> Option<&Insn> {
        match self {
            Self::Single(_) => None,
            Self::Wide(_, hi) => Some(hi),
        }
    }

    /// Number of slots: 1, or 2 for `ld_imm64`.
    pub const fn slots(&self) -> usize {
        match self {
            Self::Single(_) => 1,
            Self::Wide(..) => 2,
        }
    }

    /// The typed view.
    pub fn instruction(&self) -> Instruction {
        Instruction::decode(self.first(), self.second())
    }

    /// Appends the encoded slots to `out`.
    pub fn encode_into(&self, endian: Endianness, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.first().encode(endian));
        if let Some(hi) = self.second() {
            out.extend_from_slice(&hi.encode(endian));
        }
    }
}

/// Iterator over the logical instructions of raw program bytes, yielding the slot index
/// and the instruction; an error (once, then the end) for stray trailing bytes or an
/// `ld_imm64` cut in half.
///
/// ```
/// use bpfkit_obj::insn::{Insns, LogicalInsn};
/// use object::Endianness;
///
/// // r1 = 0x100000002 ll; exit
/// let bytes = [
///     0x18, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
/// ];
/// let logical: Vec<_> = Insns::new(&bytes, Endianness::Little).collect::<Result<_, _>>().unwrap();
/// assert_eq!(logical.len(), 2);
/// assert_eq!(logical[1].0, 2); // exit is slot 2
/// assert!(matches!(logical[0].1, LogicalInsn::Wide(..)));
/// ```
#[derive(Clone, Debug)]
pub struct Insns<'a> {
    bytes: &'a [u8],
    endian: Endianness,
    index: usize,
    done: bool,
}

impl<'a> Insns<'a> {
    /// Walks `bytes` (a program section's contents) in the object's byte order.
    pub fn new(bytes: &'a [u8], endian: Endianness) -> Self {
        Self {
            bytes,
            endian,
            index: 0,
            done: false,
        }
    }

    fn slot(&self, index: usize) -> Option<Insn> {
        let start = index.checked_mul(INSN_SIZE)?;
        Insn::decode_slice(self.bytes.get(start..)?, self.endian)
    }
}

impl Iterator for Insns<'_> {
    type Item = Result<(usize, LogicalInsn), InsnError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let index = self.index;
        let offset = index * INSN_SIZE;
        let Some(first) = self.slot(index) else {
            self.done = true;
            let trailing = self.bytes.len().saturating_sub(offset);
            return (trailing != 0).then_some(Err(InsnError::TrailingBytes {
                len: self.bytes.len(),
                offset,
                trailing,
            }));
        };
        if !first.is_ld_imm64() {
            self.index += 1;
            return Some(Ok((index, LogicalInsn::Single(first))));
        }
        match self.slot(index + 1) {
            Some(second) => {
                self.index += 2;
                Some(Ok((index, LogicalInsn::Wide(first, second))))
            }
            None => {
                self.done = true;
                Some(Err(InsnError::TruncatedLdImm64 { index, offset }))
            }
        }
    }
}

/// Iterator over the logical instructions of already-decoded slots; see [`logical_insns`].
#[derive(Clone, Debug)]
pub struct LogicalInsns<'a> {
    slots: &'a [Insn],
    index: usize,
}

/// Walks decoded slots as logical instructions, yielding the slot index of each; an
/// `ld_imm64` in the last slot gives [`InsnError::TruncatedLdImm64`] and ends the walk.
pub fn logical_insns(slots: &[Insn]) -> LogicalInsns<'_> {
    LogicalInsns { slots, index: 0 }
}

impl Iterator for LogicalInsns<'_> {
    type Item = Result<(usize, LogicalInsn), InsnError>;

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.index;
        let first = *self.slots.get(index)?;
        if !first.is_ld_imm64() {
            self.index += 1;
            return Some(Ok((index, LogicalInsn::Single(first))));
        }
        match self.slots.get(index + 1) {
            Some(second) => {
                self.index += 2;
                Some(Ok((index, LogicalInsn::Wide(first, *second))))
            }
            None => {
                self.index = self.slots.len();
                Some(Err(InsnError::TruncatedLdImm64 {
                    index,
                    offset: index * INSN_SIZE,
                }))
            }
        }
    }
}

/// Decodes program bytes into slots (one [`Insn`] per 8 bytes), the form relocation code
/// edits in place. Fails only when the length is not a multiple of 8.
pub fn decode_slots(bytes: &[u8], endian: Endianness) -> Result<Vec<Insn>, InsnError> {
    let trailing = bytes.len() % INSN_SIZE;
    if trailing != 0 {
        return Err(InsnError::TrailingBytes {
            len: bytes.len(),
            offset: bytes.len() - trailing,
            trailing,
        });
    }
    Ok(bytes
        .chunks_exact(INSN_SIZE)
        .filter_map(|chunk| Insn::decode_slice(chunk, endian))
        .collect())
}

/// Encodes slots back into program bytes; the inverse of [`decode_slots`].
pub fn encode_slots(slots: &[Insn], endian: Endianness) -> Vec<u8> {
    let mut out = Vec::with_capacity(slots.len() * INSN_SIZE);
    for insn in slots {
        out.extend_from_slice(&insn.encode(endian));
    }
    out
}
