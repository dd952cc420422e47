//! Generates the kernel types this program uses from the running kernel's BTF, through
//! bpfkit-gen's build-script API: the 300 most-referenced structs and unions and the
//! tracepoint records, kernel flavour.

use std::path::PathBuf;

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn main() {
    println!("cargo:rerun-if-changed={VMLINUX}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("vmlinux.rs");
    let generated = bpfkit_gen::Generator::from_file(VMLINUX).and_then(|g| {
        g.most_referenced(300)
            .types([
                "task_struct",
                "trace_event_raw_sys_enter",
                "trace_event_raw_sys_exit",
                "trace_event_raw_sched_process_exec",
            ])
            .module_attributes(false)
            .write_to(&out)
    });
    if let Err(e) = generated {
        panic!("generating kernel types: {e}");
    }
}
