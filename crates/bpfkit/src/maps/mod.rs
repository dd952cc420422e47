//! Maps: [`MapData`] (an owned map fd and its shape) and typed views, one module per family.
//!
//! A typed map (`HashMap<T, K, V>`, `Array<T, V>`, ...) wraps any `T: Borrow<MapData>`, so it
//! works borrowed (`&MapData`) or owned (`MapData`). Constructing a typed view checks the
//! map's type and that `K`/`V` have the map's key and value sizes, so a mismatch is a typed
//! [`MapError`] before any syscall.

mod arena;
mod array;
mod bloom_filter;
mod data;
mod hash;
mod lpm_trie;
mod map_of_maps;
mod map_type;
mod per_cpu;
mod perf_event_array;
mod pod;
mod queue_stack;
mod ring_buf;
mod sock;
mod stack_trace;
mod storage;
mod xdp;

pub use arena::Arena;
pub use array::{Array, ProgramArray};
pub use bloom_filter::BloomFilter;
pub use data::{BatchCursor, MapData, MapParams};
pub use hash::HashMap;
pub use lpm_trie::{LpmKey, LpmTrie};
pub use map_of_maps::{ArrayOfMaps, HashOfMaps};
pub use map_type::{MapType, MapTypeExt};
pub use per_cpu::{possible_cpus, PerCpuArray, PerCpuHashMap, PerCpuValues};
pub use perf_event_array::PerfEventArray;
pub use pod::Pod;
pub use queue_stack::{Queue, Stack};
pub use ring_buf::{RingBufMap, UserRingBufMap};
pub use sock::{SockHash, SockMap};
pub use stack_trace::StackTraceMap;
pub use storage::LocalStorage;
pub use xdp::{CpuMap, DevMap, DevMapHash, XskMap};

/// Update flags: `BPF_ANY` (create or replace), `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`.
pub use crate::sys::uapi::{BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};

use crate::features::FeatureError;
use crate::sys::SyscallError;

/// Errors of map creation and access. Each names the map.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The kernel refused an operation.
    #[error("map '{name}'")]
    Syscall {
        /// The map's name.
        name: String,
        /// Which call failed and the errno.
        #[source]
        source: SyscallError,
    },
    /// The kernel refused to create the map for lack of privileges (EPERM), and this
    /// process lacks a capability creating maps needs, or (before 5.11) `RLIMIT_MEMLOCK` is
    /// too low and could not be raised.
    #[error("map '{name}': creating it was refused: {missing}")]
    NotPermitted {
        /// The map's name.
        name: String,
        /// The capabilities this process lacks ([`crate::caps::missing_hint`]), or the
        /// memlock limit ([`crate::features::memlock_hint`]).
        missing: Box<str>,
        /// The refused call.
        #[source]
        source: SyscallError,
    },
    /// The kernel lacks the map type or a feature the map needs.
    #[error("map '{name}'")]
    Unsupported {
        /// The map's name.
        name: String,
        /// The missing feature and the first kernel that has it.
        #[source]
        source: FeatureError,
    },
    /// A key of the wrong size.
    #[error("map '{name}': key is {actual} bytes but the map's key size is {expected}")]
    KeySize {
        /// The map's name.
        name: String,
        /// The map's key size.
        expected: u32,
        /// The size given.
        actual: usize,
    },
    /// A value of the wrong size.
    #[error("map '{name}': value is {actual} bytes but the map's value size is {expected}")]
    ValueSize {
        /// The map's name.
        name: String,
        /// The map's value size (per CPU for per-CPU maps, before 8-byte rounding).
        expected: u32,
        /// The size given.
        actual: usize,
    },
    /// A typed view of a map of another type.
    #[error("map '{name}' is of type {actual}, not {expected}")]
    WrongType {
        /// The map's name.
        name: String,
        /// The map's type.
        actual: MapType,
        /// The type(s) the view accepts.
        expected: &'static str,
    },
    /// A map whose type number bpfkit does not know.
    #[error("map '{name}' has unknown type number {number}")]
    UnknownType {
        /// The map's name.
        name: String,
        /// The kernel's type number.
        number: u32,
    },
    /// An array index at or beyond `max_entries`.
    #[error("map '{name}': index {index} is out of bounds (max_entries {max_entries})")]
    OutOfBounds {
        /// The map's name.
        name: String,
        /// The index given.
        index: u32,
        /// The map's capacity.
        max_entries: u32,
    },
    /// Per-CPU values for a different number of CPUs than the possible CPUs.
    #[error("map '{name}': {actual} per-CPU values given, {expected} CPUs are possible")]
    CpuCount {
        /// The map's name.
        name: String,
        /// Possible CPUs.
        expected: usize,
        /// Values given.
        actual: usize,
    },
    /// Batch keys and values of different lengths.
    #[error("map '{name}': {keys} keys but {values} values in a batch")]
    BatchLength {
        /// The map's name.
        name: String,
        /// Keys given.
        keys: usize,
        /// Values given.
        values: usize,
    },
    /// Reading the possible CPUs failed.
    #[error(transparent)]
    PossibleCpus {
        /// Which file and why.
        #[from]
        source: crate::cpus::CpuListError,
    },
}

impl MapError {
    /// The kernel feature that is missing (map type, flag), with its first release, for an
    /// [`Unsupported`](Self::Unsupported) error.
    pub fn missing_feature(&self) -> Option<&crate::features::Feature> {
        match self {
            Self::Unsupported { source, .. } => Some(&source.feature),
            _ => None,
        }
    }
}
