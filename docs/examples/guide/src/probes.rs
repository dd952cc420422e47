//! Attaching kprobes and uprobes.

use bpfkit::links::Link;
use bpfkit::programs::{kprobe, uprobe};

use crate::skel::Skel;
use crate::Error;

// ANCHOR: attach_kprobe
/// Attaches `trace_open` to `do_sys_openat2` (needs a kernel with `CONFIG_KPROBES`).
pub fn attach_open_probe(skel: &Skel) -> Result<Link, Error> {
    let program = skel.progs().trace_open().ok_or("trace_open not loaded")?;
    Ok(kprobe::attach(
        program,
        "do_sys_openat2",
        &kprobe::KprobeOptions::default(),
    )?)
}
// ANCHOR_END: attach_kprobe

// ANCHOR: attach_uretprobe
/// Attaches `getppid_return` to the return of libc's `getppid`, in process `pid` only.
pub fn attach_getppid_return(skel: &Skel, pid: i32) -> Result<Link, Error> {
    let program = skel
        .progs()
        .getppid_return()
        .ok_or("getppid_return not loaded")?;
    let options = uprobe::UprobeOptions {
        retprobe: true,
        pid: Some(pid),
        ..Default::default()
    };
    // "libc.so.6" is found as the dynamic loader would (ld.so.cache), or in the process's
    // own maps when a pid is given.
    let target = uprobe::UprobeTarget::Symbol("getppid", 0);
    Ok(uprobe::attach(program, "libc.so.6", target, &options)?)
}

/// What the uretprobe saw last (`.bss`).
pub fn last_ppid(skel: &Skel) -> Result<u64, Error> {
    Ok(skel.bss().LAST_PPID()?)
}
// ANCHOR_END: attach_uretprobe
