//! Generates the `sock/inet_sock_set_state` record type (`trace_event_raw_inet_sock_set_state`)
//! from the build machine's kernel BTF into `$OUT_DIR/vmlinux.rs`, kernel flavour: the program
//! reads the record by field name, each read a CO-RE relocation the loader moves to the
//! running kernel's offset.

fn main() {
    bpfkit_gen::build::kernel_types(["trace_event_raw_inet_sock_set_state"]);
}
