// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture event_records: producers for ring buffer and perf buffer readers, driven by
 * BPF_PROG_TEST_RUN with `repeat`. Each run of the XDP program `fill_ringbuf` writes
 * `records_per_run` records of `record_size` bytes (both `.rodata` constants a loader
 * may set, 16 and 1 by default; size clamped to 8..4096) to the BPF_MAP_TYPE_RINGBUF
 * `records` (256 KiB); `fill_perfbuf` does the same into the perf event array
 * `perf_records` (BPF_F_CURRENT_CPU). A record starts with a little-endian u64
 * sequence number counting from 0 per program (`ringbuf_seq`, `perfbuf_seq` in .bss),
 * followed by bytes `i & 0xff` (i = offset in the record); failed outputs are counted in
 * `ringbuf_dropped`/`perfbuf_dropped`, so sent = received + dropped. With `.rodata`
 * `ringbuf_wakeup_every` = N > 0, fill_ringbuf sends every Nth record (sequence number
 * N - 1 mod N) with BPF_RB_FORCE_WAKEUP and the others with BPF_RB_NO_WAKEUP (sampled
 * wake-ups); 0 (the default) uses the kernel's default wake-ups. Both return XDP_PASS.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_RECORD 4096

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_records SEC(".maps");

const volatile __u32 record_size = 16;
const volatile __u32 records_per_run = 1;
const volatile __u32 ringbuf_wakeup_every = 0;

__u64 ringbuf_seq;
__u64 perfbuf_seq;
__u64 ringbuf_dropped;
__u64 perfbuf_dropped;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u8[MAX_RECORD]);
} scratch SEC(".maps");

static __always_inline __u32 clamped_size(void)
{
	__u32 size = record_size;

	if (size < 8)
		size = 8;
	if (size > MAX_RECORD)
		size = MAX_RECORD;
	return size;
}

static __always_inline void fill_pattern(__u8 *buf)
{
	for (int i = 8; i < MAX_RECORD; i++)
		buf[i] = i & 0xff;
}

SEC("xdp")
int fill_ringbuf(struct xdp_md *ctx)
{
	__u32 zero = 0, size = clamped_size();
	__u8 *buf = bpf_map_lookup_elem(&scratch, &zero);

	if (!buf)
		return XDP_ABORTED;
	fill_pattern(buf);
	for (__u32 n = 0; n < records_per_run && n < 4096; n++) {
		__u64 flags = 0;

		if (ringbuf_wakeup_every)
			flags = ringbuf_seq % ringbuf_wakeup_every == ringbuf_wakeup_every - 1 ?
					BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
		*(__u64 *)buf = ringbuf_seq;
		if (bpf_ringbuf_output(&records, buf, size, flags))
			ringbuf_dropped++;
		ringbuf_seq++;
	}
	return XDP_PASS;
}

SEC("xdp")
int fill_perfbuf(struct xdp_md *ctx)
{
	__u32 zero = 0, size = clamped_size();
	__u8 *buf = bpf_map_lookup_elem(&scratch, &zero);

	if (!buf)
		return XDP_ABORTED;
	fill_pattern(buf);
	for (__u32 n = 0; n < records_per_run && n < 4096; n++) {
		*(__u64 *)buf = perfbuf_seq;
		if (bpf_perf_event_output(ctx, &perf_records, BPF_F_CURRENT_CPU, buf, size))
			perfbuf_dropped++;
		perfbuf_seq++;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
