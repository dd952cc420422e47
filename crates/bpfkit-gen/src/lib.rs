//! Generate Rust type definitions from BTF for eBPF programs.
