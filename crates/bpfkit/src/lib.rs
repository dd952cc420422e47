//! The bpfkit userspace runtime: the only crate that talks to the kernel.
