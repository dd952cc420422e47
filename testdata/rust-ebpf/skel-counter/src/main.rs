//! Counts `getppid` calls of one process (tracepoint `syscalls/sys_enter_getppid`), for the
//! typed-skeleton test: a `.rodata` filter set before load, a `.bss` counter and a `.data`
//! tag userspace reads and writes through the mmapped maps, a hash map of a struct and a
//! ring buffer of call counts.
#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::flags::BPF_ANY;
use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{HashMap, RingBuf};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::{Global, GlobalMut};

/// Per-process statistics.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Stats {
    /// `getppid` calls seen.
    pub calls: u64,
    /// The thread id of the last caller.
    pub last_pid: u32,
    /// `TAG` at the last call.
    pub tag: u32,
}

#[map]
static STATS: HashMap<u32, Stats, 16> = HashMap::new();

/// One record per counted call: the `calls` count after it.
#[map]
static EVENTS: RingBuf<4096> = RingBuf::new();

/// The process to count (`.rodata`, set by the loader).
#[unsafe(no_mangle)]
static TARGET_TGID: Global<u32> = Global::new(0);

/// Calls seen (`.bss`).
#[unsafe(no_mangle)]
static HITS: GlobalMut<u64> = GlobalMut::new(0);

/// Copied into each `Stats` (`.data`: userspace changes it while the program runs).
#[unsafe(no_mangle)]
static TAG: GlobalMut<u32> = GlobalMut::new(7);

#[tracepoint(category = "syscalls", name = "sys_enter_getppid")]
fn count_getppid(_ctx: TracePointContext) -> u32 {
    let pid_tgid = helpers::current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if tgid != TARGET_TGID.get() {
        return 0;
    }
    HITS.set(HITS.get() + 1);
    let mut stats = STATS.get_copy(&tgid).unwrap_or(Stats {
        calls: 0,
        last_pid: 0,
        tag: 0,
    });
    stats.calls += 1;
    stats.last_pid = pid_tgid as u32;
    stats.tag = TAG.get();
    let _ = STATS.insert(&tgid, &stats, BPF_ANY);
    let _ = EVENTS.output(&stats.calls, 0);
    0
}

bpfkit_ebpf::license!("GPL");
