// SPDX-License-Identifier: GPL-2.0
/*
 * libbpf side of the stream benchmark of bench/readers (sampled wake-ups):
 *   libbpf_stream OBJ RECORDS WAKEUP_EVENTS PAGES
 * The event_records fixture (record_size 16, records_per_run 1000) is loaded; a producer
 * thread on CPU 0 runs fill_perfbuf by BPF_PROG_TEST_RUN (repeat 10 = 10 000 samples per
 * call) until RECORDS samples are sent, while the main thread on CPU 1 waits in
 * perf_buffer__poll on a perf buffer of PAGES pages per CPU whose events wake it every
 * WAKEUP_EVENTS samples (perf_buffer__new_raw). Timed from the producer's start until every
 * sample has been received or reported lost. Prints {"records","lost","ns","records_per_sec"}.
 *
 *   libbpf_stream ring OBJ RECORD_SIZE RING_BYTES MILLIS WAKEUP_EVERY
 * Ring buffer stream: the event_records fixture (record_size RECORD_SIZE, records_per_run
 * 1000, `records` of RING_BYTES, ringbuf_wakeup_every WAKEUP_EVERY: 0 = the kernel's
 * default wake-ups, N = a forced wake-up every Nth record and none on the others); a producer thread on CPU 0
 * runs fill_ringbuf (repeat 10) without pause while the main thread on CPU 1 reads with
 * ring_buffer__poll (100 ms timeout) for MILLIS ms. Prints {"records","lost","ns",
 * "records_per_sec","in_order"}: records received in the window, sequence numbers the
 * producer dropped (gaps), whether sequence numbers only increased.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Writes `value` into the .rodata variable `name` of `obj` before load. */
static void set_rodata_u32(struct bpf_object *obj, const char *name, __u32 value)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj) {
		const char *dot = strchr(bpf_map__name(map), '.');
		if (!bpf_map__is_internal(map) || !dot || strcmp(dot, ".rodata"))
			continue;
		size_t size;
		const void *initial = bpf_map__initial_value(map, &size);
		__s32 sec = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
		char *data = initial ? malloc(size) : NULL;
		if (!data || sec < 0)
			break;
		memcpy(data, initial, size);
		const struct btf_type *t = btf__type_by_id(btf, sec);
		const struct btf_var_secinfo *vi = btf_var_secinfos(t);
		for (int i = 0; i < btf_vlen(t); i++, vi++) {
			const struct btf_type *var = btf__type_by_id(btf, vi->type);
			if (strcmp(btf__name_by_offset(btf, var->name_off), name) == 0 &&
			    vi->size == sizeof(value) && vi->offset + vi->size <= size) {
				memcpy(data + vi->offset, &value, sizeof(value));
				if (bpf_map__set_initial_value(map, data, size))
					{ fprintf(stderr, "set_initial_value\n"); exit(1); }
				free(data);
				return;
			}
		}
	}
	fprintf(stderr, "no .rodata %s\n", name);
	exit(1);
}

static __u64 received, lost, expected_seq;
static int in_order = 1;
static int prog_fd;
static __u32 total;
static volatile int producer_done;

static enum bpf_perf_event_ret on_event(void *ctx, int cpu, struct perf_event_header *e)
{
	(void)ctx;
	(void)cpu;
	if (e->type == PERF_RECORD_SAMPLE) {
		struct { struct perf_event_header h; __u32 size; char data[]; } *s = (void *)e;
		__u64 seq;
		memcpy(&seq, s->data, sizeof(seq));
		if (seq < expected_seq)
			in_order = 0;
		expected_seq = seq + 1;
		received++;
	} else if (e->type == PERF_RECORD_LOST) {
		struct { struct perf_event_header h; __u64 id, lost; } *l = (void *)e;
		lost += l->lost;
	}
	return LIBBPF_PERF_EVENT_CONT;
}

static void *producer(void *arg)
{
	(void)arg;
	pin(0);
	char packet[64] = { 0 };
	for (__u32 sent = 0; sent < total; sent += 10000) {
		LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet,
			    .data_size_in = sizeof(packet), .repeat = 10);
		if (bpf_prog_test_run_opts(prog_fd, &run)) {
			fprintf(stderr, "test run: %d\n", errno);
			exit(1);
		}
	}
	producer_done = 1;
	return NULL;
}

