//! Generates `task_struct` (and what it reaches) from the build machine's kernel BTF into
//! `$OUT_DIR/vmlinux.rs`, kernel flavour: every access is a CO-RE relocation, moved at load
//! time to the running kernel's layout.

fn main() {
    bpfkit_gen::build::kernel_types(["task_struct"]);
}
