//! `bpfkit trace`: bpftrace's language compiled straight to BPF instructions, with no LLVM
//! and no clang. [`parser`] builds the tree, [`codegen`] types it (tracepoint fields from
//! tracefs formats) and emits instructions with `bpfkit-obj`'s encoder, [`runtime`] loads
//! and attaches through `bpfkit` and [`output`] prints what bpftrace prints.
//!
//! ```
//! let program = bpfkit_trace::parser::parse("BEGIN { @n = count(); exit(); }").unwrap();
//! let compiled =
//!     bpfkit_trace::codegen::compile(&program, &Default::default()).unwrap();
//! assert_eq!(compiled.maps[0].name, "@n");
//! assert!(bpfkit_trace::runtime::dry_run(&compiled).starts_with("BEGIN:\n"));
//! ```

pub mod asm;
pub mod ast;
pub mod codegen;
pub mod diag;
pub mod format;
pub mod kbtf;
pub mod lexer;
pub mod output;
pub mod parser;
pub mod probes;
pub mod runtime;
pub mod types;

pub use runtime::{run, Options, TraceError};
