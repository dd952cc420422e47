//! Builds the kernel side (`../syscount-ebpf`) through bpfkit-build's stable-toolchain route
//! and generates its typed skeleton (`$OUT_DIR/syscount.rs`, the object embedded), which
//! `src/lib.rs` includes as `syscount::skel`.

fn main() {
    let objects = match bpfkit_build::build_ebpf("../syscount-ebpf") {
        Ok(objects) => objects,
        Err(err) => {
            eprintln!("error: building the syscount eBPF crate: {err}");
            std::process::exit(1);
        }
    };
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    for object in objects {
        let skeleton = bpfkit_gen::Skeleton::from_out_dir(&object.name)
            .and_then(|s| s.write_to(out.join(format!("{}.rs", object.name))));
        if let Err(err) = skeleton {
            eprintln!("error: skeleton of {}: {err}", object.name);
            std::process::exit(1);
        }
    }
}
