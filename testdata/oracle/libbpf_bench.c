// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * libbpf_bench: libbpf's side of bpfkit's benchmarks, timed inside one process.
 *
 * Built by crates/bpfkit-test-support (gcc -O2, -lbpf -lelf -lz). Prints one JSON
 * document on stdout; times are the best of ROUNDS rounds, CLOCK_MONOTONIC.
 *
 *   libbpf_bench map-ops ENTRIES ROUNDS
 *       A BPF_MAP_TYPE_HASH u32 -> u64 with ENTRIES slots: bpf_map_update_elem,
 *       bpf_map_lookup_elem and bpf_map_delete_elem over every key, then
 *       bpf_map_update_batch and bpf_map_lookup_batch of all keys at once.
 *       {"entries", "update_ns", "lookup_ns", "delete_ns", "update_batch_ns",
 *        "lookup_batch_ns"}: nanoseconds per element.
 *   libbpf_bench ringbuf-drain OBJ RECORD_SIZE RECORDS ROUNDS
 *   libbpf_bench perfbuf-drain OBJ RECORD_SIZE RECORDS ROUNDS
 *       OBJ is the event_records fixture. Its .rodata knobs are set (record_size, and
 *       records_per_run = 1000), the ring (or per-CPU perf buffers) sized to hold RECORDS
 *       records, the fill program run by BPF_PROG_TEST_RUN with repeat RECORDS / 1000,
 *       then one ring_buffer__consume() (perf_buffer__consume()) drains everything and is
 *       timed; the callback checks the sequence numbers. {"records", "ns",
 *       "records_per_sec", "in_order", "lost"} of the best round.
 *
 * Failures print {"error": "..."} and exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#define RECORDS_PER_RUN 1000

static void fail(const char *what, int err)
{
	printf("{\"error\":\"%s: %s\"}\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static unsigned long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int cmd_map_ops(unsigned int entries, int rounds)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_hash", sizeof(__u32), sizeof(__u64),
				entries, NULL);
	if (fd < 0)
		fail("bpf_map_create", errno);
	__u32 *keys = calloc(entries, sizeof(*keys));
	__u64 *values = calloc(entries, sizeof(*values));
	if (!keys || !values)
		fail("calloc", ENOMEM);
	for (__u32 i = 0; i < entries; i++) {
		keys[i] = i;
		values[i] = (__u64)i * 3;
	}
	double best[5] = { 1e300, 1e300, 1e300, 1e300, 1e300 };
	for (int r = 0; r < rounds; r++) {
		unsigned long long t0 = now_ns();
		for (__u32 i = 0; i < entries; i++)
			if (bpf_map_update_elem(fd, &keys[i], &values[i], BPF_ANY))
				fail("bpf_map_update_elem", errno);
		unsigned long long t1 = now_ns();
		__u64 v, sum = 0;
		for (__u32 i = 0; i < entries; i++) {
			if (bpf_map_lookup_elem(fd, &keys[i], &v))
				fail("bpf_map_lookup_elem", errno);
			sum += v;
		}
		unsigned long long t2 = now_ns();
		if (sum != 3ull * entries * (entries - 1ull) / 2)
			fail("lookup sum", EINVAL);
		for (__u32 i = 0; i < entries; i++)
			if (bpf_map_delete_elem(fd, &keys[i]))
				fail("bpf_map_delete_elem", errno);
		unsigned long long t3 = now_ns();
		__u32 count = entries;
		if (bpf_map_update_batch(fd, keys, values, &count, NULL) || count != entries)
			fail("bpf_map_update_batch", errno);
		unsigned long long t4 = now_ns();
		__u32 *out_keys = calloc(entries, sizeof(*out_keys));
		__u64 *out_values = calloc(entries, sizeof(*out_values));
		__u32 batch_token = 0, total = 0;
		void *in = NULL;
		unsigned long long t5 = now_ns();
		while (total < entries) {
			count = entries - total;
			int err = bpf_map_lookup_batch(fd, in, &batch_token, out_keys + total,
						       out_values + total, &count, NULL);
			total += count;
			in = &batch_token;
			if (err) {
				if (errno == ENOENT)
					break;
				fail("bpf_map_lookup_batch", errno);
			}
		}
		unsigned long long t6 = now_ns();
		if (total != entries)
			fail("bpf_map_lookup_batch count", EINVAL);
		free(out_keys);
		free(out_values);
		for (__u32 i = 0; i < entries; i++)
			bpf_map_delete_elem(fd, &keys[i]);
		double per[5] = { (double)(t1 - t0) / entries, (double)(t2 - t1) / entries,
				  (double)(t3 - t2) / entries, (double)(t4 - t3) / entries,
				  (double)(t6 - t5) / entries };
		for (int k = 0; k < 5; k++)
			if (per[k] < best[k])
				best[k] = per[k];
	}
	printf("{\"entries\":%u,\"update_ns\":%.1f,\"lookup_ns\":%.1f,\"delete_ns\":%.1f,"
	       "\"update_batch_ns\":%.1f,\"lookup_batch_ns\":%.1f}\n",
	       entries, best[0], best[1], best[2], best[3], best[4]);
	close(fd);
	return 0;
}

