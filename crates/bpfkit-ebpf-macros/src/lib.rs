//! Attribute macros (#[map], #[tracepoint], #[xdp], …) for bpfkit-ebpf programs.
