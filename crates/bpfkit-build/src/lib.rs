//! Build Rust eBPF crates with stable rustc and rustup's llvm-tools; home of the bpfkit-link linker.
//!
//! - [`build_ebpf`] / [`EbpfBuild`]: compile an eBPF crate from a build script with
//!   `bpfkit-link` as the linker, on plain stable by default (`cargo build --release
//!   --target riscv64imac-unknown-none-elf` with `-C linker-plugin-lto`, [`Route::Donor`]),
//!   and [`include_ebpf!`] to embed the object.
//! - [`link`]: the `bpfkit-link` linker that rustc runs for the donor target or
//!   `bpfel-unknown-none`.
//! - [`toolchain`]: finding rustc's sysroot and the rustup components the route needs.
//!
//! A userspace crate's `build.rs`:
//!
//! ```no_run
//! if let Err(err) = bpfkit_build::build_ebpf("../counter-ebpf") {
//!     panic!("{err}");
//! }
//! ```
//!
//! and its code: `static COUNTER: &[u8] = bpfkit_build::include_ebpf!("counter");`.
//!
//! Environment variables:
//!
//! | variable | read by | meaning |
//! |---|---|---|
//! | `BPFKIT_ROUTE` | driver | `donor` (default: plain stable, see [`Route::Donor`]) or `bpfel` (`-Z build-std=core` under `RUSTC_BOOTSTRAP=1`, see [`Route::Bpfel`]) |
//! | `BPFKIT_LINK` | driver | the `bpfkit-link` binary to use (default: built from this crate's sources) |
//! | `BPFKIT_EBPF_TARGET_DIR` | driver | target directory shared by eBPF builds (default: `bpfkit-ebpf/` in the calling build's target directory) |
//! | `BPFKIT_LLVM_TOOLS_DIR` | driver, linker | the llvm-tools directory (default: rustup's, under rustc's sysroot) |
//! | `BPFKIT_RUST_SRC_DIR` | driver | the `library/` directory of rust-src |
//! | `BPFKIT_LINK_KEEP_TEMPS=1` | linker | keep intermediate files in `<output>.bpfkit-link/` |
//!
//! CO-RE from Rust: see [`link::core_markers`] for the `bpfcore$…` marker externs the
//! linker turns into CO-RE relocations.

pub mod driver;
pub mod link;
pub mod toolchain;

pub use driver::{build_ebpf, BuildError, EbpfBuild, EbpfObject, Endianness, Route};
pub use toolchain::{Toolchain, ToolchainError, RUSTUP_COMPONENTS_COMMAND};

/// Like `include_bytes!`, but the bytes start at a 32-byte aligned address, as ELF
/// parsers reading headers in place need.
///
/// ```
/// static BYTES: &[u8] = bpfkit_build::include_bytes_aligned!("lib.rs");
/// assert_eq!(BYTES.as_ptr() as usize % 32, 0);
/// ```
#[macro_export]
macro_rules! include_bytes_aligned {
    ($path:expr) => {{
        #[repr(C, align(32))]
        struct Aligned<Bytes: ?Sized>(Bytes);
        static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!($path));
        &ALIGNED.0
    }};
}

/// Embeds the object that [`build_ebpf`] copied to `$OUT_DIR/<name>.bpf.o`, aligned.
///
/// ```ignore
/// static COUNTER: &[u8] = bpfkit_build::include_ebpf!("counter");
/// ```
#[macro_export]
macro_rules! include_ebpf {
    ($name:literal) => {
        $crate::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/", $name, ".bpf.o"))
    };
}
