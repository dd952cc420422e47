//! Generates the `sock/inet_sock_set_state` record type (`trace_event_raw_inet_sock_set_state`)
//! from the build machine's kernel BTF with bpfkit-gen, kernel flavour: the program reads the
//! record by field name, each read a CO-RE relocation the loader moves to the running
//! kernel's offset.

use std::path::PathBuf;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    println!("cargo:rerun-if-changed={VMLINUX}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("vmlinux.rs");
    let generated = bpfkit_gen::Generator::from_file(VMLINUX).and_then(|g| {
        g.types(["trace_event_raw_inet_sock_set_state"])
            .module_attributes(false)
            .write_to(&out)
    });
    if let Err(e) = generated {
        panic!("generating trace_event_raw_inet_sock_set_state from {VMLINUX}: {e}");
    }
}
