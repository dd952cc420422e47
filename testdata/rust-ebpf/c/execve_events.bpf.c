// The logic of ../execve-events in C, for the verifier-instructions benchmark.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct exec_event {
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u32 gid;
	__u64 ktime_ns;
	char comm[16];
	char filename[128];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} EVENTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct exec_event);
	__uint(max_entries, 1024);
} LAST_EXEC SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int record_execve(void *ctx)
{
	/* On the stack: Linux 6.1 refuses ring buffer memory as a map helper's value. */
	struct exec_event event = {};
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	__u64 uid_gid = bpf_get_current_uid_gid();
	event.pid = (__u32)pid_tgid;
	event.tgid = tgid;
	event.uid = (__u32)uid_gid;
	event.gid = uid_gid >> 32;
	event.ktime_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(event.comm, sizeof(event.comm));
	const char *filename = *(const char **)((char *)ctx + 16);
	bpf_probe_read_user_str(event.filename, sizeof(event.filename), filename);
	bpf_map_update_elem(&LAST_EXEC, &tgid, &event, BPF_ANY);
	return bpf_ringbuf_output(&EVENTS, &event, sizeof(event), 0) ? 1 : 0;
}

char LICENSE[] SEC("license") = "GPL";
