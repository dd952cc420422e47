//! Builds the kernel side (`../opensnoop-ebpf`); `src/lib.rs` embeds it with
//! `include_ebpf!("opensnoop")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../opensnoop-ebpf") {
        panic!("building the opensnoop eBPF crate: {err}");
    }
}
