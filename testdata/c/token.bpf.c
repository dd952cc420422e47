// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture token: loaded by a process in a user namespace through a BPF token. count_getpid
 * (raw_tp sys_enter) counts the syscalls numbered target_nr of the process target_tgid into
 * slot 0 of the array map `seen` (u64); count_packets (socket filter) counts the packets its
 * socket receives into slot 1 and keeps them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 target_tgid = 0;
const volatile __u64 target_nr = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

static void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&seen, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("raw_tp/sys_enter")
int count_getpid(struct bpf_raw_tracepoint_args *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid || ctx->args[1] != target_nr)
		return 0;
	bump(0);
	return 0;
}

SEC("socket")
int count_packets(struct __sk_buff *skb)
{
	bump(1);
	return skb->len;
}

char LICENSE[] SEC("license") = "GPL";
