//! Builds the guide's kernel samples (`../guide-ebpf`) and generates their typed skeleton,
//! as the guide's "Hello, tracepoint" chapter shows for a project of one's own.

// ANCHOR: build_rs
fn main() {
    // Builds the kernel crate for BPF (stable toolchain; rust-src and llvm-tools are
    // installed with rustup if missing) and writes one typed skeleton per object,
    // `$OUT_DIR/guide.rs`, the object embedded. Cargo reruns it when a kernel source changes.
    bpfkit_gen::build::ebpf_with_skeleton("../guide-ebpf");
}
// ANCHOR_END: build_rs
