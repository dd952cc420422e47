//! BTF: the BPF Type Format — parsing (lazy), writing, sanitizing, and `.BTF.ext`.
