//! Builds the kernel side (`../bpfsnoop-ebpf`); `src/lib.rs` embeds it with
//! `include_ebpf!("bpfsnoop")`.

fn main() {
    if let Err(err) = bpfkit_build::build_ebpf("../bpfsnoop-ebpf") {
        panic!("building the bpfsnoop eBPF crate: {err}");
    }
}
