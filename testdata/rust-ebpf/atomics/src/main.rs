//! bpfkit-ebpf's atomics on a map value and on a global, run with BPF_PROG_TEST_RUN. Every
//! fetched old value is stored in `OLD` and the global's old value is the program's return
//! value, so the test checks what the kernel returned, not only the memory effect
//! (LLVM 22 miscompiles relaxed fetches: llvm/llvm-project#210280).
#![no_std]
#![no_main]

use bpfkit_ebpf::atomic::{AtomicU32, AtomicU64};
use bpfkit_ebpf::macros::{map, xdp};
use bpfkit_ebpf::maps::Array;
use bpfkit_ebpf::programs::XdpContext;

/// The map value the operations run on (the test sets the start values).
#[repr(C)]
pub struct Counters {
    pub wide: AtomicU64,
    pub narrow: AtomicU32,
    pub pad: u32,
}

#[map]
static COUNTERS: Array<Counters, 1> = Array::new();

/// The old value each operation fetched, in the order of `exercise`.
#[map]
static OLD: Array<u64, 16> = Array::new();

/// Runs of `count_runs` so far; its fetched old value is that program's return value.
#[unsafe(no_mangle)]
static RUNS: AtomicU64 = AtomicU64::new(0);

/// A 32-bit global incremented by every run of `count_runs`.
#[unsafe(no_mangle)]
static RUNS32: AtomicU32 = AtomicU32::new(0);

#[inline(always)]
fn record(slot: u32, value: u64) {
    let _ = OLD.set(slot, &value, 0);
}

/// One of each operation on both widths of the map value.
#[xdp]
fn exercise(_ctx: XdpContext) -> u32 {
    let Some(counters) = COUNTERS.get(0) else {
        return 1;
    };
    let w = &counters.wide;
    record(0, w.fetch_add(5));
    record(1, w.fetch_sub(2));
    record(2, w.fetch_or(0xf0));
    record(3, w.fetch_and(!0x10));
    record(4, w.fetch_xor(0xff));
    record(5, w.swap(1000));
    record(6, w.compare_exchange(1000, 2000).unwrap_or(u64::MAX));
    record(7, w.compare_exchange(1, 3).err().unwrap_or(u64::MAX));
    let n = &counters.narrow;
    record(8, u64::from(n.fetch_add(7)));
    record(9, u64::from(n.fetch_sub(3)));
    record(10, u64::from(n.fetch_or(0x100)));
    record(11, u64::from(n.fetch_and(0xfff)));
    record(12, u64::from(n.fetch_xor(0xf)));
    record(13, u64::from(n.swap(u32::MAX)));
    record(14, u64::from(n.compare_exchange(u32::MAX, 9).unwrap_or(0)));
    record(15, w.load() + u64::from(n.load()));
    2
}

/// Counts its runs in both globals; returns their values before this run, `RUNS` in the
/// high 16 bits and `RUNS32` in the low 16 bits.
#[xdp]
fn count_runs(_ctx: XdpContext) -> u32 {
    let wide = RUNS.fetch_add(1) as u32;
    let narrow = RUNS32.fetch_add(1);
    (wide << 16) | (narrow & 0xffff)
}

/// `core`'s atomics, which only the donor route's `core` has (bpfel's lacks `fetch_add`):
/// a `Relaxed` fetch whose old value is returned, the shape of llvm/llvm-project#210280.
#[cfg(not(target_arch = "bpf"))]
mod core_atomics {
    use bpfkit_ebpf::macros::xdp;
    use bpfkit_ebpf::programs::XdpContext;
    use core::sync::atomic::{AtomicU64, Ordering};

    #[unsafe(no_mangle)]
    static CORE_RUNS: AtomicU64 = AtomicU64::new(0);

    /// Returns `CORE_RUNS` before this run.
    #[xdp]
    fn core_relaxed(_ctx: XdpContext) -> u32 {
        CORE_RUNS.fetch_add(1, Ordering::Relaxed) as u32
    }
}

bpfkit_ebpf::license!("GPL");
