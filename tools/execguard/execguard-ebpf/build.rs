//! Generates `linux_binprm` (and the `file`, `inode` and `super_block` it reaches) from the
//! build machine's kernel BTF into `$OUT_DIR/vmlinux.rs`, kernel flavour: every access is a
//! CO-RE relocation, moved at load time to the running kernel's layout.

fn main() {
    bpfkit_gen::build::kernel_types(["linux_binprm"]);
}
