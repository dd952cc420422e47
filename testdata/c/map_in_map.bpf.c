// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture map_in_map: BPF_MAP_TYPE_ARRAY_OF_MAPS and BPF_MAP_TYPE_HASH_OF_MAPS, each
 * with an inner map definition (`__array(values, struct inner_map)`) and initial values
 * (`.values = { [i] = &inner_a }`, relocated through `.rel.maps`). A program looks up
 * an inner map of each and reads from it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer_array SEC(".maps") = {
	.values = {
		[0] = &inner_a,
		[3] = &inner_b,
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer_hash SEC(".maps") = {
	.values = {
		[1] = &inner_b,
	},
};

SEC("socket")
int read_inner(struct __sk_buff *skb)
{
	__u32 key = 0, hkey = 1;
	__u64 sum = 0, *value;
	void *inner;

	inner = bpf_map_lookup_elem(&outer_array, &key);
	if (inner) {
		value = bpf_map_lookup_elem(inner, &key);
		if (value)
			sum += *value;
	}
	inner = bpf_map_lookup_elem(&outer_hash, &hkey);
	if (inner) {
		value = bpf_map_lookup_elem(inner, &key);
		if (value)
			sum += *value;
	}
	return sum != 0;
}

char LICENSE[] SEC("license") = "GPL";
