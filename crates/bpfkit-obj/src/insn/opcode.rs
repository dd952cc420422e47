//! Opcode field values of `struct bpf_insn`, named as in linux/bpf_common.h and linux/bpf.h.
//!
//! The 8-bit `code` is `class | size | mode` for loads and stores and `class | op | source`
//! for ALU and jump instructions. Values that newer kernels added after the installed UAPI
//! headers (cpu v4, `may_goto`, load-acquire/store-release, arena casts) are listed here too.

/// Mask of the instruction class (`BPF_CLASS`).
pub const CLASS_MASK: u8 = 0x07;
/// Mask of the access size of loads and stores (`BPF_SIZE`).
pub const SIZE_MASK: u8 = 0x18;
/// Mask of the addressing mode of loads and stores (`BPF_MODE`).
pub const MODE_MASK: u8 = 0xe0;
/// Mask of the ALU or jump operation (`BPF_OP`).
pub const OP_MASK: u8 = 0xf0;
/// Mask of the operand source bit (`BPF_SRC`).
pub const SRC_MASK: u8 = 0x08;

/// Class: non-standard loads (`ld_imm64`, legacy packet loads).
pub const BPF_LD: u8 = 0x00;
/// Class: loads from memory into a register.
pub const BPF_LDX: u8 = 0x01;
/// Class: stores of an immediate into memory.
pub const BPF_ST: u8 = 0x02;
/// Class: stores of a register into memory, and atomics.
pub const BPF_STX: u8 = 0x03;
/// Class: 32-bit arithmetic.
pub const BPF_ALU: u8 = 0x04;
/// Class: 64-bit jumps, calls and exit.
pub const BPF_JMP: u8 = 0x05;
/// Class: jumps comparing the lower 32 bits (and `gotol`).
pub const BPF_JMP32: u8 = 0x06;
/// Class: 64-bit arithmetic.
pub const BPF_ALU64: u8 = 0x07;

/// Size: 32 bits.
pub const BPF_W: u8 = 0x00;
/// Size: 16 bits.
pub const BPF_H: u8 = 0x08;
/// Size: 8 bits.
pub const BPF_B: u8 = 0x10;
/// Size: 64 bits.
pub const BPF_DW: u8 = 0x18;

/// Mode: immediate (`ld_imm64` with `BPF_DW`).
pub const BPF_IMM: u8 = 0x00;
/// Mode: legacy absolute packet load.
pub const BPF_ABS: u8 = 0x20;
/// Mode: legacy indirect packet load.
pub const BPF_IND: u8 = 0x40;
/// Mode: regular memory access.
pub const BPF_MEM: u8 = 0x60;
/// Mode: sign-extending memory load (cpu v4).
pub const BPF_MEMSX: u8 = 0x80;
/// Mode: atomic operation selected by `imm` (`BPF_XADD` of old).
pub const BPF_ATOMIC: u8 = 0xc0;
/// Mode of the kernel-internal speculation barrier `BPF_ST | BPF_NOSPEC` (no UAPI name).
pub const BPF_NOSPEC: u8 = 0xc0;

/// ALU op: `+=`.
pub const BPF_ADD: u8 = 0x00;
/// ALU op: `-=`.
pub const BPF_SUB: u8 = 0x10;
/// ALU op: `*=`.
pub const BPF_MUL: u8 = 0x20;
/// ALU op: `/=` (signed with `off == 1`).
pub const BPF_DIV: u8 = 0x30;
/// ALU op: `|=`.
pub const BPF_OR: u8 = 0x40;
/// ALU op: `&=`.
pub const BPF_AND: u8 = 0x50;
/// ALU op: `<<=`.
pub const BPF_LSH: u8 = 0x60;
/// ALU op: `>>=` (logical).
pub const BPF_RSH: u8 = 0x70;
/// ALU op: negation.
pub const BPF_NEG: u8 = 0x80;
/// ALU op: `%=` (signed with `off == 1`).
pub const BPF_MOD: u8 = 0x90;
/// ALU op: `^=`.
pub const BPF_XOR: u8 = 0xa0;
/// ALU op: move (sign-extending with `off` 8, 16 or 32).
pub const BPF_MOV: u8 = 0xb0;
/// ALU op: arithmetic shift right.
pub const BPF_ARSH: u8 = 0xc0;
/// ALU op: byte swap (`BPF_ALU`: to little/big endian; `BPF_ALU64`: unconditional bswap).
pub const BPF_END: u8 = 0xd0;
/// `BPF_END` source bit: convert to little endian.
pub const BPF_TO_LE: u8 = 0x00;
/// `BPF_END` source bit: convert to big endian.
pub const BPF_TO_BE: u8 = 0x08;

