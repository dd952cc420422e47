//! Builds the kernel side (`../tcpconnect-ebpf`) and generates its typed skeleton
//! (`$OUT_DIR/tcpconnect.rs`, the object embedded), which `src/lib.rs` includes as `tcpconnect::skel`.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../tcpconnect-ebpf");
}
