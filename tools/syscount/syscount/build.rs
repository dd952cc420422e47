//! Builds the kernel side (`../syscount-ebpf`); `src/lib.rs` embeds it with
//! `include_ebpf!("syscount")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../syscount-ebpf") {
        panic!("building the syscount eBPF crate: {err}");
    }
}