/// Jump op: unconditional (`goto`, or `gotol` in `BPF_JMP32`).
pub const BPF_JA: u8 = 0x00;
/// Jump op: `==`.
pub const BPF_JEQ: u8 = 0x10;
/// Jump op: unsigned `>`.
pub const BPF_JGT: u8 = 0x20;
/// Jump op: unsigned `>=`.
pub const BPF_JGE: u8 = 0x30;
/// Jump op: `&` (bits set).
pub const BPF_JSET: u8 = 0x40;
/// Jump op: `!=`.
pub const BPF_JNE: u8 = 0x50;
/// Jump op: signed `>`.
pub const BPF_JSGT: u8 = 0x60;
/// Jump op: signed `>=`.
pub const BPF_JSGE: u8 = 0x70;
/// Jump op: function call.
pub const BPF_CALL: u8 = 0x80;
/// Jump op: return from the program or subprogram.
pub const BPF_EXIT: u8 = 0x90;
/// Jump op: unsigned `<`.
pub const BPF_JLT: u8 = 0xa0;
/// Jump op: unsigned `<=`.
pub const BPF_JLE: u8 = 0xb0;
/// Jump op: signed `<`.
pub const BPF_JSLT: u8 = 0xc0;
/// Jump op: signed `<=`.
pub const BPF_JSLE: u8 = 0xd0;
/// Jump op: conditional pseudo jump selected by `src_reg` (`may_goto`).
pub const BPF_JCOND: u8 = 0xe0;
/// `BPF_JCOND` kind in `src_reg`: bounded loop escape `may_goto`.
pub const BPF_MAY_GOTO: u8 = 0;

/// Source: the operand is `imm`.
pub const BPF_K: u8 = 0x00;
/// Source: the operand is `src_reg`.
pub const BPF_X: u8 = 0x08;

/// Atomic `imm` flag: also return the old value in `src_reg`.
pub const BPF_FETCH: i32 = 0x01;
/// Atomic `imm`: exchange.
pub const BPF_XCHG: i32 = 0xe0 | BPF_FETCH;
/// Atomic `imm`: compare `r0` and exchange.
pub const BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;
/// Atomic `imm`: load with acquire semantics.
pub const BPF_LOAD_ACQ: i32 = 0x100;
/// Atomic `imm`: store with release semantics.
pub const BPF_STORE_REL: i32 = 0x110;

/// `off` of `BPF_ALU64 | BPF_MOV | BPF_X` that makes it an arena `addr_space_cast`.
pub const BPF_ADDR_SPACE_CAST: i16 = 1;
/// `off` of the kernel-internal per-CPU address move `BPF_ALU64 | BPF_MOV | BPF_X`.
pub const BPF_ADDR_PERCPU: i16 = -1;

/// `src_reg` of `ld_imm64`: `imm` is a map file descriptor.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `src_reg` of `ld_imm64`: `imm` is a map fd, the second `imm` an offset into its value.
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
/// `src_reg` of `ld_imm64`: `imm` is a BTF id of a kernel variable (`__ksym`).
pub const BPF_PSEUDO_BTF_ID: u8 = 3;
/// `src_reg` of `ld_imm64`: `imm` is the pc-relative offset of a function (callback).
pub const BPF_PSEUDO_FUNC: u8 = 4;
/// `src_reg` of `ld_imm64`: `imm` is an index into the `fd_array` of maps.
pub const BPF_PSEUDO_MAP_IDX: u8 = 5;
/// `src_reg` of `ld_imm64`: map index into `fd_array` plus a value offset.
pub const BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;

/// `src_reg` of a call: `imm` is the pc-relative offset of a BPF function.
pub const BPF_PSEUDO_CALL: u8 = 1;
/// `src_reg` of a call: `imm` is the BTF id of a kernel function (kfunc).
pub const BPF_PSEUDO_KFUNC_CALL: u8 = 2;
