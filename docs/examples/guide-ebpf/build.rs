//! Generates the kernel types the CO-RE samples use from the running kernel's BTF, as the
//! guide's "CO-RE and kernel types" chapter shows.

// ANCHOR: build_rs
use std::path::PathBuf;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    println!("cargo:rerun-if-changed={VMLINUX}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("vmlinux.rs");
    // `task_struct` and every type it reaches, kernel flavour: each struct is marked for
    // CO-RE, so field accesses are relocated to the running kernel's layout at load time.
    let generated = bpfkit_gen::Generator::from_file(VMLINUX).and_then(|g| {
        g.types(["task_struct"])
            .module_attributes(false)
            .write_to(&out)
    });
    if let Err(e) = generated {
        panic!("generating kernel types: {e}");
    }
}
// ANCHOR_END: build_rs
