#!/bin/sh
# Regenerates src/tracepoints.rs: tracepoint records from the running kernel's BTF, written by
# `bpfkit gen types` (bpfkit-gen, kernel flavour). Run from anywhere:
#   crates/bpfkit-ebpf/gen/gen_tracepoints.sh [BTF file, default /sys/kernel/btf/vmlinux]
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
btf=${1:-/sys/kernel/btf/vmlinux}
out="$root/crates/bpfkit-ebpf/src/tracepoints.rs"
tmp="$out.tmp"
{
	cat <<'DOC'
//! Tracepoint records, generated from kernel BTF by `bpfkit gen types` (regenerate with
//! `gen/gen_tracepoints.sh`); read them by field name through
//! [`TracePointContext::args`](crate::programs::TracePointContext::args).
//!
//! - `syscalls/sys_enter_<name>`: [`syscall_trace_enter`], the arguments in `args_at(i)`;
//!   `syscalls/sys_exit_<name>`: [`syscall_trace_exit`] (`ret`).
//! - `raw_syscalls/sys_enter`, `raw_syscalls/sys_exit`: [`trace_event_raw_sys_enter`]
//!   (`id`, `args`), [`trace_event_raw_sys_exit`] (`id`, `ret`).
//! - `sched/sched_process_exec`: [`trace_event_raw_sched_process_exec`]. A `__data_loc_*`
//!   field holds the offset of its variable-length data in the record (low 16 bits) and its
//!   length (high 16 bits).
//!
//! Only records whose layout has stayed the same for many kernel releases are here (others
//! change: `sched_process_fork` moved its comms to `__data_loc` in 6.x); generate any other
//! record from the target kernel's BTF with bpfkit-gen. Every size and offset is asserted at
//! compile time.
DOC
	cargo run -q --manifest-path "$root/Cargo.toml" -p bpfkit-cli -- gen types --btf "$btf" \
		syscall_trace_enter syscall_trace_exit \
		trace_event_raw_sys_enter trace_event_raw_sys_exit \
		trace_event_raw_sched_process_exec
} >"$tmp"
rustfmt --edition 2021 "$tmp"
mv "$tmp" "$out"
