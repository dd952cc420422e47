//! Programs of the types the host cannot attach or run here, for the verifier alone: each
//! touches its context the way a real program would.
#![no_std]
#![no_main]

use bpfkit_ebpf::bindings::flags::BPF_ANY;
use bpfkit_ebpf::helpers;
use bpfkit_ebpf::macros::{
    cgroup_device, cgroup_sock, cgroup_sock_addr, cgroup_sockopt, cgroup_sysctl, kprobe,
    kretprobe, ksyscall, map, sk_lookup, sk_msg, sk_skb, sock_ops, uprobe, uretprobe, usdt,
};
use bpfkit_ebpf::maps::{HashMap, SockHash, SockMap};
use bpfkit_ebpf::programs::{
    CgroupDeviceContext, CgroupSockAddrContext, CgroupSockContext, CgroupSockoptContext,
    CgroupSysctlContext, ProbeContext, SkLookupContext, SkMsgContext, SkSkbContext,
    SockOpsContext,
};

#[map]
static SEEN: HashMap<u32, u64, 64> = HashMap::new();
#[map]
static SOCKS: SockMap<4> = SockMap::new();
#[map]
static SOCKS_BY_PORT: SockHash<u32, 4> = SockHash::new();

fn note(key: u32, value: u64) {
    let _ = SEEN.insert(&key, &value, BPF_ANY);
}

#[kprobe(function = "do_unlinkat")]
fn unlink_entry(ctx: ProbeContext) -> u32 {
    note(1, ctx.arg::<u64>(0).unwrap_or(0));
    0
}

#[kretprobe(function = "do_unlinkat")]
fn unlink_return(ctx: ProbeContext) -> u32 {
    note(2, ctx.ret::<i64>() as u64);
    0
}

#[ksyscall(syscall = "openat")]
fn openat_entry(ctx: ProbeContext) -> u32 {
    note(3, ctx.syscall_arg::<u64>(2).unwrap_or(0));
    0
}

#[uprobe(path = "/bin/true", offset = 4096)]
fn user_entry(ctx: ProbeContext) -> u32 {
    note(4, ctx.arg::<u64>(1).unwrap_or(0));
    0
}

#[uretprobe(path = "/bin/true", offset = 4096)]
fn user_return(ctx: ProbeContext) -> u32 {
    note(5, ctx.ret::<u64>());
    0
}

#[usdt]
fn usdt_probe(_ctx: ProbeContext) -> u32 {
    note(6, helpers::current_tgid() as u64);
    0
}

#[sock_ops]
fn sock_events(ctx: SockOpsContext) -> i32 {
    note(7, ctx.op() as u64);
    // BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB
    if ctx.op() == 5 {
        let _ = SOCKS.update(&ctx, 0, BPF_ANY);
        let _ = SOCKS_BY_PORT.update(&ctx, &ctx.local_port(), BPF_ANY);
    }
    1
}

#[sk_msg]
fn redirect_msg(ctx: SkMsgContext) -> i32 {
    note(8, ctx.size() as u64);
    SOCKS.redirect_msg(&ctx, 0, 0) as i32
}

#[sk_skb(kind = "stream_verdict")]
fn redirect_skb(ctx: SkSkbContext) -> i32 {
    note(9, ctx.len() as u64);
    SOCKS_BY_PORT.redirect_skb(&ctx, &ctx.local_port(), 0) as i32
}

#[sk_skb(kind = "stream_parser")]
fn parse_skb(ctx: SkSkbContext) -> i32 {
    ctx.len() as i32
}

#[sk_lookup]
fn lookup(ctx: SkLookupContext) -> i32 {
    note(10, ctx.local_port() as u64);
    1 // SK_PASS
}

#[cgroup_sock(attach = "sock_create")]
fn sock_create(ctx: CgroupSockContext) -> i32 {
    note(11, ctx.family() as u64 * 100 + ctx.protocol() as u64);
    1
}

#[cgroup_sock_addr(attach = "connect4")]
fn connect4(mut ctx: CgroupSockAddrContext) -> i32 {
    note(12, ctx.user_port() as u64);
    if ctx.user_ip4() == u32::from_ne_bytes([10, 0, 0, 1]) {
        ctx.set_user_ip4(u32::from_ne_bytes([127, 0, 0, 1]));
    }
    1
}

#[cgroup_sysctl]
fn sysctl(ctx: CgroupSysctlContext) -> i32 {
    let mut name = [0u8; 32];
    let len = ctx.name(&mut name, 0).map_or(0, |n| n.len());
    note(13, len as u64 * 10 + ctx.write() as u64);
    1
}

#[cgroup_sockopt(attach = "getsockopt")]
fn getsockopt(ctx: CgroupSockoptContext) -> i32 {
    note(14, ctx.level() as u64 * 1000 + ctx.optname() as u64);
    1
}

#[cgroup_device]
fn device(ctx: CgroupDeviceContext) -> i32 {
    note(15, ctx.major() as u64 * 1000 + ctx.minor() as u64);
    1
}

bpfkit_ebpf::license!("GPL");
