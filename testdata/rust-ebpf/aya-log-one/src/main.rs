//! The program of ../log-one written with Aya (aya-ebpf 0.1.1, aya-log-ebpf 0.1.0 from
//! crates.io), for the per-log-call comparison. Not built by the tests (it downloads Aya).
#![no_std]
#![no_main]

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};
use aya_log_ebpf::info;

#[xdp]
pub fn log_one(ctx: XdpContext) -> u32 {
    info!(&ctx, "unsigned {} {} {} {}", 8u8, 16u16, 32u32, 64u64);
    xdp_action::XDP_PASS
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";
