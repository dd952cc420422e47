
/// Runs at every call of `malloc(size)` in the C library, in every process that maps it.
#[uprobe(path = "libc.so.6", function = "malloc")]
fn {{program}}(ctx: ProbeContext) -> u32 {
    send(ctx.arg::<u64>(0).unwrap_or(0) as u32);
    0
}

bpfkit_ebpf::license!("GPL");
