//! `bpfkit trace`: bpftrace's language compiled straight to BPF instructions, with no LLVM
//! and no clang. [`parser`] builds the tree, [`check`] types it against tracefs formats,
//! [`codegen`] emits instructions with `bpfkit-obj`'s encoder, [`runtime`] loads and
//! attaches through `bpfkit` and [`output`] prints what bpftrace prints.

pub mod ast;
pub mod diag;
pub mod lexer;
pub mod parser;
pub mod asm;
pub mod codegen;
pub mod format;
pub mod probes;
pub mod types;
pub mod output;
