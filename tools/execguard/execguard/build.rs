//! Builds the kernel side (`../execguard-ebpf`) through bpfkit-build's stable-toolchain route;
//! `src/main.rs` embeds it with `include_ebpf!("execguard")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../execguard-ebpf") {
        eprintln!("error: building the execguard eBPF crate: {err}");
        std::process::exit(1);
    }
}
