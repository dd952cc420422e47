//! The bpfkit userspace runtime: the only crate that talks to the kernel.
//!
//! - [`sys`]: bpf(2) wrappers (one per command) and map mmap, with owned fds and typed
//!   errors; UAPI types generated from `<linux/bpf.h>`.
//! - [`features`]: lazy, cached kernel feature probes whose errors name the first kernel.
//! - [`loader`]: an `ObjectSpec` (from `bpfkit-obj`) and the running kernel in, an
//!   [`Object`](loader::Object) of maps and programs out.
//! - [`maps`]: typed maps over [`Pod`](maps::Pod) keys and values, one module per family.
//! - [`pin`]: pin, unpin and open pinned objects on a bpffs.
//! - [`readers`]: ring buffer and perf buffer readers (copying, zero-copy batches, epoll,
//!   tokio) and the user ring buffer writer.
//! - [`programs`]: program types and one attach module per type; [`links`]: attached programs.
//! - [`info`]: loaded programs, maps and links with their kernel info; run-time stats.

pub mod caps;
pub mod features;
pub mod info;
pub mod links;
pub mod loader;
pub mod maps;
pub mod pin;
pub mod programs;
pub mod readers;
mod report;
pub mod skel;
pub mod sys;
pub mod token;

pub use report::Report;
