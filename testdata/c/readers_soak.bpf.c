// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture readers_soak: producers for the readers' soak test, driven by BPF_PROG_TEST_RUN from
 * threads pinned to every CPU. Each run of XDP program `soak_ring` writes `records_per_run`
 * records (a `.rodata` constant, 64 by default, at most 1024) with bpf_ringbuf_output to the
 * BPF_MAP_TYPE_RINGBUF `soak_records` (64 KiB); `soak_perf` does the same with
 * bpf_perf_event_output (BPF_F_CURRENT_CPU) to the perf event array `soak_perf_records`.
 * A record is `record_len` = 16 + 8 * (seq & 7) bytes (16..72): the little-endian u64
 * sequence number `seq`, counted per CPU and per program from 0, the u32 CPU, the u32
 * `record_len`, then bytes `i & 0xff` (i = offset in the record). Per CPU, the ARRAY
 * `soak_counters` (key: CPU) holds {ring_seq, ring_dropped, perf_seq, perf_dropped}: the
 * next sequence number (= records attempted) and the failed outputs, so
 * attempted = received + dropped. Both programs return XDP_PASS.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_RECORD 72
#define MAX_CPUS 1024

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} soak_records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} soak_perf_records SEC(".maps");

struct counters {
	__u64 ring_seq;
	__u64 ring_dropped;
	__u64 perf_seq;
	__u64 perf_dropped;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, __u32);
	__type(value, struct counters);
} soak_counters SEC(".maps");

const volatile __u32 records_per_run = 64;

static __always_inline void fill(__u8 *buf, __u64 seq, __u32 cpu, __u32 len)
{
	*(__u64 *)buf = seq;
	*(__u32 *)(buf + 8) = cpu;
	*(__u32 *)(buf + 12) = len;
}

static __always_inline void pattern(__u8 *buf)
{
	for (int i = 16; i < MAX_RECORD; i++)
		buf[i] = i & 0xff;
}

SEC("xdp")
int soak_ring(struct xdp_md *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct counters *c = bpf_map_lookup_elem(&soak_counters, &cpu);
	__u64 words[MAX_RECORD / 8];
	__u8 *buf = (__u8 *)words;

	if (!c)
		return XDP_ABORTED;
	pattern(buf);
	for (__u32 n = 0; n < records_per_run && n < 1024; n++) {
		__u64 seq = c->ring_seq;
		__u32 len = 16 + 8 * (__u32)(seq & 7);

		fill(buf, seq, cpu, len);
		if (bpf_ringbuf_output(&soak_records, buf, len, 0))
			c->ring_dropped++;
		c->ring_seq = seq + 1;
	}
	return XDP_PASS;
}

SEC("xdp")
int soak_perf(struct xdp_md *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct counters *c = bpf_map_lookup_elem(&soak_counters, &cpu);
	__u64 words[MAX_RECORD / 8];
	__u8 *buf = (__u8 *)words;

	if (!c)
		return XDP_ABORTED;
	pattern(buf);
	for (__u32 n = 0; n < records_per_run && n < 1024; n++) {
		__u64 seq = c->perf_seq;
		__u32 len = 16 + 8 * (__u32)(seq & 7);

		fill(buf, seq, cpu, len);
		if (bpf_perf_event_output(ctx, &soak_perf_records, BPF_F_CURRENT_CPU, buf, len))
			c->perf_dropped++;
		c->perf_seq = seq + 1;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
