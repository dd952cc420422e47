//! C types as the BPF target sees them, the same on both build routes.
//!
//! `core::ffi::c_char` follows the compiling target: `i8` for `bpfel-unknown-none`, `u8` on the
//! donor route's `riscv64imac-unknown-none-elf`. BPF's `char` is signed (clang's BPF target),
//! so bpfkit-ebpf's helper signatures use this `c_char`, and code written against them builds
//! unchanged on either route.

/// C's `char` on BPF: signed.
#[allow(non_camel_case_types)]
pub type c_char = i8;

pub use core::ffi::c_void;
