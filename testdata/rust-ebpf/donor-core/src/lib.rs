//! What the two programs share: the haystack map and the needle global.
#![no_std]

use bpfkit_ebpf::macros::map;
use bpfkit_ebpf::maps::Array;
use bpfkit_ebpf::Global;

/// 32 bytes set by the test: long enough for `core`'s word-at-a-time `memchr`.
#[map]
pub static HAYSTACK: Array<[u8; 32], 1> = Array::new();

/// The byte looked for (set by the loader).
#[unsafe(no_mangle)]
pub static NEEDLE: Global<u8> = Global::new(0);
