//! The same search as `slice_contains` written as `iter().any(..)`: accepted on both routes
//! (the documented alternative to `contains` on slices of 16 bytes or more).
#![no_std]
#![no_main]

use bpfkit_ebpf::macros::xdp;
use bpfkit_ebpf::programs::XdpContext;
use donor_core::{HAYSTACK, NEEDLE};

#[xdp]
fn slice_any(_ctx: XdpContext) -> u32 {
    let needle = NEEDLE.get();
    match HAYSTACK.get(0) {
        Some(haystack) if haystack.iter().any(|b| *b == needle) => 2,
        Some(_) => 1,
        None => 0,
    }
}

bpfkit_ebpf::license!("GPL");
