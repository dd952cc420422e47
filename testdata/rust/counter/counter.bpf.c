// The same logic as src/main.rs in C, to compare what the verifier processes.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct stats {
	__u64 calls;
	__u64 last_seen_ns;
	__u32 pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct stats);
	__uint(max_entries, 1024);
} COUNTS SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_ns();
	struct stats *stats = bpf_map_lookup_elem(&COUNTS, &pid);

	if (stats) {
		stats->calls += 1;
		stats->last_seen_ns = now;
	} else {
		struct stats fresh = { .calls = 1, .last_seen_ns = now, .pid = pid };

		bpf_map_update_elem(&COUNTS, &pid, &fresh, BPF_ANY);
	}
	return 0;
}
