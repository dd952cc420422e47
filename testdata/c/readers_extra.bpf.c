// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture readers_extra: what event_records does not cover for the ring buffer reader,
 * driven by BPF_PROG_TEST_RUN. XDP program `fill_with_discards` reserves one 16-byte record
 * per run in the BPF_MAP_TYPE_RINGBUF `discard_records` (64 KiB): a little-endian u64
 * sequence number (`discard_seq` in .bss, from 0) and its bitwise complement; records whose
 * sequence number is 2 mod 3 are discarded with bpf_ringbuf_discard, the others submitted;
 * failed reserves are counted in `discard_dropped`. Returns XDP_PASS. The user ring buffer
 * (6.1) is readers_user's, so this one loads on 5.8+.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} discard_records SEC(".maps");

__u64 discard_seq;
__u64 discard_dropped;

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

char LICENSE[] SEC("license") = "GPL";
