//! Generates `linux_binprm` (and the `file`, `inode` and `super_block` it reaches) from the
//! build machine's kernel BTF with bpfkit-gen, kernel flavour: every access is a CO-RE
//! relocation, moved at load time to the running kernel's layout.

use std::path::PathBuf;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    println!("cargo:rerun-if-changed={VMLINUX}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("vmlinux.rs");
    let generated = bpfkit_gen::Generator::from_file(VMLINUX).and_then(|g| {
        g.types(["linux_binprm"])
            .module_attributes(false)
            .write_to(&out)
    });
    if let Err(e) = generated {
        panic!("generating linux_binprm from {VMLINUX}: {e}");
    }
}
