//! Builds the kernel side (`../execsnoop-ebpf`) through bpfkit-build's stable-toolchain route;
//! `src/main.rs` embeds it with `include_ebpf!("execsnoop")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../execsnoop-ebpf") {
        eprintln!("error: building the execsnoop eBPF crate: {err}");
        std::process::exit(1);
    }
}
