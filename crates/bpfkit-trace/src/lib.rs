//! `bpfkit trace`: bpftrace's language compiled straight to BPF instructions, with no LLVM
//! and no clang. [`parser`] builds the tree, [`codegen`] types it (tracepoint fields from
//! tracefs formats) and emits instructions with `bpfkit-obj`'s encoder, [`runtime`] loads
//! and attaches through `bpfkit` and [`output`] prints what bpftrace prints.
//!
//! # The supported subset
//!
//! - Probes: `BEGIN`, `END` (one each), `tracepoint:cat:name` (globs), `rawtracepoint:name`,
//!   `interval:{s,ms,us,hz}:N`, `profile:{hz,s,ms,us}:N`, `software:event[:N]`,
//!   `hardware:event[:N]`, `uprobe`/`uretprobe:bin:fn`
//!   (paths, `$PATH` names, `libc`-style short library names), `kprobe`/`kretprobe:fn`
//!   (globs: one program on a kprobe.multi link, else one perf-event kprobe per function;
//!   one program per function when the block uses `func` or `probe`),
//!   `fentry`/`fexit:fn` (`kfunc`/`kretfunc`; globs over BTF; `args->name` typed by BTF),
//!   `usdt:bin:[provider:]name` (`arg0..` from the note's argument specs);
//!   several per block.
//! - Struct definitions (`struct X { int a; char name[16]; struct Y *p; };`) for casts.
//! - Statements: predicates, `if`/`else if`/`else`, `unroll`, `while` and `for ($i : a..b)` with
//!   `break`/`continue`, `return`, `$var` and `@map` (tuple keys) assignment with all
//!   compound operators and `++`/`--`, `printf` (C's length modifiers), `print(@m[, top[, div]])`, `print(value)`, `strftime(fmt, ns)` as a printf argument, `sizeof(TYPE)`, `clear`, `zero`,
//!   `delete`, `time`, `join`, `exit`.
//! - Expressions: integer arithmetic, comparison, logic and bit operators (C precedence,
//!   `/` and `%` unsigned like bpftrace), `?:`, string `==`/`!=`, casts to
//!   `[u]int{8,16,32,64}`, `str(p[, n])`, `strncmp`, `$1`/`str($1)`/`$#`.
//! - Builtins: `pid tid uid gid comm cpu nsecs elapsed cpid probe func retval arg0..
//!   args->field args->ptr->field curtask curtask->a->b.c (struct X *)e->f cgroup rand
//!   numaid jiffies kstack kstack([mode,] n) kstack(mode) ksym(addr) kaddr("sym") bswap(x) ustack ustack([mode,] n) usym(addr)
//!   ntop([af,] addr) buf(ptr, len)` (printf `%r`), kernel enum constants by name (BTF) and the `AF_*` constants.
//! - Aggregations: `count sum avg min max stats hist lhist`, printed as bpftrace prints
//!   them (text and `-f json`).
//!
//! Anything else valid in bpftrace is refused at its position with "not supported yet:
//! …" (kprobe offsets, `reg()`, `username`, `for` over maps, unions/enums/typedefs, bitfields,
//! tuples as values, …).
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
pub mod map_btf;
pub mod output;
pub mod parser;
pub mod probes;
pub mod runtime;
pub mod symbols;
pub mod types;

pub use runtime::{run, Options, TraceError};
