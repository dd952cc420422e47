//! Kernel-side bpfkit logging macros.
#![no_std]
