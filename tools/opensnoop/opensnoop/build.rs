//! Builds the kernel side (`../opensnoop-ebpf`) and generates its typed skeleton
//! (`$OUT_DIR/opensnoop.rs`, the object embedded), which `src/lib.rs` includes as `opensnoop::skel`.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../opensnoop-ebpf");
}
