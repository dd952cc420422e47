//! BPF object model: ELF → [`object::ObjectSpec`], BTF, CO-RE, instructions.
//!
//! Everything here is pure: no syscalls and no files other than the bytes the caller hands
//! in. The same bytes in always give the same spec out, so every part is unit-tested and
//! fuzzed without a kernel. The runtime crate `bpfkit` turns a spec into kernel objects.

pub mod btf;
pub mod insn;
pub mod object;
pub mod relo;
