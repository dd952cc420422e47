//! Builds the kernel side (`../syslat-ebpf`); `src/lib.rs` embeds it with
//! `include_ebpf!("syslat")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../syslat-ebpf") {
        panic!("building the syslat eBPF crate: {err}");
    }
}
