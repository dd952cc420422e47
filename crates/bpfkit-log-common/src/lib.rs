//! Record layout shared by bpfkit-log and bpfkit-log-ebpf.
#![no_std]
