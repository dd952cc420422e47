//! Builds the kernel side (`../xdpfilter-ebpf`) and generates its typed skeleton
//! (`$OUT_DIR/xdpfilter.rs`, the object embedded), which `src/lib.rs` includes as
//! `xdpfilter::skel`.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../xdpfilter-ebpf");
}
