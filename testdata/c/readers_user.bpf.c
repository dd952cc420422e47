// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture readers_user: the user ring buffer writer's kernel side, driven by
 * BPF_PROG_TEST_RUN. XDP program `drain_user` calls bpf_user_ringbuf_drain on the
 * BPF_MAP_TYPE_USER_RINGBUF `user_records` (64 KiB): each record's first u64 is added to
 * `user_sum` and counted in `user_count`; records shorter than 8 bytes count in `user_short`.
 * Returns XDP_PASS. Needs Linux 6.1 (user ring buffers).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 64 * 1024);
} user_records SEC(".maps");

__u64 user_sum;
__u64 user_count;
__u64 user_short;

static long on_user_record(struct bpf_dynptr *record, void *ctx)
{
	__u64 value;

	if (bpf_dynptr_read(&value, sizeof(value), record, 0, 0)) {
		user_short++;
		return 0;
	}
	user_sum += value;
	user_count++;
	return 0;
}

SEC("xdp")
int drain_user(struct xdp_md *ctx)
{
	bpf_user_ringbuf_drain(&user_records, on_user_record, NULL, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
