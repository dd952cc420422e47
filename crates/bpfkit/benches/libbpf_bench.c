// libbpf side of crates/bpfkit/benches/run.sh: the same map operations and object load
// as examples/bench.rs, through Debian's libbpf-dev.
//   libbpf_bench maps N          hash update/lookup/delete of N u32->u64, then batch ops
// Same work as bench.rs: every looked-up value kept (summed, or written into preallocated,
// pre-faulted buffers of all N elements by the batch lookup, 1024 per syscall); each phase
// a noinline bench_* function (for callgrind's --toggle-collect) timed as CPU time
// (user+sys, getrusage) and wall time.
//   libbpf_bench load OBJ [MAP=MAX_ENTRIES,VALUE_SIZE ...]   open + load, then exit
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <sys/resource.h>

#define CHUNK 1024

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

__attribute__((noinline, noclone)) static int bench_update(int fd, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned long long v = i * 3ULL;
		if (bpf_map_update_elem(fd, &i, &v, BPF_ANY)) { perror("update"); return -1; }
	}
	return 0;
}

__attribute__((noinline, noclone)) static int bench_lookup(int fd, unsigned n, unsigned long long *sum)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned long long v;
		if (bpf_map_lookup_elem(fd, &i, &v)) { perror("lookup"); return -1; }
		*sum += v;
	}
	return 0;
}

__attribute__((noinline, noclone)) static int bench_delete(int fd, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, &i)) { perror("delete"); return -1; }
	return 0;
}

__attribute__((noinline, noclone)) static int bench_update_batch(int fd, unsigned *keys,
							 unsigned long long *vals, unsigned n)
{
	__u32 count = n;
	if (bpf_map_update_batch(fd, keys, vals, &count, NULL)) { perror("update batch"); return -1; }
	return 0;
}

__attribute__((noinline, noclone)) static unsigned bench_lookup_batch(int fd, unsigned *kout,
							      unsigned long long *vout, unsigned n)
{
	unsigned got = 0;
	__u32 token = 0;
	void *in = NULL;
	while (got < n) {
		__u32 c = n - got < CHUNK ? n - got : CHUNK;
		int err = bpf_map_lookup_batch(fd, in, &token, kout + got, vout + got, &c, NULL);
		if (err && errno != ENOENT) { perror("lookup batch"); return got; }
		got += c;
		if (err) break;
		in = &token;
	}
	return got;
}

#define TIMED(cpu, wall, expr) do { double c0 = cpu_ms(), w0 = now_ms(); expr; \
	cpu = cpu_ms() - c0; wall = now_ms() - w0; } while (0)

static int maps(unsigned n)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench", 4, 8, n, NULL);
	if (fd < 0) { perror("map create"); return 1; }
	double upd, look, del, bupd, blook, updw, lookw, delw, bupdw, blookw;
	unsigned long long sum = 0, bsum = 0;
	int r;
	TIMED(upd, updw, r = bench_update(fd, n));
	if (r) return 1;
	TIMED(look, lookw, r = bench_lookup(fd, n, &sum));
	if (r) return 1;
	TIMED(del, delw, r = bench_delete(fd, n));
	if (r) return 1;

	/* Inputs and outputs allocated and written (pre-faulted) before the timed phases. */
	unsigned *keys = malloc(n * 4ul), *kout = malloc(n * 4ul);
	unsigned long long *vals = malloc(n * 8ul), *vout = malloc(n * 8ul);
	if (!keys || !kout || !vals || !vout) { perror("malloc"); return 1; }
	for (unsigned i = 0; i < n; i++) {
		keys[i] = i; vals[i] = i * 3ULL; kout[i] = ~0u; vout[i] = ~0ull;
	}
	TIMED(bupd, bupdw, r = bench_update_batch(fd, keys, vals, n));
	if (r) return 1;
	unsigned got;
	TIMED(blook, blookw, got = bench_lookup_batch(fd, kout, vout, n));
	for (unsigned i = 0; i < got; i++) bsum += vout[i];
	printf("libbpf  maps n=%u cpu: update %.1f ms, lookup %.1f ms, delete %.1f ms, "
	       "update_batch %.1f ms, lookup_batch(1024) %.1f ms "
	       "(wall %.1f %.1f %.1f %.1f %.1f; %u elems, sum %llu, batch sum %llu)\n",
	       n, upd, look, del, bupd, blook, updw, lookw, delw, bupdw, blookw, got, sum, bsum);
	free(keys); free(kout); free(vals); free(vout);
	close(fd);
	return 0;
}

static int load(const char *path, int argc, char **argv)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) { fprintf(stderr, "open %s failed\n", path); return 1; }
	for (int i = 0; i < argc; i++) {
		char name[64]; unsigned max, vsize;
		if (sscanf(argv[i], "%63[^=]=%u,%u", name, &max, &vsize) != 3) continue;
		struct bpf_map *m = bpf_object__find_map_by_name(obj, name);
		if (m) { bpf_map__set_max_entries(m, max); bpf_map__set_value_size(m, vsize); }
	}
	if (bpf_object__load(obj)) { fprintf(stderr, "load %s failed\n", path); return 1; }
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(NULL);
	if (argc >= 3 && !strcmp(argv[1], "maps")) return maps(atoi(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "load")) return load(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: %s maps N | load OBJ [MAP=MAX,VSIZE...]\n", argv[0]);
	return 2;
}