static volatile int stop_producer;
static __u64 ring_received, ring_last_seq, ring_gaps;
static int ring_in_order = 1;

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)size;
	__u64 seq;
	memcpy(&seq, data, sizeof(seq));
	if (ring_received && seq <= ring_last_seq)
		ring_in_order = 0;
	else if (ring_received)
		ring_gaps += seq - ring_last_seq - 1;
	else
		ring_gaps += seq;
	ring_last_seq = seq;
	ring_received++;
	return 0;
}

static void *ring_producer(void *arg)
{
	(void)arg;
	pin(0);
	char packet[64] = { 0 };
	while (!stop_producer) {
		LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet,
			    .data_size_in = sizeof(packet), .repeat = 10);
		if (bpf_prog_test_run_opts(prog_fd, &run)) {
			fprintf(stderr, "test run: %d\n", errno);
			exit(1);
		}
	}
	return NULL;
}

static int ring_main(const char *path, __u32 record_size, __u32 ring_bytes, __u32 millis,
		     __u32 wakeup_every)
{
	pin(1);
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		printf("{\"error\":\"open\"}\n");
		return 1;
	}
	set_rodata_u32(obj, "records_per_run", 1000);
	set_rodata_u32(obj, "record_size", record_size);
	set_rodata_u32(obj, "ringbuf_wakeup_every", wakeup_every);
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "records");
	bpf_map__set_max_entries(map, ring_bytes);
	if (bpf_object__load(obj)) {
		printf("{\"error\":\"load\"}\n");
		return 1;
	}
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "fill_ringbuf"));
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map), on_record, NULL, NULL);
	if (!rb) {
		printf("{\"error\":\"ring_buffer__new %d\"}\n", errno);
		return 1;
	}
	pthread_t thread;
	unsigned long long t0 = now_ns(), end = t0 + millis * 1000000ull, t1;
	pthread_create(&thread, NULL, ring_producer, NULL);
	while ((t1 = now_ns()) < end)
		ring_buffer__poll(rb, 100);
	stop_producer = 1;
	pthread_join(thread, NULL);
	printf("{\"records\":%llu,\"lost\":%llu,\"ns\":%llu,\"records_per_sec\":%.0f,"
	       "\"in_order\":%s}\n",
	       (unsigned long long)ring_received, (unsigned long long)ring_gaps, t1 - t0,
	       ring_received * 1e9 / (double)(t1 - t0), ring_in_order ? "true" : "false");
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "ring") == 0)
		return ring_main(argv[2], strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0),
				 strtoul(argv[5], NULL, 0), strtoul(argv[6], NULL, 0));
	if (argc != 5) {
		fprintf(stderr, "usage: libbpf_stream OBJ RECORDS WAKEUP_EVENTS PAGES\n");
		return 2;
	}
	total = strtoul(argv[2], NULL, 0);
	unsigned wakeup = strtoul(argv[3], NULL, 0);
	size_t pages = strtoul(argv[4], NULL, 0);
	pin(1);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		printf("{\"error\":\"open\"}\n");
		return 1;
	}
	set_rodata_u32(obj, "records_per_run", 1000);
	if (bpf_object__load(obj)) {
		printf("{\"error\":\"load\"}\n");
		return 1;
	}
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(obj, "fill_perfbuf"));
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_period = 1,
		.sample_type = PERF_SAMPLE_RAW,
		.wakeup_events = wakeup,
	};
	struct perf_buffer *pb = perf_buffer__new_raw(
		bpf_map__fd(bpf_object__find_map_by_name(obj, "perf_records")), pages, &attr,
		on_event, NULL, NULL);
	if (!pb) {
		printf("{\"error\":\"perf_buffer__new_raw %d\"}\n", errno);
		return 1;
	}
	pthread_t thread;
	unsigned long long t0 = now_ns();
	pthread_create(&thread, NULL, producer, NULL);
	while (received + lost < total) {
		int n = perf_buffer__poll(pb, 10);
		if (producer_done && n == 0 && perf_buffer__consume(pb) == 0)
			break; /* a tail below wakeup_events, or lost samples never reported */
	}
	unsigned long long t1 = now_ns();
	pthread_join(thread, NULL);
	printf("{\"records\":%llu,\"lost\":%llu,\"ns\":%llu,\"records_per_sec\":%.0f,"
	       "\"in_order\":%s}\n",
	       (unsigned long long)received, (unsigned long long)lost, t1 - t0,
	       received * 1e9 / (double)(t1 - t0), in_order ? "true" : "false");
	perf_buffer__free(pb);
	bpf_object__close(obj);
	return 0;
}
