//! opensnoop's kernel side: every `open` (x86_64), `openat` and `openat2` with its path,
//! flags, mode and result, sent through a ring buffer.
//!
//! The `sys_enter_*` programs keep the path pointer, flags and mode per thread in `START`;
//! `sys_exit_*` read the path (by then the kernel has faulted its page in), fill one
//! `OpenEvent` in the ring buffer and delete the entry. The filters and `--failed` are
//! frozen `.rodata` globals.
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{HashMap, RingBuf};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::tracepoints::{syscall_trace_enter, syscall_trace_exit};
use bpfkit_ebpf::Global;
use tool_abi::opensnoop::{OpenEvent, Start, PATH_LEN};

tool_abi::filter_globals!();
tool_abi::lost_counter!();

/// Path pointer, flags and mode per thread (`pid_tgid`), from entry to exit.
#[map]
static START: HashMap<u64, Start, 10240> = HashMap::new();

/// One `OpenEvent` per open.
#[map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

#[unsafe(no_mangle)]
static OPENSNOOP_FAILED: Global<u32> = Global::new(0);

#[inline(always)]
fn enter(filename: u64, flags: u64, mode: u64) -> u32 {
    if !filter_pass() {
        return 0;
    }
    let start = Start {
        filename,
        flags,
        mode,
    };
    let _ = START.insert(&helpers::current_pid_tgid(), &start, 0);
    0
}

/// `sys_enter_open`/`sys_enter_openat`: `filename`, `flags` and `mode`, the syscall's
/// arguments `first`, `first + 1` and `first + 2`.
#[inline(always)]
fn enter_plain(ctx: &TracePointContext, first: usize) -> u32 {
    // SAFETY: a syscalls/sys_enter_* record is a `syscall_trace_enter`.
    let record = unsafe { ctx.args::<syscall_trace_enter>() };
    // SAFETY: open(filename, flags, mode) and openat(dfd, filename, flags, mode) have these
    // arguments in the record.
    let (filename, flags, mode) = unsafe {
        (
            record.args_at(first),
            record.args_at(first + 1),
            record.args_at(first + 2),
        )
    };
    enter(filename, flags as u32 as u64, mode as u32 as u64)
}

#[tracepoint(category = "syscalls", name = "sys_enter_open")]
fn open_enter(ctx: TracePointContext) -> u32 {
    enter_plain(&ctx, 0)
}

#[tracepoint(category = "syscalls", name = "sys_enter_openat")]
fn openat_enter(ctx: TracePointContext) -> u32 {
    enter_plain(&ctx, 1)
}

#[tracepoint(category = "syscalls", name = "sys_enter_openat2")]
fn openat2_enter(ctx: TracePointContext) -> u32 {
    // SAFETY: a syscalls/sys_enter_* record is a `syscall_trace_enter`.
    let record = unsafe { ctx.args::<syscall_trace_enter>() };
    // SAFETY: openat2(dfd, filename, how, size) has four arguments in the record.
    let (filename, how) = unsafe { (record.args_at(1), record.args_at(2) as *const [u64; 2]) };
    // struct open_how { __u64 flags; __u64 mode; __u64 resolve; }
    let [flags, mode] = helpers::probe_read_user(how).unwrap_or([0, 0]);
    enter(filename, flags, mode)
}

#[inline(always)]
fn exit(ctx: &TracePointContext) -> u32 {
    let tid = helpers::current_pid_tgid();
    let Some(start) = START.get_copy(&tid) else {
        return 0;
    };
    let _ = START.remove(&tid);
    // SAFETY: a syscalls/sys_exit_* record is a `syscall_trace_exit`.
    let ret = unsafe { ctx.args::<syscall_trace_exit>() }.ret;
    if OPENSNOOP_FAILED.get() != 0 && ret >= 0 {
        return 0;
    }
    let Some(mut entry) = EVENTS.reserve::<OpenEvent>() else {
        count_lost();
        return 0;
    };
    let event = entry.as_uninit().as_mut_ptr();
    // SAFETY: `event` points to a reserved, writable OpenEvent; every field is written
    // through raw pointers before submit (the path by the helper, NUL-terminated; bytes
    // after the NUL are not read by userspace).
    unsafe {
        (*event).pid = (tid >> 32) as u32;
        (*event).uid = helpers::current_uid();
        (*event).ret = ret;
        (*event).flags = start.flags;
        (*event).mode = start.mode;
        let comm = core::ptr::addr_of_mut!((*event).comm).cast::<u8>();
        if helpers::bpf_get_current_comm(comm.cast(), 16) < 0 {
            *comm = 0;
        }
        let path = core::ptr::addr_of_mut!((*event).path).cast::<u8>();
        if helpers::bpf_probe_read_user_str(
            path.cast(),
            PATH_LEN as u32,
            start.filename as *const _,
        ) < 0
        {
            *path = 0;
        }
    }
    entry.submit(0);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_open")]
fn open_exit(ctx: TracePointContext) -> u32 {
    exit(&ctx)
}

#[tracepoint(category = "syscalls", name = "sys_exit_openat")]
fn openat_exit(ctx: TracePointContext) -> u32 {
    exit(&ctx)
}

#[tracepoint(category = "syscalls", name = "sys_exit_openat2")]
fn openat2_exit(ctx: TracePointContext) -> u32 {
    exit(&ctx)
}

bpfkit_ebpf::license!("GPL");
