//! kprobes and uprobes.

use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{kprobe, map, uretprobe};
use bpfkit_ebpf::maps::RingBuf;
use bpfkit_ebpf::programs::ProbeContext;
use bpfkit_ebpf::GlobalMut;

// ANCHOR: kprobe
/// Opened paths, as NUL-padded 64-byte records.
#[map]
static OPENS: RingBuf<{ 64 * 1024 }> = RingBuf::new();

/// Entry of the kernel function `do_sys_openat2(int dfd, const char __user *filename, …)`.
#[kprobe(function = "do_sys_openat2")]
fn trace_open(ctx: ProbeContext) -> u32 {
    if !crate::is_target() {
        return 0;
    }
    // Argument 1 under the C calling convention: a pointer into the caller's memory.
    let Some(filename) = ctx.arg::<*const u8>(1) else {
        return 0;
    };
    if let Some(mut entry) = OPENS.reserve::<[u8; 64]>() {
        let path = entry.write([0; 64]);
        // A faulting or too long string leaves a short or empty path, never a crash.
        let _ = helpers::probe_read_user_str_bytes(filename, path);
        entry.submit(0);
    }
    0
}
// ANCHOR_END: kprobe

// ANCHOR: uretprobe
/// The value the target's last `getppid()` returned (`.bss`).
#[unsafe(no_mangle)]
static LAST_PPID: GlobalMut<u64> = GlobalMut::new(0);

/// Return of a userspace function; userspace chooses which (here, libc's `getppid`).
#[uretprobe]
fn getppid_return(ctx: ProbeContext) -> u32 {
    if crate::is_target() {
        LAST_PPID.set(ctx.ret::<u64>());
    }
    0
}
// ANCHOR_END: uretprobe
