//! Builds the kernel side (`../bpfsnoop-ebpf`) and generates its typed skeleton
//! (`$OUT_DIR/bpfsnoop.rs`, the object embedded), which `src/lib.rs` includes as `bpfsnoop::skel`.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../bpfsnoop-ebpf");
}
