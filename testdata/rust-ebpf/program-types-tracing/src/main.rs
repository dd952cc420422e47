//! BTF-attached tracing programs, one per cargo feature so each object holds one program:
//! fentry, fexit, fmod_ret, lsm (sleepable) and a task iterator.
#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::flags::BPF_ANY;
use bpfkit_ebpf::macros::map;
use bpfkit_ebpf::maps::HashMap;

#[map]
static SEEN: HashMap<u32, u64, 64> = HashMap::new();

#[allow(dead_code)]
fn note(key: u32, value: u64) {
    let _ = SEEN.insert(&key, &value, BPF_ANY);
}

#[cfg(feature = "fentry")]
#[bpfkit_ebpf::macros::fentry(function = "do_unlinkat")]
fn unlink_entry(ctx: bpfkit_ebpf::programs::FEntryContext) -> i32 {
    // SAFETY: do_unlinkat(int dfd, struct filename *name): argument 0 is an int.
    note(1, unsafe { ctx.arg::<i32>(0) } as u64);
    0
}

#[cfg(feature = "fexit")]
#[bpfkit_ebpf::macros::fexit(function = "do_unlinkat")]
fn unlink_exit(ctx: bpfkit_ebpf::programs::FExitContext) -> i32 {
    note(2, ctx.ret().unwrap_or(0));
    0
}

#[cfg(feature = "fmod_ret")]
#[bpfkit_ebpf::macros::fmod_ret(function = "security_file_open")]
fn deny_nothing(_ctx: bpfkit_ebpf::programs::FModRetContext) -> i32 {
    0
}

#[cfg(feature = "lsm")]
#[bpfkit_ebpf::macros::lsm(hook = "file_open", sleepable)]
fn file_open(ctx: bpfkit_ebpf::programs::LsmContext) -> i32 {
    // SAFETY: file_open(struct file *file): one pointer argument.
    note(3, unsafe { ctx.arg::<u64>(0) });
    0
}

#[cfg(feature = "iter")]
#[bpfkit_ebpf::macros::iter(target = "task")]
fn each_task(ctx: bpfkit_ebpf::programs::IterContext) -> i32 {
    // SAFETY: bpf_iter__task { meta, task }: argument 1 is the task (NULL at the end).
    let task = unsafe { ctx.arg::<u64>(1) };
    if task != 0 {
        note(4, task);
    }
    0
}

bpfkit_ebpf::license!("GPL");
