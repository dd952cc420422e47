// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture struct_ops: a `tcp_congestion_ops` implemented in BPF. A `.struct_ops` map
 * (BPF_MAP_TYPE_STRUCT_OPS, value type from vmlinux BTF) whose function pointers are
 * relocated to the programs `bpfkit_ssthresh`, `bpfkit_cong_avoid` and
 * `bpfkit_undo_cwnd` (STRUCT_OPS programs, attach_btf_id = tcp_congestion_ops, expected
 * attach type = member index), and a name field (`.name = "bpfkit_cc"`) copied into the
 * map value. Struct_ops programs use trampolines: EPERM where ftrace is locked down.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("struct_ops/bpfkit_ssthresh")
__u32 BPF_PROG(bpfkit_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/bpfkit_cong_avoid")
void BPF_PROG(bpfkit_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/bpfkit_undo_cwnd")
__u32 BPF_PROG(bpfkit_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC(".struct_ops")
struct tcp_congestion_ops bpfkit_cc = {
	.ssthresh = (void *)bpfkit_ssthresh,
	.cong_avoid = (void *)bpfkit_cong_avoid,
	.undo_cwnd = (void *)bpfkit_undo_cwnd,
	.name = "bpfkit_cc",
};

char LICENSE[] SEC("license") = "GPL";
