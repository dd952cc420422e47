//! Maps with `pinning = LIBBPF_PIN_BY_NAME` next to an unpinned one: loading the object twice
//! with the same pin directory shares the pinned maps.
#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::flags::BPF_ANY;
use bpfkit_ebpf::macros::{map, xdp};
use bpfkit_ebpf::maps::{Array, PinnedArray, PinnedHashMap, PinnedLruHashMap};
use bpfkit_ebpf::programs::{XdpContext, XDP_PASS};

#[map]
static SHARED_COUNTS: PinnedHashMap<u32, u64, 8> = PinnedHashMap::new();
#[map]
static SHARED_RECENT: PinnedLruHashMap<u32, u64, 8> = PinnedLruHashMap::new();
#[map]
static SHARED_TOTAL: PinnedArray<u64, 1> = PinnedArray::new();
#[map]
static PRIVATE: Array<u64, 1> = Array::new();

#[xdp]
fn count(_ctx: XdpContext) -> u32 {
    let _ = SHARED_COUNTS.insert(&1, &1, BPF_ANY);
    let _ = SHARED_RECENT.insert(&1, &1, BPF_ANY);
    let total = SHARED_TOTAL.get(0).copied().unwrap_or(0);
    let _ = SHARED_TOTAL.set(0, &(total + 1), BPF_ANY);
    let _ = PRIVATE.set(0, &1, BPF_ANY);
    XDP_PASS
}

bpfkit_ebpf::license!("GPL");
