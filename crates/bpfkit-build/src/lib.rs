//! Build Rust eBPF crates with stable rustc and rustup's llvm-tools; home of the bpfkit-link linker.
