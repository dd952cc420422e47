//! Builds the guide's kernel samples (`../guide-ebpf`) and generates their typed skeleton,
//! as the guide's "Hello, tracepoint" chapter shows for a project of one's own.

// ANCHOR: build_rs
fn main() {
    // Builds the kernel crate for BPF (stable toolchain; rust-src and llvm-tools are
    // installed with rustup if missing) into OUT_DIR.
    let objects = match bpfkit_build::build_ebpf("../guide-ebpf") {
        Ok(objects) => objects,
        Err(e) => panic!("building the guide's eBPF crate: {e}"),
    };
    // One typed skeleton per object: `$OUT_DIR/guide.rs`, the object embedded.
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    for object in objects {
        let skeleton = bpfkit_gen::Skeleton::from_out_dir(&object.name)
            .and_then(|s| s.write_to(out.join(format!("{}.rs", object.name))));
        if let Err(e) = skeleton {
            panic!("skeleton of {}: {e}", object.name);
        }
    }
}
// ANCHOR_END: build_rs
