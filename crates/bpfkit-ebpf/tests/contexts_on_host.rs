//! The program attributes' entry points and the context accessors, run on the host against
//! context structs laid out as the kernel lays them out.

use core::ffi::c_void;

use bpfkit_ebpf::bindings::{__sk_buff, bpf_cgroup_dev_ctx, pt_regs, xdp_md};
use bpfkit_ebpf::macros::{cgroup_device, classifier, raw_tracepoint, tracepoint, uprobe, xdp};
use bpfkit_ebpf::programs::{
    CgroupDeviceContext, ProbeContext, RawTracePointContext, TcContext, TracePointContext,
    XdpContext, XDP_DROP, XDP_PASS,
};

#[xdp]
fn pass_on_even_ifindex(ctx: XdpContext) -> u32 {
    if ctx.ingress_ifindex() % 2 == 0 {
        XDP_PASS
    } else {
        XDP_DROP
    }
}

#[test]
fn xdp_entry_point_reads_ingress_ifindex() {
    let mut md = xdp_md {
        data: 0,
        data_end: 0,
        data_meta: 0,
        ingress_ifindex: 4,
        rx_queue_index: 1,
        egress_ifindex: 0,
    };
    assert_eq!(
        pass_on_even_ifindex((&mut md as *mut xdp_md).cast()),
        XDP_PASS
    );
    md.ingress_ifindex = 5;
    assert_eq!(
        pass_on_even_ifindex((&mut md as *mut xdp_md).cast()),
        XDP_DROP
    );
}

#[classifier(attach = "ingress")]
fn mark_packet(mut ctx: TcContext) -> i32 {
    let mark = ctx.mark();
    ctx.set_mark(mark | 0x100);
    ctx.len() as i32
}

#[test]
fn tc_entry_point_reads_and_writes_skb_fields() {
    // SAFETY: `__sk_buff` is plain integers; all-zero is a valid value.
    let mut skb: __sk_buff = unsafe { core::mem::zeroed() };
    skb.len = 1500;
    skb.mark = 0x2;
    assert_eq!(mark_packet((&mut skb as *mut __sk_buff).cast()), 1500);
    assert_eq!(skb.mark, 0x102);
}

#[repr(C)]
struct SysEnterRecord {
    common: u64,
    id: i64,
    args: [u64; 6],
}

#[tracepoint(category = "syscalls", name = "sys_enter_openat")]
fn second_syscall_arg(ctx: TracePointContext) -> u32 {
    // SAFETY: offset 24 is `args[1]` of the sys_enter record, an 8-byte field.
    unsafe { ctx.read_at::<u64>(24) as u32 }
}

#[test]
fn tracepoint_reads_record_field_at_offset() {
    let mut rec = SysEnterRecord {
        common: 0,
        id: 257,
        args: [1, 0x41, 3, 4, 5, 6],
    };
    assert_eq!(
        second_syscall_arg((&mut rec as *mut SysEnterRecord).cast()),
        0x41
    );
}

#[tracepoint(category = "syscalls", name = "sys_enter_openat")]
fn openat_flags_by_name(ctx: TracePointContext) -> u32 {
    // SAFETY: a syscalls/sys_enter_* record is a `syscall_trace_enter`.
    let record = unsafe { ctx.args::<bpfkit_ebpf::tracepoints::syscall_trace_enter>() };
    // SAFETY: openat has four arguments; flags is the third.
    record.nr as u32 * 1000 + unsafe { record.args_at(2) } as u32
}

#[test]
fn tracepoint_reads_generated_record_fields_by_name() {
    let mut rec = SysEnterRecord {
        common: 0,
        id: 257,
        args: [1, 0x41, 3, 4, 5, 6],
    };
    // `nr` is the low half of the raw record's 8-byte `id` slot (little-endian host).
    assert_eq!(
        openat_flags_by_name((&mut rec as *mut SysEnterRecord).cast()),
        257_003
    );
}

#[raw_tracepoint(tracepoint = "sys_enter")]
fn raw_syscall_id(ctx: RawTracePointContext) -> u32 {
    // SAFETY: sys_enter's raw arguments are (struct pt_regs *regs, long id).
    unsafe { ctx.arg::<i64>(1) as u32 }
}

#[test]
fn raw_tracepoint_reads_argument_slots() {
    let mut args = [0xdead_u64, 59];
    assert_eq!(raw_syscall_id(args.as_mut_ptr().cast()), 59);
}

#[uprobe(path = "/bin/true", function = "main")]
fn third_argument(ctx: ProbeContext) -> u32 {
    ctx.arg::<u32>(2).unwrap_or(u32::MAX) + ctx.arg::<u32>(9).map_or(0, |_| 1000)
}

#[cfg(target_arch = "x86_64")]
#[test]
fn probe_context_maps_arguments_to_x86_64_registers() {
    // SAFETY: `pt_regs` is plain integers; all-zero is a valid value.
    let mut regs: pt_regs = unsafe { core::mem::zeroed() };
    regs.rdi = 1;
    regs.rsi = 2;
    regs.rdx = 33;
    regs.rax = 77;
    assert_eq!(third_argument((&mut regs as *mut pt_regs).cast()), 33);
    // SAFETY: `regs` outlives the context.
    let ctx = unsafe { ProbeContext::new((&mut regs as *mut pt_regs).cast::<c_void>()) };
    assert_eq!(ctx.ret::<u64>(), 77);
    assert_eq!(ctx.arg::<u64>(6), None);
}

#[cgroup_device]
fn allow_char_reads(ctx: CgroupDeviceContext) -> i32 {
    // BPF_DEVCG_DEV_CHAR = 2, BPF_DEVCG_ACC_READ = 2
    (ctx.device_type() == 2 && ctx.access() == 2 && ctx.major() == 1) as i32
}

#[test]
fn cgroup_device_splits_access_and_type() {
    let mut dev = bpf_cgroup_dev_ctx {
        access_type: (2 << 16) | 2,
        major: 1,
        minor: 3,
    };
    assert_eq!(
        allow_char_reads((&mut dev as *mut bpf_cgroup_dev_ctx).cast()),
        1
    );
    dev.access_type = (4 << 16) | 2;
    assert_eq!(
        allow_char_reads((&mut dev as *mut bpf_cgroup_dev_ctx).cast()),
        0
    );
}
