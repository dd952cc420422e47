//! Userspace side of bpfkit logging: reads log records from the kernel and forwards them to the log crate.
