//! Builds the kernel side (`../syslat-ebpf`) and generates its typed skeleton
//! (`$OUT_DIR/syslat.rs`, the object embedded), which `src/lib.rs` includes as `syslat::skel`.

fn main() {
    bpfkit_gen::build::ebpf_with_skeleton("../syslat-ebpf");
}
