//! bpfsnoop's kernel side: every bpf(2) call with its command and result; for
//! `BPF_PROG_LOAD`, `BPF_MAP_CREATE` and `BPF_LINK_CREATE` also the head of the caller's
//! `union bpf_attr` (and the license string of a program load).
//!
//! `sys_enter_bpf` copies what it needs into a per-thread `INFLIGHT` entry (user memory is
//! read at entry, before the kernel may change it); `sys_exit_bpf` adds the result and sends
//! the entry through the `EVENTS` ring buffer.
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{HashMap, RingBuf};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::tracepoints::{syscall_trace_enter, syscall_trace_exit};
use tool_abi::bpfsnoop::{
    BpfEvent, ATTR_LEN, BPF_LINK_CREATE, BPF_MAP_CREATE, BPF_PROG_LOAD, LICENSE_LEN,
    PROG_LOAD_LICENSE,
};

tool_abi::filter_globals!();
tool_abi::lost_counter!();

/// The call in flight per thread (`pid_tgid`), from entry to exit.
#[map]
static INFLIGHT: HashMap<u64, BpfEvent, 10240> = HashMap::new();

/// One `BpfEvent` per call.
#[map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

#[tracepoint(category = "syscalls", name = "sys_enter_bpf")]
fn bpf_enter(ctx: TracePointContext) -> u32 {
    if !filter_pass() {
        return 0;
    }
    // SAFETY: a syscalls/sys_enter_* record is a `syscall_trace_enter`.
    let record = unsafe { ctx.args::<syscall_trace_enter>() };
    // SAFETY: bpf(cmd, uattr, size) has three arguments in the record.
    let (cmd, uattr, size) = unsafe {
        (
            record.args_at(0) as u32,
            record.args_at(1),
            record.args_at(2) as u32,
        )
    };
    let mut event = BpfEvent::ZERO;
    event.pid = helpers::current_tgid();
    event.uid = helpers::current_uid();
    event.cmd = cmd;
    event.size = size;
    let _ = helpers::current_comm_into(&mut event.comm);
    if cmd == BPF_PROG_LOAD || cmd == BPF_MAP_CREATE || cmd == BPF_LINK_CREATE {
        let len = if size < ATTR_LEN as u32 {
            size
        } else {
            ATTR_LEN as u32
        };
        // SAFETY: `event.attr` has ATTR_LEN writable bytes and `len <= ATTR_LEN`; the helper
        // faults safely on a bad user address.
        unsafe {
            helpers::bpf_probe_read_user(event.attr.as_mut_ptr().cast(), len, uattr as *const _)
        };
        if cmd == BPF_PROG_LOAD {
            let mut ptr = [0u8; 8];
            ptr.copy_from_slice(&event.attr[PROG_LOAD_LICENSE..PROG_LOAD_LICENSE + 8]);
            let license = u64::from_ne_bytes(ptr);
            if license != 0 {
                // SAFETY: `event.license` has LICENSE_LEN writable bytes; the helper writes at
                // most that many, NUL included, and faults safely.
                unsafe {
                    helpers::bpf_probe_read_user_str(
                        event.license.as_mut_ptr().cast(),
                        LICENSE_LEN as u32,
                        license as *const _,
                    )
                };
            }
        }
    }
    let _ = INFLIGHT.insert(&helpers::current_pid_tgid(), &event, 0);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_bpf")]
fn bpf_exit(ctx: TracePointContext) -> u32 {
    let tid = helpers::current_pid_tgid();
    let Some(mut event) = INFLIGHT.get_ptr_mut(&tid) else {
        return 0;
    };
    // SAFETY: this thread's entry, written only by this thread's programs.
    let event = unsafe { event.as_mut() };
    // SAFETY: a syscalls/sys_exit_* record is a `syscall_trace_exit`.
    event.ret = unsafe { ctx.args::<syscall_trace_exit>() }.ret;
    if EVENTS.output(event, 0).is_err() {
        count_lost();
    }
    let _ = INFLIGHT.remove(&tid);
    0
}

bpfkit_ebpf::license!("GPL");
