//! Kernel-side bpfkit: helpers, program contexts and maps for eBPF programs written in Rust.
#![no_std]
