// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture callbacks: static callback functions passed by address (ld_imm64 with
 * src_reg BPF_PSEUDO_FUNC) to bpf_loop() and bpf_for_each_map_elem(), the latter over
 * an array map; the results go to a .bss counter.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

__u64 loop_sum;
__u64 elem_sum;

struct loop_ctx {
	__u64 acc;
};

static long add_index(__u32 index, void *data)
{
	struct loop_ctx *ctx = data;

	ctx->acc += index;
	return 0;
}

static long add_elem(void *map, __u32 *key, __u64 *value, void *data)
{
	struct loop_ctx *ctx = data;

	ctx->acc += *value;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int run_callbacks(void *ctx)
{
	struct loop_ctx lc = {};

	bpf_loop(10, add_index, &lc, 0);
	loop_sum = lc.acc;
	lc.acc = 0;
	bpf_for_each_map_elem(&values, add_elem, &lc, 0);
	elem_sum = lc.acc;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
