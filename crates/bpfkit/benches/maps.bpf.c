// The map the Aya side of the map benchmark opens (Aya creates maps only from objects).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 100000);
	__type(key, __u32);
	__type(value, __u64);
} bench SEC(".maps");

SEC("socket")
int touch(struct __sk_buff *skb)
{
	__u32 key = 0;
	return bpf_map_lookup_elem(&bench, &key) != 0;
}

char LICENSE[] SEC("license") = "GPL";
