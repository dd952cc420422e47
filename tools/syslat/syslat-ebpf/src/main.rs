//! syslat's kernel side: a log2 histogram of syscall latency per syscall number.
//!
//! `raw_syscalls/sys_enter` stamps the entry time per thread; `raw_syscalls/sys_exit`
//! adds the elapsed time (microseconds, or milliseconds) to this CPU's copy of the
//! syscall's `HISTS` entry. The filters and `--syscall` are frozen `.rodata` globals.
//! rt_sigreturn's exit carries syscall number -1 (it restores the registers): it is
//! counted under rt_sigreturn's number, as `strace -c` counts it.
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{LruHashMap, PerCpuHashMap};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::tracepoints::{trace_event_raw_sys_enter, trace_event_raw_sys_exit};
use bpfkit_ebpf::{zeroed, Global};
use tool_abi::hist::{slot, Hist};

tool_abi::filter_globals!();

/// One histogram per syscall number, one copy per CPU.
#[map]
static HISTS: PerCpuHashMap<u32, Hist, 1024> = PerCpuHashMap::new();

/// Entry time per thread (`pid_tgid`). Each entry overwrites the thread's last stamp and
/// exit leaves it in place (a delete per syscall would cost ~100 ns); an LRU map evicts
/// the stamps of threads that are gone, so it never fills up.
#[map]
static START: LruHashMap<u64, u64, 10240> = LruHashMap::new();

#[unsafe(no_mangle)]
static SYSLAT_SYSCALL: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static SYSLAT_MILLISECONDS: Global<u32> = Global::new(0);
/// This architecture's number of rt_sigreturn (`u32::MAX`: unknown), set by userspace.
#[unsafe(no_mangle)]
static SYSLAT_RT_SIGRETURN: Global<u32> = Global::new(u32::MAX);

/// Records `now` as `tid`'s entry time: in place when the thread has an entry (a lookup
/// the verifier inlines, much cheaper than an update), else by inserting one.
#[inline(always)]
fn stamp(tid: u64, now: u64) {
    match START.get_ptr_mut(&tid) {
        // SAFETY: the thread's own entry; only this thread's programs write it.
        Some(entry) => unsafe { *entry.as_ptr() = now },
        None => {
            let _ = START.insert(&tid, &now, 0);
        }
    }
}

/// The syscall number `id` of a raw_syscalls record, if this run wants it.
#[inline(always)]
fn wanted(id: i64) -> Option<u32> {
    if id < 0 {
        return None;
    }
    let id = id as u32;
    let only = SYSLAT_SYSCALL.get();
    (only == u32::MAX || only == id).then_some(id)
}

#[tracepoint(category = "raw_syscalls", name = "sys_enter")]
fn sys_enter(ctx: TracePointContext) -> u32 {
    // SAFETY: a raw_syscalls/sys_enter program's context is this record.
    let id = unsafe { ctx.args::<trace_event_raw_sys_enter>() }.id;
    if wanted(id).is_none() || !filter_pass() {
        return 0;
    }
    stamp(helpers::current_pid_tgid(), helpers::ktime_get_ns());
    0
}

#[tracepoint(category = "raw_syscalls", name = "sys_exit")]
fn sys_exit(ctx: TracePointContext) -> u32 {
    // SAFETY: a raw_syscalls/sys_exit program's context is this record.
    let mut id = unsafe { ctx.args::<trace_event_raw_sys_exit>() }.id;
    let sigreturn = SYSLAT_RT_SIGRETURN.get();
    if id < 0 && sigreturn != u32::MAX {
        // rt_sigreturn's exit (its entry was stamped under its own number).
        id = i64::from(sigreturn);
    }
    let Some(id) = wanted(id) else {
        return 0;
    };
    let tid = helpers::current_pid_tgid();
    let Some(start) = START.get_copy(&tid) else {
        return 0;
    };
    let elapsed = helpers::ktime_get_ns().wrapping_sub(start);
    let value = if SYSLAT_MILLISECONDS.get() != 0 {
        elapsed / 1_000_000
    } else {
        elapsed / 1_000
    };
    let hist = match HISTS.get_ptr_mut(&id) {
        Some(hist) => hist,
        // A new entry starts from zeroes the kernel copies from `.rodata` (no stack copy).
        None => match HISTS.get_or_insert_zeroed(&id, zeroed!(Hist)) {
            Some(hist) => hist,
            None => return 0,
        },
    };
    // SAFETY: this CPU's copy of the entry; no other program runs on this CPU meanwhile.
    let hist = unsafe { &mut *hist.as_ptr() };
    if let Some(count) = hist.slots.get_mut(slot(value)) {
        *count += 1;
    }
    hist.sum += value;
    hist.count += 1;
    0
}

bpfkit_ebpf::license!("GPL");
