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
//!
//! # Thread safety
//!
//! Every public type is `Send` and `Sync` unless listed below; `tests/concurrency.rs` checks
//! the list at compile time and loads, attaches and reads from several threads at once.
//!
//! - Kernel objects ([`loader::Object`], [`loader::Program`], [`maps::MapData`] and the typed
//!   map views over it, [`links::Link`], [`info::StatsGuard`]) are owned fds plus plain data.
//!   An fd may be used from any thread, and the kernel serialises concurrent operations on one
//!   map or program (element updates are atomic per element; `BPF_F_LOCK` for spin-locked
//!   values), so shared `&` access from several threads is sound. Attachments whose program
//!   can be replaced through `&self` (netlink XDP, `BPF_PROG_ATTACH`) keep the current
//!   program behind a `Mutex`.
//! - [`sys::MmapRegion`] is shared memory: `Send + Sync` by an explicit `unsafe impl`; reads
//!   and writes are volatile copies, and what other writers (the kernel, programs) do
//!   concurrently is the map's own contract, as for any shared map memory.
//! - Readers ([`readers::RingBuf`], [`readers::PerfBuffer`], [`readers::RingBufPoller`],
//!   [`readers::Poller`], the tokio wrappers, [`readers::UserRingBufWriter`]) have one consumer
//!   (or producer): every method that moves a position takes `&mut self`, so the borrow
//!   checker rules out two at once; they can be moved to another thread (`Send`), and `&`
//!   methods only read positions atomically (`Sync`).
//! - [`readers::Batch`] is `Send` but not `Sync`: it lends records of a `&mut RingBuf` and
//!   tracks its position in `Cell`s.
//! - [`readers::UserRecord`] is neither: a raw pointer into a reservation of the user ring
//!   buffer that must be submitted or discarded by the writer that made it.
//! - [`sys::seam`] overrides are per thread (a thread-local handler); [`sys::fdtrace`] keeps
//!   one process-wide registry behind a `Mutex`.
//! - Errors are `Send + Sync` (plain data and `io::Error`), so they fit
//!   `Box<dyn Error + Send + Sync>`. [`Report`] is neither: it borrows a `&dyn Error`
//!   (without `Send`/`Sync` bounds) only to format it in place.

pub mod caps;
pub mod cpus;
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
