
/// Runs at every entry of the kernel function `do_sys_openat2(dfd, filename, how)`.
#[kprobe(function = "do_sys_openat2")]
fn {{program}}(ctx: ProbeContext) -> u32 {
    // The first argument: the directory fd the path is relative to (-100 is AT_FDCWD).
    send(ctx.arg::<u64>(0).unwrap_or(0) as u32);
    0
}

bpfkit_ebpf::license!("GPL");
