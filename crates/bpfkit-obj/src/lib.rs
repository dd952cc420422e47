//! BPF object model: ELF → ObjectSpec, BTF, CO-RE, instructions. Pure: no syscalls.
