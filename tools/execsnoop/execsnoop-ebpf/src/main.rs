//! execsnoop's kernel side: every `execve`, with pid, parent pid, uid, command, arguments and
//! return value, sent to userspace through a ring buffer.
//!
//! `sys_enter_execve` records the caller's identity and arguments into a per-pid `EXECS`
//! entry; `sys_exit_execve` adds the return value and the new command name, sends the event
//! (cut after the arguments used) and deletes the entry. The parent pid is read from
//! `task_struct` at offsets userspace resolves from the kernel's BTF and stores in `.rodata`
//! before loading (0 = unknown: ppid is reported as 0).
#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::flags::BPF_NOEXIST;
use bpfkit_ebpf::helpers::{self, probe_read_kernel, probe_read_user, probe_read_user_str_bytes};
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{HashMap, RingBuf};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::Global;
use execsnoop_common::{ExecEvent, ARGS_CAPACITY, ARG_SIZE, EVENT_HEADER_SIZE, MAX_ARGS};

#[map]
static EXECS: HashMap<u32, ExecEvent, 10240> = HashMap::new();

#[map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

/// Only report this uid (`u32::MAX`: everyone).
#[unsafe(no_mangle)]
static TARGET_UID: Global<u32> = Global::new(u32::MAX);
/// Offset of `task_struct.real_parent` in the running kernel.
#[unsafe(no_mangle)]
static TASK_REAL_PARENT_OFFSET: Global<u32> = Global::new(0);
/// Offset of `task_struct.tgid` in the running kernel.
#[unsafe(no_mangle)]
static TASK_TGID_OFFSET: Global<u32> = Global::new(0);

/// The template a new entry is created from (lives in `.rodata`, too large for the stack).
static EMPTY: ExecEvent = ExecEvent::ZERO;

/// `sys_enter_execve` record: `const char *filename` at 16, `const char *const *argv` at 24.
const ENTER_FILENAME: usize = 16;
const ENTER_ARGV: usize = 24;
/// `sys_exit_execve` record: `long ret` at 16.
const EXIT_RET: usize = 16;

fn parent_tgid() -> u32 {
    let real_parent = TASK_REAL_PARENT_OFFSET.get() as usize;
    let tgid = TASK_TGID_OFFSET.get() as usize;
    if real_parent == 0 || tgid == 0 {
        return 0;
    }
    let task = helpers::current_task().cast::<u8>();
    let parent = probe_read_kernel(task.wrapping_add(real_parent).cast::<*const u8>()).unwrap_or(core::ptr::null());
    if parent.is_null() {
        return 0;
    }
    probe_read_kernel(parent.wrapping_add(tgid).cast::<u32>()).unwrap_or(0)
}

#[tracepoint(category = "syscalls", name = "sys_enter_execve")]
fn execve_enter(ctx: TracePointContext) -> u32 {
    let uid = helpers::current_uid();
    let target = TARGET_UID.get();
    if target != u32::MAX && target != uid {
        return 0;
    }
    let pid = helpers::current_tgid();
    if EXECS.insert(&pid, &EMPTY, BPF_NOEXIST).is_err() {
        return 0;
    }
    let Some(mut event) = EXECS.get_ptr_mut(&pid) else {
        return 0;
    };
    // SAFETY: the entry was just created for this pid; only this task's exit handler
    // touches it again.
    let event = unsafe { event.as_mut() };
    event.pid = pid;
    event.uid = uid;
    event.ppid = parent_tgid();
    let _ = helpers::current_comm_into(&mut event.comm);

    // SAFETY: offsets of the pointer fields of the sys_enter_execve record.
    let filename: *const u8 = unsafe { ctx.read_at(ENTER_FILENAME) };
    let argv: *const *const u8 = unsafe { ctx.read_at(ENTER_ARGV) };
    if let Some(first) = event.args.get_mut(..ARG_SIZE) {
        if let Ok(name) = probe_read_user_str_bytes(filename, first) {
            event.args_size = name.len() as u32 + 1;
            event.args_count = 1;
        }
    }
    for i in 1..MAX_ARGS {
        let Ok(arg) = probe_read_user(argv.wrapping_add(i)) else {
            break;
        };
        if arg.is_null() {
            break;
        }
        let used = event.args_size as usize;
        if used > ARGS_CAPACITY - ARG_SIZE {
            break;
        }
        let Some(dest) = event.args.get_mut(used..used + ARG_SIZE) else {
            break;
        };
        let Ok(text) = probe_read_user_str_bytes(arg, dest) else {
            break;
        };
        event.args_size += text.len() as u32 + 1;
        event.args_count += 1;
    }
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_execve")]
fn execve_exit(ctx: TracePointContext) -> u32 {
    let pid = helpers::current_tgid();
    let Some(mut event) = EXECS.get_ptr_mut(&pid) else {
        return 0;
    };
    // SAFETY: the entry belongs to this task, created at its execve entry.
    let event = unsafe { event.as_mut() };
    // SAFETY: `long ret` of the sys_exit_execve record.
    event.retval = unsafe { ctx.read_at::<i64>(EXIT_RET) } as i32;
    let _ = helpers::current_comm_into(&mut event.comm);
    let used = EVENT_HEADER_SIZE + (event.args_size as usize).min(ARGS_CAPACITY);
    // SAFETY: the event is plain data; the slice covers exactly its bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts((event as *const ExecEvent).cast::<u8>(), core::mem::size_of::<ExecEvent>())
    };
    if let Some(sent) = bytes.get(..used) {
        let _ = EVENTS.output_bytes(sent, 0);
    }
    let _ = EXECS.remove(&pid);
    0
}

bpfkit_ebpf::license!("GPL");
