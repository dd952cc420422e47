//! Generates the kernel types the CO-RE samples use from the running kernel's BTF, as the
//! guide's "CO-RE and kernel types" chapter shows.

// ANCHOR: build_rs
fn main() {
    // `task_struct` and every type it reaches, into `$OUT_DIR/vmlinux.rs`, kernel flavour:
    // each struct is marked for CO-RE, so field accesses are relocated to the running
    // kernel's layout at load time (and the build reruns when that BTF changes).
    bpfkit_gen::build::kernel_types(["task_struct"]);
}
// ANCHOR_END: build_rs
