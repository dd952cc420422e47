// The logic of ../maps' exercise_maps in C, for the verifier-instructions benchmark.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct locked {
	struct bpf_spin_lock lock;
	__u64 count;
};

struct lpm_key {
	__u32 prefix_len;
	__u8 data[4];
};

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 16); } RESULTS SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 16); } HASH SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 16); } LRU SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 16); } PERCPU_HASH SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH); __type(key, __u32); __type(value, __u64); __uint(max_entries, 16); } LRU_PERCPU_HASH SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __type(key, __u32); __type(value, __u64); __uint(max_entries, 4); } PERCPU SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_QUEUE); __type(value, __u64); __uint(max_entries, 8); } FIFO SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK); __type(value, __u64); __uint(max_entries, 8); } LIFO SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_BLOOM_FILTER); __type(value, __u64); __uint(max_entries, 64); } SEEN SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __type(key, struct lpm_key); __type(value, __u64); __uint(max_entries, 16); __uint(map_flags, BPF_F_NO_PREALLOC); } ROUTES SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, struct locked); __uint(max_entries, 1); } LOCKED SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PROG_ARRAY); __uint(key_size, 4); __uint(value_size, 4); __uint(max_entries, 4); } JUMPS SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } EVENTS SEC(".maps");

const volatile __u32 MAGIC = 1234;
__u64 RUNS = 0;

static void store(__u32 slot, __u64 value)
{
	__u64 *p = bpf_map_lookup_elem(&RESULTS, &slot);
	if (p)
		*p = value;
}

static __u64 get(void *map, __u32 key)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);
	return v ? *v : 0;
}

static long sum_cb(__u32 i, void *ctx)
{
	*(__u64 *)ctx += i;
	return 0;
}

SEC("xdp")
int exercise_maps(struct xdp_md *ctx)
{
	__u32 k;
	__u64 v;
	k = 7; v = 700; bpf_map_update_elem(&HASH, &k, &v, BPF_ANY);
	store(0, get(&HASH, 7));
	k = 8; v = 800; bpf_map_update_elem(&LRU, &k, &v, BPF_ANY);
	store(1, get(&LRU, 8));
	k = 9; v = 900; bpf_map_update_elem(&PERCPU_HASH, &k, &v, BPF_ANY);
	v = 901; bpf_map_update_elem(&LRU_PERCPU_HASH, &k, &v, BPF_ANY);
	store(2, get(&PERCPU_HASH, 9) + get(&LRU_PERCPU_HASH, 9));
	k = 7;
	__u64 removed = (bpf_map_delete_elem(&HASH, &k) == 0) * 10;
	removed += bpf_map_delete_elem(&HASH, &k) == 0;
	store(3, removed);
	k = 1; v = 31; bpf_map_update_elem(&PERCPU, &k, &v, BPF_EXIST);
	store(4, get(&PERCPU, 1));
	v = 1; bpf_map_push_elem(&FIFO, &v, 0);
	v = 2; bpf_map_push_elem(&FIFO, &v, 0);
	v = 1; bpf_map_push_elem(&LIFO, &v, 0);
	v = 2; bpf_map_push_elem(&LIFO, &v, 0);
	__u64 a = 0, b = 0;
	bpf_map_pop_elem(&FIFO, &a);
	bpf_map_pop_elem(&LIFO, &b);
	store(5, a * 10 + b);
	v = 42; bpf_map_push_elem(&SEEN, &v, 0);
	store(6, bpf_map_peek_elem(&SEEN, &v) == 0);
	struct lpm_key key = { 8, { 10, 0, 0, 0 } };
	v = 1; bpf_map_update_elem(&ROUTES, &key, &v, BPF_ANY);
	struct lpm_key key2 = { 16, { 10, 1, 0, 0 } };
	v = 2; bpf_map_update_elem(&ROUTES, &key2, &v, BPF_ANY);
	struct lpm_key q1 = { 32, { 10, 1, 2, 3 } }, q2 = { 32, { 10, 9, 9, 9 } };
	__u64 *r1 = bpf_map_lookup_elem(&ROUTES, &q1), *r2 = bpf_map_lookup_elem(&ROUTES, &q2);
	store(7, (r1 ? *r1 : 0) * 10 + (r2 ? *r2 : 0));
	__u64 sum = 0;
	long n = bpf_loop(10, sum_cb, &sum, 0);
	store(8, sum * 100 + (n < 0 ? 0 : n));
	k = 0;
	struct locked *cell = bpf_map_lookup_elem(&LOCKED, &k);
	if (cell) {
		bpf_spin_lock(&cell->lock);
		cell->count += 1;
		bpf_spin_unlock(&cell->lock);
		store(9, cell->count);
	}
	store(10, MAGIC);
	RUNS += 1;
	store(11, RUNS);
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 first = 0;
	if (data + 4 <= end)
		first = __builtin_bswap32(*(__u32 *)data);
	store(12, first);
	v = 0xabcd;
	store(13, bpf_ringbuf_output(&EVENTS, &v, sizeof(v), 0) == 0);
	bpf_tail_call(ctx, &JUMPS, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
