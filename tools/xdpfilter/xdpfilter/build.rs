//! Builds the kernel side (`../xdpfilter-ebpf`) through bpfkit-build's stable-toolchain route;
//! `src/lib.rs` embeds it with `include_ebpf!("xdpfilter")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../xdpfilter-ebpf") {
        eprintln!("error: building the xdpfilter eBPF crate: {err}");
        std::process::exit(1);
    }
}
