//! syscount's kernel side: counts returning syscalls per syscall number (or per process),
//! optionally only failures (keyed by errno too) and the time spent in them.
//!
//! `raw_syscalls/sys_enter` stamps the entry time per thread (only with latency on);
//! `raw_syscalls/sys_exit` adds one call to this CPU's copy of the `COUNTS` entry.
//! Userspace adds up the per-CPU copies. Counted as `strace -f -c` counts: a new task's
//! return from fork/vfork/clone/clone3 (0 in the child) is not a call of its own, and
//! `rt_sigreturn`, whose exit carries syscall number -1 (it restores the registers), is
//! counted on entry by `syscalls/sys_enter_rt_sigreturn`. Every option is a frozen `.rodata` global, so the
//! verifier prunes what a run leaves off.
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{LruHashMap, PerCpuHashMap};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::tracepoints::trace_event_raw_sys_exit;
use bpfkit_ebpf::{zeroed, Global};
use tool_abi::syscount::{Key, Stats};

tool_abi::filter_globals!();

/// Calls per key, one copy per CPU.
#[map]
static COUNTS: PerCpuHashMap<Key, Stats, 10240> = PerCpuHashMap::new();

/// Entry time per thread (`pid_tgid`), with latency on. Each entry overwrites the thread's
/// last stamp and exit leaves it in place (a delete per syscall would cost ~100 ns); an
/// LRU map evicts the stamps of threads that are gone, so it never fills up.
#[map]
static START: LruHashMap<u64, u64, 10240> = LruHashMap::new();

#[unsafe(no_mangle)]
static SYSCOUNT_PER_PROCESS: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static SYSCOUNT_LATENCY: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static SYSCOUNT_FAILURES: Global<u32> = Global::new(0);
#[unsafe(no_mangle)]
static SYSCOUNT_ERRNO: Global<u32> = Global::new(0);
/// This architecture's numbers of clone, clone3, fork and vfork (`u32::MAX`: none), set
/// by userspace: their return of 0 in the new task is not counted.
#[unsafe(no_mangle)]
static SYSCOUNT_CLONE: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static SYSCOUNT_CLONE3: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static SYSCOUNT_FORK: Global<u32> = Global::new(u32::MAX);
#[unsafe(no_mangle)]
static SYSCOUNT_VFORK: Global<u32> = Global::new(u32::MAX);
/// This architecture's number of rt_sigreturn, counted on entry.
#[unsafe(no_mangle)]
static SYSCOUNT_RT_SIGRETURN: Global<u32> = Global::new(u32::MAX);

/// The largest errno; a return value in `[-MAX_ERRNO, -1]` is a failure.
const MAX_ERRNO: i64 = 4095;

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

#[tracepoint(category = "raw_syscalls", name = "sys_enter")]
fn sys_enter(_ctx: TracePointContext) -> u32 {
    if SYSCOUNT_LATENCY.get() == 0 || !filter_pass() {
        return 0;
    }
    stamp(helpers::current_pid_tgid(), helpers::ktime_get_ns());
    0
}

#[tracepoint(category = "raw_syscalls", name = "sys_exit")]
fn sys_exit(ctx: TracePointContext) -> u32 {
    if !filter_pass() {
        return 0;
    }
    // SAFETY: a raw_syscalls/sys_exit program's context is this record.
    let record = unsafe { ctx.args::<trace_event_raw_sys_exit>() };
    let (id, ret) = (record.id, record.ret);
    if id < 0 {
        return 0;
    }
    if ret == 0 {
        let nr = id as u32;
        if nr == SYSCOUNT_CLONE.get()
            || nr == SYSCOUNT_CLONE3.get()
            || nr == SYSCOUNT_FORK.get()
            || nr == SYSCOUNT_VFORK.get()
        {
            // The new task's first return, from the parent's call (counted there).
            return 0;
        }
    }
    let mut errno = 0u32;
    if SYSCOUNT_FAILURES.get() != 0 {
        if !(-MAX_ERRNO..0).contains(&ret) {
            return 0;
        }
        errno = (-ret) as u32;
        let wanted = SYSCOUNT_ERRNO.get();
        if wanted != 0 && wanted != errno {
            return 0;
        }
    }
    let mut elapsed = 0;
    if SYSCOUNT_LATENCY.get() != 0 {
        let tid = helpers::current_pid_tgid();
        if let Some(start) = START.get_copy(&tid) {
            elapsed = helpers::ktime_get_ns().wrapping_sub(start);
        }
    }
    add(id as u32, errno, elapsed);
    0
}

/// rt_sigreturn, counted on entry (its exit has syscall number -1). Not loaded with
/// `--failures`.
#[tracepoint(category = "syscalls", name = "sys_enter_rt_sigreturn")]
fn sys_enter_rt_sigreturn(_ctx: TracePointContext) -> u32 {
    if !filter_pass() {
        return 0;
    }
    add(SYSCOUNT_RT_SIGRETURN.get(), 0, 0);
    0
}

/// Adds one call of syscall `id` (with `errno`, and `elapsed` ns) to this CPU's copy of its
/// entry: keyed by syscall, or by process with `--process`.
#[inline(always)]
fn add(id: u32, errno: u32, elapsed: u64) {
    let per_process = SYSCOUNT_PER_PROCESS.get() != 0;
    let key = Key {
        id: if per_process {
            helpers::current_tgid()
        } else {
            id
        },
        errno,
    };
    let stats = match COUNTS.get_ptr_mut(&key) {
        Some(stats) => stats,
        // A new entry starts from zeroes the kernel copies from `.rodata` (no stack copy).
        None => match COUNTS.get_or_insert_zeroed(&key, zeroed!(Stats)) {
            Some(stats) => stats,
            None => return,
        },
    };
    // SAFETY: this CPU's copy of the entry; no other program runs on this CPU meanwhile.
    let stats = unsafe { &mut *stats.as_ptr() };
    stats.count += 1;
    stats.total_ns += elapsed;
    if per_process {
        let _ = helpers::current_comm_into(&mut stats.comm);
    }
}

bpfkit_ebpf::license!("GPL");