/* ---- ring / perf buffer drain ------------------------------------------------------ */

struct drain_state {
	__u64 expected_seq;
	__u64 records;
	__u64 lost;
	int in_order;
};

static int on_ring_record(void *ctx, void *data, size_t size)
{
	struct drain_state *st = ctx;
	__u64 seq;
	memcpy(&seq, data, sizeof(seq));
	(void)size;
	if (seq != st->expected_seq)
		st->in_order = 0;
	st->expected_seq = seq + 1;
	st->records++;
	return 0;
}

static void on_perf_record(void *ctx, int cpu, void *data, __u32 size)
{
	(void)cpu;
	on_ring_record(ctx, data, size);
}

static void on_perf_lost(void *ctx, int cpu, __u64 lost)
{
	struct drain_state *st = ctx;
	(void)cpu;
	st->lost += lost;
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
					fail("bpf_map__set_initial_value", errno);
				free(data);
				return;
			}
		}
	}
	fail(name, ENOENT);
}

static unsigned long round_pow2(unsigned long v)
{
	unsigned long p = 4096;
	while (p < v)
		p <<= 1;
	return p;
}

static int cmd_drain(const char *path, int perf, __u32 record_size, __u32 records, int rounds)
{
	/* Test runs execute on the calling CPU: keep them (and the perf buffer) on one. */
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);

	unsigned long slot = (record_size + 8 + 7) & ~7ul; /* ring: 8-byte header, 8-aligned */
	unsigned long perf_slot = (record_size + 4 + 8 + 7) & ~7ul; /* header + size, padded */
	double best_ns = 1e300;
	struct drain_state best = { 0 };
	for (int r = 0; r < rounds; r++) {
		struct bpf_object *obj = bpf_object__open_file(path, NULL);
		if (!obj)
			fail("bpf_object__open_file", errno);
		set_rodata_u32(obj, "record_size", record_size);
		set_rodata_u32(obj, "records_per_run", RECORDS_PER_RUN);
		struct bpf_map *ring = bpf_object__find_map_by_name(obj, "records");
		struct bpf_map *perf_map = bpf_object__find_map_by_name(obj, "perf_records");
		if (!ring || !perf_map)
			fail("event_records maps", ENOENT);
		bpf_map__set_max_entries(ring, round_pow2((unsigned long)records * slot + 4096));
		int err = bpf_object__load(obj);
		if (err)
			fail("bpf_object__load", err);
		struct drain_state st = { .in_order = 1 };
		struct ring_buffer *rb = NULL;
		struct perf_buffer *pb = NULL;
		if (perf) {
			size_t pages = round_pow2((unsigned long)records * perf_slot + 4096) / 4096;
			pb = perf_buffer__new(bpf_map__fd(perf_map), pages, on_perf_record,
					      on_perf_lost, &st, NULL);
			if (!pb)
				fail("perf_buffer__new", errno);
		} else {
			rb = ring_buffer__new(bpf_map__fd(ring), on_ring_record, &st, NULL);
			if (!rb)
				fail("ring_buffer__new", errno);
		}
		struct bpf_program *prog = bpf_object__find_program_by_name(
			obj, perf ? "fill_perfbuf" : "fill_ringbuf");
		char packet[64] = { 0 };
		LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = packet, .data_size_in = sizeof(packet),
			    .repeat = records / RECORDS_PER_RUN);
		if (!prog || bpf_prog_test_run_opts(bpf_program__fd(prog), &run))
			fail("bpf_prog_test_run_opts", errno);
		unsigned long long t0 = now_ns();
		int n = perf ? perf_buffer__consume(pb) : ring_buffer__consume(rb);
		unsigned long long t1 = now_ns();
		if (n < 0)
			fail("consume", n);
		if ((double)(t1 - t0) < best_ns) {
			best_ns = (double)(t1 - t0);
			best = st;
		}
		ring_buffer__free(rb);
		perf_buffer__free(pb);
		bpf_object__close(obj);
	}
	printf("{\"records\":%llu,\"ns\":%.0f,\"records_per_sec\":%.0f,\"in_order\":%s,"
	       "\"lost\":%llu}\n",
	       (unsigned long long)best.records, best_ns,
	       best_ns > 0 ? best.records * 1e9 / best_ns : 0.0,
	       best.in_order ? "true" : "false", (unsigned long long)best.lost);
	return 0;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(silent);
	if (argc == 4 && strcmp(argv[1], "map-ops") == 0)
		return cmd_map_ops((unsigned int)strtoul(argv[2], NULL, 0), atoi(argv[3]));
	if (argc == 6 && (strcmp(argv[1], "ringbuf-drain") == 0 ||
			  strcmp(argv[1], "perfbuf-drain") == 0))
		return cmd_drain(argv[2], argv[1][0] == 'p', (__u32)strtoul(argv[3], NULL, 0),
				 (__u32)strtoul(argv[4], NULL, 0), atoi(argv[5]));
	fputs("usage: libbpf_bench map-ops ENTRIES ROUNDS\n"
	      "       libbpf_bench ringbuf-drain|perfbuf-drain OBJ RECORD_SIZE RECORDS ROUNDS\n",
	      stderr);
	return 2;
}
