//! An XDP program (run with BPF_PROG_TEST_RUN) that logs one message per level, covering
//! every argument type and placeholder of bpfkit-log-ebpf.
#![no_std]
#![no_main]

use bpfkit_ebpf::macros::xdp;
use bpfkit_ebpf::programs::{XdpContext, XDP_PASS};
use bpfkit_log_ebpf::{debug, error, info, trace, warn};

#[xdp]
fn log_everything(ctx: XdpContext) -> u32 {
    let len = (ctx.data_end() - ctx.data()) as u32;
    error!("unsigned {} {} {} {}", 8u8, 16u16, 32u32, 64u64);
    warn!("signed {} {} {} {}", -8i8, -16i16, -32i32, -64i64);
    info!("hex {:x} {:X} bool {} packet {} bytes", 0xbeefu32, 0xcafeu64, true, len);
    info!(
        "ipv4 {:i} {:i} ipv6 {:i} mac {:mac}",
        u32::from_ne_bytes([10, 1, 2, 3]),
        [192u8, 168, 0, 1],
        [0x20u8, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0x02u8, 0x42, 0xac, 0x11, 0x00, 0x0a]
    );
    debug!("name {} str {}", *b"bpfkit\0\0", "from rust");
    trace!(target: "custom", "bytes {:x}", [1u8, 2, 0xff]);
    XDP_PASS
}

bpfkit_ebpf::license!("GPL");
