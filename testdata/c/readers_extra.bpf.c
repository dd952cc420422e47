// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture readers_extra: what event_records does not cover for the readers, driven by
 * BPF_PROG_TEST_RUN. XDP program `fill_with_discards` reserves one 16-byte record per run in
 * the BPF_MAP_TYPE_RINGBUF `discard_records` (64 KiB): a little-endian u64 sequence number
 * (`discard_seq` in .bss, from 0) and its bitwise complement; records whose sequence number
 * is 2 mod 3 are discarded with bpf_ringbuf_discard, the others submitted; failed reserves are
 * counted in `discard_dropped`. XDP program `drain_user` calls bpf_user_ringbuf_drain on the
 * BPF_MAP_TYPE_USER_RINGBUF `user_records` (64 KiB): each record's first u64 is added to
 * `user_sum` and counted in `user_count`; records shorter than 8 bytes count in `user_short`.
 * Both return XDP_PASS.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} discard_records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 64 * 1024);
} user_records SEC(".maps");

__u64 discard_seq;
__u64 discard_dropped;
__u64 user_sum;
__u64 user_count;
__u64 user_short;

SEC("xdp")
int fill_with_discards(struct xdp_md *ctx)
{
	__u64 seq = discard_seq++;
	__u64 *rec = bpf_ringbuf_reserve(&discard_records, 16, 0);

	if (!rec) {
		discard_dropped++;
		return XDP_PASS;
	}
	rec[0] = seq;
	rec[1] = ~seq;
	if (seq % 3 == 2)
		bpf_ringbuf_discard(rec, 0);
	else
		bpf_ringbuf_submit(rec, 0);
	return XDP_PASS;
}

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
