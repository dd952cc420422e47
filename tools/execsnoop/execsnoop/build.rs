//! Builds the kernel side (`../execsnoop-ebpf`) and generates its typed skeleton
//! (`$OUT_DIR/execsnoop.rs`, the object embedded), which `src/lib.rs` includes as `execsnoop::skel`.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../execsnoop-ebpf");
}
