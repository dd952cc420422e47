//! Generates the kernel types this program uses from the running kernel's BTF (bpfkit-gen's
//! build-script API, kernel flavour).

use std::path::PathBuf;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    println!("cargo:rerun-if-changed={VMLINUX}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("vmlinux.rs");
    let generated = bpfkit_gen::Generator::from_file(VMLINUX).and_then(|g| {
        g.types([
            "task_struct",
            "list_head",
            "bpf_map_type",
            "trace_event_raw_sys_enter",
        ])
        .module_attributes(false)
        .write_to(&out)
    });
    if let Err(e) = generated {
        panic!("generating kernel types: {e}");
    }
}
