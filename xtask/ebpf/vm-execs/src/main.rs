//! The kernel-matrix smoke program (`cargo xtask vm-test`, both architectures): records
//! every `execve` (tracepoint `syscalls/sys_enter_execve`) into a ring buffer. Uses only
//! what Debian's 6.1 verifier accepts (no ring buffer memory as a map value, unlike
//! `testdata/rust-ebpf/execve-events`), and is built once for bpfel.
#![no_std]
#![no_main]

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{map, tracepoint};
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::TracePointContext;

/// One exec, as the program saw it on entry to `execve`.
#[repr(C)]
pub struct ExecEvent {
    pub pid: u32,
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    pub ktime_ns: u64,
    pub comm: [u8; 16],
    pub filename: [u8; 128],
}

#[map]
static EVENTS: RingBuf<{ 64 * 1024 }> = RingBuf::new();

/// Offset of `filename` in the `sys_enter_execve` record (see its `format` file).
const FILENAME_OFFSET: usize = 16;

#[tracepoint(category = "syscalls", name = "sys_enter_execve")]
fn record_execve(ctx: TracePointContext) -> u32 {
    let Some(mut entry) = EVENTS.reserve::<ExecEvent>() else {
        return 1;
    };
    let pid_tgid = helpers::current_pid_tgid();
    let uid_gid = helpers::current_uid_gid();
    let event = entry.write(ExecEvent {
        pid: pid_tgid as u32,
        tgid: (pid_tgid >> 32) as u32,
        uid: uid_gid as u32,
        gid: (uid_gid >> 32) as u32,
        ktime_ns: helpers::ktime_get_ns(),
        comm: [0; 16],
        filename: [0; 128],
    });
    let _ = helpers::current_comm_into(&mut event.comm);
    // SAFETY: `filename` is the `const char *` field at offset 16 of sys_enter_execve.
    let filename: *const u8 = unsafe { ctx.read_at(FILENAME_OFFSET) };
    let _ = helpers::probe_read_user_str_bytes(filename, &mut event.filename);
    entry.submit(0);
    0
}

bpfkit_ebpf::license!("GPL");
