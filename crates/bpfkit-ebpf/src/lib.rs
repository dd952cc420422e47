//! Kernel-side bpfkit: helpers, program contexts and maps for eBPF programs written in Rust.
//!
//! Build with bpfkit-build: stable rustc and rustup's llvm-tools, by default on plain stable
//! through the donor target (`riscv64imac-unknown-none-elf`, retargeted to BPF at link
//! time) or, with `BPFKIT_ROUTE=bpfel`, for `bpfel-unknown-none` (`-Z build-std=core` under
//! `RUSTC_BOOTSTRAP=1`). Code compiles the same on both: test `cfg(bpfkit_ebpf)` rather than `target_arch = "bpf"`, use [`ffi::c_char`] and
//! [`atomic`].
//!
//! `core` functions the verifier refuses, on both routes: `<[u8]>::contains` on slices of 16
//! bytes or more (its `memchr` aligns the pointer with `&`); search with `iter().any(..)`. The crate is `no_std` and panic-free: every operation that can
//! fail returns `Option`/`Result` with the helper's negative errno.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use bpfkit_ebpf::{macros::{map, tracepoint}, maps::RingBuf, programs::TracePointContext};
//!
//! #[map]
//! static EVENTS: RingBuf<{ 64 * 1024 }> = RingBuf::new();
//!
//! #[tracepoint(category = "syscalls", name = "sys_enter_execve")]
//! fn on_execve(_ctx: TracePointContext) -> u32 {
//!     let _ = EVENTS.output(&bpfkit_ebpf::helpers::current_tgid(), 0);
//!     0
//! }
//!
//! bpfkit_ebpf::license!("GPL");
//! ```
#![no_std]
#![deny(missing_docs)]

pub mod atomic;
pub mod bindings;
pub mod btf;
pub mod co_re;
pub mod ffi;
pub mod global;
pub mod helpers;
pub mod loops;
pub mod maps;
pub mod net;
pub mod programs;
pub mod sync;
pub mod tracepoints;

/// The attribute macros: `#[map]` and one per program type.
pub mod macros {
    pub use bpfkit_ebpf_macros::*;
}

pub use global::{Global, GlobalMut};

/// Declares the program's license (the `license` section the kernel reads to allow
/// GPL-only helpers).
///
/// ```ignore
/// bpfkit_ebpf::license!("Dual MIT/GPL");
/// ```
///
/// Built for any target other than BPF (`cargo check` on the host, which is what
/// rust-analyzer runs), it also supplies the panic handler a `#![no_std]` binary needs there,
/// so the kernel crate checks like any other crate. For a clean host check the crate's
/// `[[bin]]` also needs `test = false` and `bench = false` and `[profile.dev]` needs
/// `panic = "abort"`, as `bpfkit new` writes them.
#[macro_export]
macro_rules! license {
    ($license:literal) => {
        #[unsafe(no_mangle)]
        #[unsafe(link_section = "license")]
        #[used]
        static LICENSE: [u8; $license.len() + 1] = $crate::__nul_terminated($license);

        $crate::__host_panic_handler!();
    };
}

/// Includes a Rust file a build script wrote into `OUT_DIR` (bpfkit-gen's kernel types,
/// generated with `module_attributes(false)`) as a module, allowing the lints kernel names
/// trip. Attributes and doc comments before `mod` go on the module.
///
/// ```ignore
/// bpfkit_ebpf::generated_types!(mod vmlinux = "vmlinux.rs");
/// use vmlinux::task_struct;
/// ```
#[macro_export]
macro_rules! generated_types {
    ($(#[$attr:meta])* $vis:vis mod $name:ident = $file:literal) => {
        $(#[$attr])*
        #[allow(
            non_camel_case_types,
            non_snake_case,
            non_upper_case_globals,
            dead_code,
            missing_docs,
            clippy::all
        )]
        $vis mod $name {
            ::core::include!(::core::concat!(::core::env!("OUT_DIR"), "/", $file));
        }
    };
}

/// The panic handler `license!` adds on host builds (`cargo check`, rust-analyzer). Whether
/// this is a host build is decided here, in bpfkit-ebpf, which both build routes compile with
/// `--cfg bpfkit_ebpf` (the donor route's target is not `bpf`, and bpfkit-ebpf then brings
/// its own handler); the user's crate never needs to know that cfg.
#[cfg(not(any(target_arch = "bpf", bpfkit_ebpf)))]
#[doc(hidden)]
#[macro_export]
macro_rules! __host_panic_handler {
    () => {
        /// Host builds only (`cargo check`, rust-analyzer): BPF builds get bpfkit-ebpf's.
        #[cfg(not(test))]
        #[panic_handler]
        fn __bpfkit_host_panic(_info: &::core::panic::PanicInfo) -> ! {
            loop {}
        }
    };
}

/// BPF builds (either route): bpfkit-ebpf supplies the panic handler.
#[cfg(any(target_arch = "bpf", bpfkit_ebpf))]
#[doc(hidden)]
#[macro_export]
macro_rules! __host_panic_handler {
    () => {};
}

/// `bpf_trace_printk`: a debugging line in the kernel's trace buffer
/// (`/sys/kernel/tracing/trace_pipe`), with a kernel printf format and up to three integer
/// arguments. Returns the helper's result (bytes written or a negative errno).
///
/// ```ignore
/// bpfkit_ebpf::printk!("pid %d len %u", pid, len);
/// ```
#[macro_export]
macro_rules! printk {
    ($fmt:literal $(,)?) => {
        $crate::helpers::__printk(::core::concat!($fmt, "\0"), &[])
    };
    ($fmt:literal, $a:expr $(,)?) => {
        $crate::helpers::__printk(::core::concat!($fmt, "\0"), &[$a as u64])
    };
    ($fmt:literal, $a:expr, $b:expr $(,)?) => {
        $crate::helpers::__printk(::core::concat!($fmt, "\0"), &[$a as u64, $b as u64])
    };
    ($fmt:literal, $a:expr, $b:expr, $c:expr $(,)?) => {
        $crate::helpers::__printk(
            ::core::concat!($fmt, "\0"),
            &[$a as u64, $b as u64, $c as u64],
        )
    };
}

#[doc(hidden)]
pub const fn __nul_terminated<const N: usize>(text: &str) -> [u8; N] {
    let bytes = text.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < bytes.len() && i + 1 < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// The panic handler of eBPF programs. bpfkit-ebpf offers no panicking path and the linker
/// rejects programs in which one survives, so this is never reached. `bpfkit_ebpf` is the
/// cfg bpfkit-build sets on both routes (`target_arch = "bpf"` holds only on bpfel).
#[cfg(all(any(target_arch = "bpf", bpfkit_ebpf), not(test)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
