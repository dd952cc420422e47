//! Kernel UAPI newer than the generator's header: written by hand, each item naming its kernel.
//!
//! `uapi.rs` is generated from the build machine's `<linux/bpf.h>` (Debian's 6.1 headers);
//! the items below were added to the kernel later. Values are the kernel's (checked against
//! the running kernel's BTF, `enum bpf_cmd` / `enum bpf_map_type`).

/// `BPF_MAP_TYPE_CGRP_STORAGE` (Linux 6.2).
pub const BPF_MAP_TYPE_CGRP_STORAGE: u32 = 32;
/// `BPF_MAP_TYPE_ARENA` (Linux 6.9).
pub const BPF_MAP_TYPE_ARENA: u32 = 33;
/// `BPF_TOKEN_CREATE` (Linux 6.9).
pub const BPF_TOKEN_CREATE: u32 = 36;

/// The `token_create` member of `union bpf_attr` (Linux 6.9).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct bpf_attr__token_create {
    /// `flags`: must be 0.
    pub flags: u32,
    /// `bpffs_fd`: a bpffs mounted with delegation options.
    pub bpffs_fd: u32,
}

/// `BPF_F_TOKEN_FD` (Linux 6.9): in `map_flags`, `prog_flags` and `btf_flags`, the command's
/// `*_token_fd` field holds a BPF token.
pub const BPF_F_TOKEN_FD: u32 = 1 << 16;
/// Byte offset of `map_create.map_token_fd` in `union bpf_attr` (Linux 6.9).
pub const MAP_TOKEN_FD_OFFSET: usize = 76;
/// Byte offset of `prog_load.prog_token_fd` in `union bpf_attr` (Linux 6.9).
pub const PROG_TOKEN_FD_OFFSET: usize = 144;
/// Byte offset of `btf_load.btf_flags` in `union bpf_attr` (Linux 6.9).
pub const BTF_FLAGS_OFFSET: usize = 32;
/// Byte offset of `btf_load.btf_token_fd` in `union bpf_attr` (Linux 6.9).
pub const BTF_TOKEN_FD_OFFSET: usize = 36;
