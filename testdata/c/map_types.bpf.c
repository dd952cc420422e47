// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture map_types: one BTF-defined map of each type the runtime issue covers that the
 * corpus lacks or has only once: hash with BPF_F_NO_PREALLOC, lru_hash, lru_percpu_hash,
 * percpu_hash, percpu_array, lpm_trie, queue, stack, bloom_filter (map_extra = 3 hash
 * functions), ringbuf, user_ringbuf, perf_event_array, stack_trace, sockmap, sockhash,
 * devmap, devmap_hash, cpumap, xskmap, cgroup_array, sk/inode/task/cgroup storage
 * (BPF_F_NO_PREALLOC, int key, map_flags as the kernel requires) and a mmapable array
 * (BPF_F_MMAPABLE). The XDP program `exercise_maps` touches several of them and can be
 * run with BPF_PROG_TEST_RUN: it pushes 7 to `queue` and `stack`, adds 1 to `lru` key 1,
 * inserts 42 into `bloom`, looks up 10.0.0.0/8 in `lpm` and returns XDP_PASS.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct lpm_key {
	__u32 prefixlen;
	__u32 addr;
};

#define SIMPLE_MAP(name, map_type, k, v, n, flags)                                         \
	struct {                                                                           \
		__uint(type, map_type);                                                    \
		__uint(max_entries, n);                                                    \
		__uint(map_flags, flags);                                                  \
		__type(key, k);                                                            \
		__type(value, v);                                                          \
	} name SEC(".maps")

SIMPLE_MAP(hash_no_prealloc, BPF_MAP_TYPE_HASH, __u32, __u64, 64, BPF_F_NO_PREALLOC);
SIMPLE_MAP(lru, BPF_MAP_TYPE_LRU_HASH, __u32, __u64, 64, 0);
SIMPLE_MAP(lru_percpu, BPF_MAP_TYPE_LRU_PERCPU_HASH, __u32, __u64, 64, 0);
SIMPLE_MAP(percpu_hash, BPF_MAP_TYPE_PERCPU_HASH, __u32, __u64, 64, 0);
SIMPLE_MAP(percpu_array, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, 4, 0);
SIMPLE_MAP(lpm, BPF_MAP_TYPE_LPM_TRIE, struct lpm_key, __u32, 16, BPF_F_NO_PREALLOC);
SIMPLE_MAP(stack_traces, BPF_MAP_TYPE_STACK_TRACE, __u32, __u64[127], 64, 0);
SIMPLE_MAP(sockmap, BPF_MAP_TYPE_SOCKMAP, __u32, __u64, 4, 0);
SIMPLE_MAP(sockhash, BPF_MAP_TYPE_SOCKHASH, __u32, __u64, 4, 0);
SIMPLE_MAP(devmap, BPF_MAP_TYPE_DEVMAP, __u32, __u32, 4, 0);
SIMPLE_MAP(devmap_hash, BPF_MAP_TYPE_DEVMAP_HASH, __u32, __u32, 4, 0);
SIMPLE_MAP(cpumap, BPF_MAP_TYPE_CPUMAP, __u32, struct bpf_cpumap_val, 4, 0);
SIMPLE_MAP(xskmap, BPF_MAP_TYPE_XSKMAP, __u32, __u32, 4, 0);
SIMPLE_MAP(cgroup_array, BPF_MAP_TYPE_CGROUP_ARRAY, __u32, __u32, 4, 0);
SIMPLE_MAP(mmapable, BPF_MAP_TYPE_ARRAY, __u32, __u64, 8, BPF_F_MMAPABLE);
SIMPLE_MAP(sk_storage, BPF_MAP_TYPE_SK_STORAGE, int, __u64, 0, BPF_F_NO_PREALLOC);
SIMPLE_MAP(inode_storage, BPF_MAP_TYPE_INODE_STORAGE, int, __u64, 0, BPF_F_NO_PREALLOC);
SIMPLE_MAP(task_storage, BPF_MAP_TYPE_TASK_STORAGE, int, __u64, 0, BPF_F_NO_PREALLOC);
/* BPF_MAP_TYPE_CGRP_STORAGE (32, Linux 6.2) is newer than Debian's 6.1 UAPI header. */
SIMPLE_MAP(cgrp_storage, 32, int, __u64, 0, BPF_F_NO_PREALLOC);

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u32);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ringbuf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} user_ringbuf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

SEC("xdp")
int exercise_maps(struct xdp_md *ctx)
{
	__u32 seven = 7, one = 1, answer = 42;
	struct lpm_key key = { .prefixlen = 32, .addr = 0x0100000a };
	__u64 init = 1, *count;

	bpf_map_push_elem(&queue, &seven, 0);
	bpf_map_push_elem(&stack, &seven, 0);
	count = bpf_map_lookup_elem(&lru, &one);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&lru, &one, &init, BPF_NOEXIST);
	bpf_map_push_elem(&bloom, &answer, 0);
	if (bpf_map_lookup_elem(&lpm, &key))
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
