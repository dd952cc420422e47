//! Builds the kernel side (`../execguard-ebpf`) and generates its typed skeleton
//! (`$OUT_DIR/execguard.rs`, the object embedded), which `src/lib.rs` includes as `execguard::skel`.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../execguard-ebpf");
}
