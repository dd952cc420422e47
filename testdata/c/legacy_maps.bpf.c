// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture legacy_maps: maps defined the pre-BTF way, as `struct bpf_map_def` variables
 * in the `maps` section (the layout libbpf < 1.0 read: type, key_size, value_size,
 * max_entries, map_flags). libbpf 1.x refuses such objects ("legacy map definitions in
 * 'maps' section are not supported"); bpfkit parses them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 128,
	.map_flags = BPF_F_NO_PREALLOC,
};

struct bpf_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 4,
};

SEC("socket")
int use_legacy_maps(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&legacy_hash, &key);
	__u32 *slot = bpf_map_lookup_elem(&legacy_array, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
	return slot ? *slot : 0;
}

char LICENSE[] SEC("license") = "GPL";
