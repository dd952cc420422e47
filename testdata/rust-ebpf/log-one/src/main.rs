//! One log call and nothing else: the per-call cost of bpfkit-log-ebpf, comparable with the
//! same program written with Aya's aya-log-ebpf (`info!(&ctx, ...)`, same message).
#![no_std]
#![no_main]

use bpfkit_ebpf::macros::xdp;
use bpfkit_ebpf::programs::{XdpContext, XDP_PASS};
use bpfkit_log_ebpf::info;

#[xdp]
fn log_one(_ctx: XdpContext) -> u32 {
    info!("unsigned {} {} {} {}", 8u8, 16u16, 32u32, 64u64);
    XDP_PASS
}

bpfkit_ebpf::license!("GPL");
