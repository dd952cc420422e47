// libbpf side of crates/bpfkit/benches/run.sh: the same map operations and object load
// as examples/bench.rs, through Debian's libbpf-dev.
//   libbpf_bench maps N          hash update/lookup/delete of N u32->u64, then batch ops
//   libbpf_bench load OBJ [MAP=MAX_ENTRIES,VALUE_SIZE ...]   open + load, then exit
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int maps(unsigned n)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench", 4, 8, n, NULL);
	if (fd < 0) { perror("map create"); return 1; }
	double t = now_ms();
	for (unsigned i = 0; i < n; i++) {
		unsigned long long v = i * 3ULL;
		if (bpf_map_update_elem(fd, &i, &v, BPF_ANY)) { perror("update"); return 1; }
	}
	double upd = now_ms() - t; t = now_ms();
	unsigned long long sum = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned long long v;
		if (bpf_map_lookup_elem(fd, &i, &v)) { perror("lookup"); return 1; }
		sum += v;
	}
	double look = now_ms() - t; t = now_ms();
	for (unsigned i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, &i)) { perror("delete"); return 1; }
	double del = now_ms() - t;

	unsigned *keys = calloc(n, 4);
	unsigned long long *vals = calloc(n, 8);
	for (unsigned i = 0; i < n; i++) { keys[i] = i; vals[i] = i * 3ULL; }
	t = now_ms();
	__u32 count = n;
	if (bpf_map_update_batch(fd, keys, vals, &count, NULL)) { perror("update batch"); return 1; }
	double bupd = now_ms() - t; t = now_ms();
	unsigned got = 0, chunk = 1024;
	__u32 token = 0; void *in = NULL;
	unsigned *kbuf = calloc(chunk, 4); unsigned long long *vbuf = calloc(chunk, 8);
	for (;;) {
		__u32 c = chunk;
		int err = bpf_map_lookup_batch(fd, in, &token, kbuf, vbuf, &c, NULL);
		got += c;
		if (err) break;
		in = &token;
	}
	double blook = now_ms() - t;
	printf("libbpf  maps n=%u: update %.1f ms, lookup %.1f ms, delete %.1f ms, "
	       "update_batch %.1f ms, lookup_batch(1024) %.1f ms (%u elems, sum %llu)\n",
	       n, upd, look, del, bupd, blook, got, sum);
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
