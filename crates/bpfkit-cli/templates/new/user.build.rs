//! Builds the kernel side (`../{{name}}-ebpf`) for BPF on the stable toolchain (it installs
//! rustup's llvm-tools and riscv64imac-unknown-none-elf target if they are missing);
//! `src/main.rs` embeds
//! the object with `include_ebpf!("{{name}}")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../{{name}}-ebpf") {
        eprintln!("error: building the {{name}} eBPF crate: {err}");
        std::process::exit(1);
    }
}
