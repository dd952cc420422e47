// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture pinned_map: a hash map with `pinning = LIBBPF_PIN_BY_NAME`, which a loader pins
 * at <pin root>/bpfkit_fixture_pinned_counts (libbpf's default root: /sys/fs/bpf) and
 * reuses on the next load, plus an unpinned array beside it. The socket filter
 * `count_packets` increments key 0 of the pinned map.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, __u32);
	__type(value, __u64);
} bpfkit_fixture_pinned_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} unpinned SEC(".maps");

SEC("socket")
int count_packets(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 one = 1, *count;

	count = bpf_map_lookup_elem(&bpfkit_fixture_pinned_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&bpfkit_fixture_pinned_counts, &key, &one, BPF_NOEXIST);
	count = bpf_map_lookup_elem(&unpinned, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
