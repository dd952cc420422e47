//! `bpfkit trace`: bpftrace's language compiled straight to BPF instructions, with no LLVM
//! and no clang. [`parser`] builds the tree, [`check`] types it against tracefs formats,
//! [`codegen`] emits instructions with `bpfkit-obj`'s encoder, [`runtime`] loads and
//! attaches through `bpfkit` and [`output`] prints what bpftrace prints.

pub mod asm;
pub mod ast;
pub mod codegen;
pub mod diag;
pub mod format;
pub mod lexer;
pub mod output;
pub mod parser;
pub mod probes;
pub mod runtime;
pub mod types;

pub use runtime::{run, Options, TraceError};
