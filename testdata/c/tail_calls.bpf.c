// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture tail_calls: a BPF_MAP_TYPE_PROG_ARRAY whose BTF definition carries initial
 * values (`.values = { [0] = &tail_zero, [2] = &tail_two }`, relocated through
 * `.rel.maps` entries pointing at the programs), and bpf_tail_call() into it from two
 * XDP programs. Index 1 is left empty on purpose.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int tail_zero(struct xdp_md *ctx);
int tail_two(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int(struct xdp_md *));
} jump_table SEC(".maps") = {
	.values = {
		[0] = (void *)&tail_zero,
		[2] = (void *)&tail_two,
	},
};

SEC("xdp")
int tail_zero(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int tail_two(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int dispatch(struct xdp_md *ctx)
{
	__u32 index = ctx->ingress_ifindex & 3;

	bpf_tail_call(ctx, &jump_table, index);
	/* Reached when the slot is empty. */
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
