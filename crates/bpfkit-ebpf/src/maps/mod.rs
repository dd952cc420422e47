//! BTF-defined maps (the `.maps` section), laid out exactly as libbpf's `__uint`/`__type`/
//! `__array` macros lay them out, so the BTF that llc derives from Rust debug info is what
//! libbpf (and bpfkit's loader) parse.
//!
//! Each map is a `#[repr(C)]` struct whose fields are never read: their *types* carry the
//! definition. `__uint(name, N)` is a field `name: *const [i32; N]`; `__type(name, T)` is a field
//! `name: *const T`; `__array(values, M)` is `values: [*const M; 0]`. Declare one with the
//! [`map`](crate::macros::map) attribute, which adds `#[no_mangle]` (the map's name is the Rust
//! name) and `#[link_section = ".maps"]`:
//!
//! ```ignore
//! use bpfkit_ebpf::{macros::map, maps::HashMap};
//! #[map]
//! static COUNTS: HashMap<u32, u64, 1024> = HashMap::new();
//! ```
//!
//! Only the `Pinned*` definitions carry a `pinning` attribute (`LIBBPF_PIN_BY_NAME`): libbpf
//! refuses one, even `LIBBPF_PIN_NONE`, on a map-in-map's inner definition.
//!
//! `BPF_MAP_TYPE_ARENA` is not offered: using arena memory needs pointers in address space 1
//! and `__ksym` kfunc declarations, neither of which Rust can express today.

mod array;
mod bloom_filter;
mod hash;
mod lpm_trie;
mod of_maps;
mod perf_event_array;
mod program_array;
mod queue_stack;
mod ring_buf;
mod sock;
mod stack_trace;
mod storage;
mod user_ring_buf;
mod xdp;
mod zeroed;

pub use array::{Array, PerCpuArray, PinnedArray};
pub use bloom_filter::BloomFilter;
pub use hash::{
    HashMap, LruHashMap, LruPerCpuHashMap, PerCpuHashMap, PinnedHashMap, PinnedLruHashMap,
};
pub use lpm_trie::{LpmKey, LpmTrie};
pub use of_maps::{ArrayOfMaps, HashOfMaps};
pub use perf_event_array::PerfEventArray;
pub use program_array::ProgramArray;
pub use queue_stack::{Queue, Stack};
pub use ring_buf::{RingBuf, RingBufBytes, RingBufEntry};
pub use sock::{SockHash, SockMap};
pub use stack_trace::{StackTrace, PERF_MAX_STACK_DEPTH};
pub use storage::{CgroupStorage, CgrpStorage, InodeStorage, SkStorage, TaskStorage};
pub use user_ring_buf::{UserRingBuf, UserRingBufSample};
pub use xdp::{CpuMap, DevMap, DevMapHash, XskMap};
pub use zeroed::Zeroed;

/// `__uint(name, N)`: an integer attribute encoded as the length of a pointed-to array.
pub type Uint<const N: usize> = *const [i32; N];

/// `pinning` value `LIBBPF_PIN_BY_NAME`.
pub const LIBBPF_PIN_BY_NAME: usize = 1;

/// The map definition's address, which helpers take as `struct bpf_map *`.
#[inline(always)]
pub(crate) fn map_ptr<M>(map: &M) -> *mut core::ffi::c_void {
    map as *const M as *mut core::ffi::c_void
}
