//! Builds the kernel side (`../tcpconnect-ebpf`); `src/lib.rs` embeds it with
//! `include_ebpf!("tcpconnect")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../tcpconnect-ebpf") {
        panic!("building the tcpconnect eBPF crate: {err}");
    }
}
