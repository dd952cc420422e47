//! Builds the kernel side (`../{{name}}-ebpf`) for BPF on the stable toolchain (it installs
//! rustup's llvm-tools and riscv64imac-unknown-none-elf target if they are missing) and
//! generates its typed skeleton, `$OUT_DIR/{{name}}.rs`, which `src/main.rs` includes.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../{{name}}-ebpf");
}
