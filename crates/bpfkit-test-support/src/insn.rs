//! Raw BPF instructions as the oracle reports them, and masking of run-dependent immediates.

/// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 16-byte `ld_imm64`.
pub const LD_IMM64: u8 = 0x18;
/// `src_reg` of an `ld_imm64` whose imm is a map fd (`BPF_PSEUDO_MAP_FD`).
pub const PSEUDO_MAP_FD: u8 = 1;
/// `src_reg` of an `ld_imm64` whose imm is a map fd and next imm an offset (`BPF_PSEUDO_MAP_VALUE`).
pub const PSEUDO_MAP_VALUE: u8 = 2;
/// `src_reg` of an `ld_imm64` whose imm is a kernel BTF id, next imm a BTF object fd (`BPF_PSEUDO_BTF_ID`).
pub const PSEUDO_BTF_ID: u8 = 3;

/// One 8-byte BPF instruction, decoded from the little-endian `struct bpf_insn` layout.
///
/// ```
/// use bpfkit_test_support::Insn;
/// let exit = Insn::from_bytes([0x95, 0, 0, 0, 0, 0, 0, 0]);
/// assert_eq!((exit.code, exit.imm), (0x95, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Insn {
    /// Opcode byte.
    pub code: u8,
    /// Destination register (low nibble of byte 1).
    pub dst_reg: u8,
    /// Source register (high nibble of byte 1); the pseudo kind for `ld_imm64` and calls.
    pub src_reg: u8,
    /// Signed offset.
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// Decodes the host's (little-endian) `struct bpf_insn` bytes.
    pub fn from_bytes(b: [u8; 8]) -> Self {
        Insn {
            code: b[0],
            dst_reg: b[1] & 0x0f,
            src_reg: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encodes back to the 8 bytes `from_bytes` read.
    pub fn to_bytes(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [
            self.code,
            (self.dst_reg & 0x0f) | (self.src_reg << 4),
            off[0],
            off[1],
            imm[0],
            imm[1],
            imm[2],
            imm[3],
        ]
    }

    /// Parses 16 hex digits (the oracle's output format) into an instruction.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 16 {
            return None;
        }
        let mut b = [0u8; 8];
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Insn::from_bytes(b))
    }

    /// Whether this is the first half of an `ld_imm64`.
    pub fn is_ld_imm64(&self) -> bool {
        self.code == LD_IMM64
    }
}

/// A copy of `insns` with every immediate that is a file descriptor of the loading process
/// set to 0: the map fd of `ld_imm64` with `src_reg` `BPF_PSEUDO_MAP_FD`/`BPF_PSEUDO_MAP_VALUE`
/// and the BTF object fd (second half) of `BPF_PSEUDO_BTF_ID`. Everything else is kept, so
/// two loads of the same object compare equal after masking.
pub fn mask_fd_immediates(insns: &[Insn]) -> Vec<Insn> {
    let mut out = insns.to_vec();
    let mut i = 0;
    while i < out.len() {
        if out[i].is_ld_imm64() {
            match out[i].src_reg {
                PSEUDO_MAP_FD | PSEUDO_MAP_VALUE => out[i].imm = 0,
                PSEUDO_BTF_ID => {
                    if let Some(next) = out.get_mut(i + 1) {
                        next.imm = 0;
                    }
                }
                _ => {}
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    out
}
