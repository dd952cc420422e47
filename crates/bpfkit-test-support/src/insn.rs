//! Comparing instruction streams: oracle hex parsing and masking of run-dependent immediates.
//!
//! The instruction type itself is [`bpfkit_obj::insn::Insn`], re-exported as [`crate::Insn`].

use bpfkit_obj::insn::opcode::{BPF_PSEUDO_BTF_ID, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE};
use bpfkit_obj::insn::{Insn, INSN_SIZE};

/// Parses 16 hex digits (the oracle's output format: the host's `struct bpf_insn` bytes)
/// into an instruction; `None` when `hex` is not exactly that.
pub(crate) fn insn_from_hex(hex: &str) -> Option<Insn> {
    if hex.len() != 2 * INSN_SIZE {
        return None;
    }
    let mut b = [0u8; INSN_SIZE];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(Insn::from_bytes(b))
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
                BPF_PSEUDO_MAP_FD | BPF_PSEUDO_MAP_VALUE => out[i].imm = 0,
                BPF_PSEUDO_BTF_ID => {
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
