//! Builds the kernel side (`../syscount-ebpf`) and generates its typed skeleton
//! (`$OUT_DIR/syscount.rs`, the object embedded), which `src/lib.rs` includes as `syscount::skel`.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../syscount-ebpf");
}
