//! `<[u8]>::contains` on 32 bytes: `core`'s `memchr`, which from 16 bytes on aligns the
//! pointer (`ptr & !7`) to read words; the verifier rejects that ("bitwise operator &= on
//! pointer prohibited") with either route's `core`. Shorter slices take the byte loop and
//! verify. Returns XDP_PASS when the needle is in the haystack, else XDP_DROP.
#![no_std]
#![no_main]

use bpfkit_ebpf::macros::xdp;
use bpfkit_ebpf::programs::XdpContext;
use donor_core::{HAYSTACK, NEEDLE};

#[xdp]
fn slice_contains(_ctx: XdpContext) -> u32 {
    match HAYSTACK.get(0) {
        Some(haystack) if haystack.contains(&NEEDLE.get()) => 2,
        Some(_) => 1,
        None => 0,
    }
}

bpfkit_ebpf::license!("GPL");
