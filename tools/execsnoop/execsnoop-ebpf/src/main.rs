//! execsnoop's kernel side: every `execve`, with pid, parent pid, uid, command, arguments and
//! return value, sent to userspace through a ring buffer.
//!
//! `sys_enter_execve` records the caller's identity and arguments into a per-pid `EXECS`
//! entry; `sys_exit_execve` adds the return value and the new command name, sends the event
//! (cut after the arguments used) and deletes the entry. The parent pid is read from
//! `task_struct.real_parent->tgid` through CO-RE markers, relocated at load time to the
//! running kernel's layout. `TARGET_PID`, `TARGET_UID` and the shared `--comm`/`--cgroup`
//! filter (`tool_abi::filter_globals!`) live in frozen `.rodata`, so the verifier prunes the
//! filters userspace leaves off. Events the full ring buffer refuses are counted in `LOST`.
#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::flags::BPF_NOEXIST;
use bpfkit_ebpf::helpers::{self, probe_read_kernel, probe_read_user};
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::{HashMap, RingBuf};
use bpfkit_ebpf::programs::TracePointContext;
use bpfkit_ebpf::tracepoints::{syscall_trace_enter, syscall_trace_exit};
use bpfkit_ebpf::Global;
use execsnoop_common::{ExecEvent, ARGS_CAPACITY, ARG_SIZE, EVENT_HEADER_SIZE, MAX_ARGS};

#[map]
static EXECS: HashMap<u32, ExecEvent, 10240> = HashMap::new();

#[map]
static EVENTS: RingBuf<{ 256 * 1024 }> = RingBuf::new();

/// Only report this uid (`u32::MAX`: everyone).
#[unsafe(no_mangle)]
static TARGET_UID: Global<u32> = Global::new(u32::MAX);
/// Only report execs by this process id (0: every process).
#[unsafe(no_mangle)]
static TARGET_PID: Global<u32> = Global::new(0);

// `--comm` and `--cgroup` (FILTER_COMM_*, FILTER_CGROUP_*); `--pid` stays TARGET_PID, as in
// the C twin (../bench), so FILTER_PID is left 0. `count_lost()` for a full ring buffer.
tool_abi::filter_globals!();
tool_abi::lost_counter!();

/// The kernel's `struct task_struct`, reduced to the members read here (kernel names;
/// the offsets are placeholders that CO-RE relocates to the running kernel's).
#[allow(non_camel_case_types)]
#[repr(C)]
struct task_struct {
    tgid: i32,
    real_parent: *const task_struct,
}

unsafe extern "C" {
    /// CO-RE marker: address of `task->tgid` in the running kernel.
    #[link_name = "bpfcore$field$task_struct$tgid"]
    fn task_tgid(task: *const task_struct) -> *const i32;
    /// CO-RE marker: address of `task->real_parent` in the running kernel.
    #[link_name = "bpfcore$field$task_struct$real_parent"]
    fn task_real_parent(task: *const task_struct) -> *const *const task_struct;
}

/// The template a new entry is created from (lives in `.rodata`, too large for the stack).
static EMPTY: ExecEvent = ExecEvent::ZERO;

/// `current->real_parent->tgid` (0 if a read fails).
fn parent_tgid() -> u32 {
    // SAFETY: bpf_get_current_task takes no arguments and cannot fail.
    let task = unsafe { helpers::bpf_get_current_task() } as *const task_struct;
    // SAFETY: the markers only compute addresses (rewritten by bpfkit-link into CO-RE
    // accesses); memory is read through bpf_probe_read_kernel only.
    let parent = probe_read_kernel(unsafe { task_real_parent(task) }).unwrap_or(core::ptr::null());
    if parent.is_null() {
        return 0;
    }
    // SAFETY: as above, an address computation on the parent task.
    probe_read_kernel(unsafe { task_tgid(parent) }).map_or(0, |tgid| tgid as u32)
}

#[tracepoint(category = "syscalls", name = "sys_enter_execve")]
fn execve_enter(ctx: TracePointContext) -> u32 {
    let uid = helpers::current_uid();
    let target = TARGET_UID.get();
    if target != u32::MAX && target != uid {
        return 0;
    }
    let pid = helpers::current_tgid();
    let target_pid = TARGET_PID.get();
    if target_pid != 0 && target_pid != pid {
        return 0;
    }
    // The caller's command name (before the exec) and cgroup.
    if !filter_pass() {
        return 0;
    }
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

    // SAFETY: a syscalls/sys_enter_* record is a `syscall_trace_enter`.
    let record = unsafe { ctx.args::<syscall_trace_enter>() };
    // SAFETY: execve(filename, argv, envp) has three arguments in the record.
    let (filename, argv) = unsafe { (record.args_at(0), record.args_at(1)) };
    let filename = filename as *const u8;
    let argv = argv as *const *const u8;
    let args = event.args.as_mut_ptr();
    // SAFETY: `args` has room for ARG_SIZE bytes at 0; the helper writes at most that many
    // and faults safely on a bad user address.
    let read =
        unsafe { helpers::bpf_probe_read_user_str(args.cast(), ARG_SIZE as u32, filename.cast()) };
    if read > 0 {
        // Bytes read, NUL included (at most ARG_SIZE).
        event.args_size = read as u32;
        event.args_count = 1;
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
        // The raw helper rather than `probe_read_user_str_bytes`: its return value (length
        // with the NUL) is all we keep, and skipping the slice saves the verifier a bounds
        // check per argument (the C twin in ../bench does the same).
        // SAFETY: `used <= ARGS_CAPACITY - ARG_SIZE`, so ARG_SIZE bytes at `args + used` lie
        // inside `event.args`; the helper writes at most that many.
        let read = unsafe {
            helpers::bpf_probe_read_user_str(
                args.wrapping_add(used).cast(),
                ARG_SIZE as u32,
                arg.cast(),
            )
        };
        if read < 0 {
            break;
        }
        event.args_size += read as u32;
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
    // SAFETY: a syscalls/sys_exit_* record is a `syscall_trace_exit`.
    event.retval = unsafe { ctx.args::<syscall_trace_exit>() }.ret as i32;
    let _ = helpers::current_comm_into(&mut event.comm);
    let used = EVENT_HEADER_SIZE + (event.args_size as usize).min(ARGS_CAPACITY);
    // SAFETY: the event is plain data; the slice covers exactly its bytes.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            (event as *const ExecEvent).cast::<u8>(),
            core::mem::size_of::<ExecEvent>(),
        )
    };
    if let Some(sent) = bytes.get(..used) {
        if EVENTS.output_bytes(sent, 0).is_err() {
            count_lost();
        }
    }
    let _ = EXECS.remove(&pid);
    0
}

bpfkit_ebpf::license!("GPL");
