// execsnoop's kernel side (../execsnoop-ebpf/src/main.rs), the same logic in C: the twin that
// the verified-instructions benchmark (../execsnoop/tests/verifier_cost.rs) builds with
// clang-19 -O2 and loads next to the Rust object.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define MAX_ARGS 60
#define ARG_SIZE 128
#define ARGS_CAPACITY (MAX_ARGS * ARG_SIZE)

struct task_struct {
	int tgid;
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	__u32 args_count;
	__u32 args_size;
	char comm[16];
	char args[ARGS_CAPACITY];
};

#define EVENT_HEADER_SIZE (sizeof(struct exec_event) - ARGS_CAPACITY)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct exec_event);
	__uint(max_entries, 10240);
} EXECS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} EVENTS SEC(".maps");

// Events the full ring buffer refused (tool_abi::lost_counter!).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} LOST SEC(".maps");

const volatile __u32 TARGET_UID = (__u32)-1;
const volatile __u32 TARGET_PID = 0;

// The tools' shared filter (tool_abi::filter_globals!): --comm and --cgroup.
const volatile __u32 FILTER_PID = 0;
const volatile __u32 FILTER_COMM_ON = 0;
const volatile __u64 FILTER_COMM_LO = 0;
const volatile __u64 FILTER_COMM_HI = 0;
const volatile __u64 FILTER_CGROUP_ID = 0;
const volatile __u32 FILTER_CGROUP_LEVEL = 0;

static __always_inline int filter_pass(void)
{
	if (FILTER_PID && FILTER_PID != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	if (FILTER_COMM_ON) {
		char comm[16];
		__u64 lo, hi;

		if (bpf_get_current_comm(comm, sizeof(comm)))
			return 0;
		__builtin_memcpy(&lo, comm, 8);
		__builtin_memcpy(&hi, comm + 8, 8);
		if (lo != FILTER_COMM_LO || hi != FILTER_COMM_HI)
			return 0;
	}
	if (FILTER_CGROUP_ID &&
	    bpf_get_current_ancestor_cgroup_id(FILTER_CGROUP_LEVEL) != FILTER_CGROUP_ID)
		return 0;
	return 1;
}

static const struct exec_event EMPTY;

// The records of syscalls/sys_enter_execve and sys_exit_execve.
struct sys_enter_execve {
	__u64 common;
	__s64 nr;
	const char *filename;
	const char *const *argv;
};

struct sys_exit_execve {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

static __u32 parent_tgid(void)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct task_struct *parent = NULL;
	int tgid = 0;

	bpf_probe_read_kernel(&parent, sizeof(parent), &task->real_parent);
	if (!parent)
		return 0;
	bpf_probe_read_kernel(&tgid, sizeof(tgid), &parent->tgid);
	return tgid;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(struct sys_enter_execve *ctx)
{
	__u32 uid = bpf_get_current_uid_gid();
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct exec_event *e;
	const char *arg;
	long ret;
	int i;

	if (TARGET_UID != (__u32)-1 && TARGET_UID != uid)
		return 0;
	if (TARGET_PID && TARGET_PID != pid)
		return 0;
	if (!filter_pass())
		return 0;
	if (bpf_map_update_elem(&EXECS, &pid, &EMPTY, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&EXECS, &pid);
	if (!e)
		return 0;
	e->pid = pid;
	e->uid = uid;
	e->ppid = parent_tgid();
	bpf_get_current_comm(&e->comm, sizeof(e->comm));

	ret = bpf_probe_read_user_str(e->args, ARG_SIZE, ctx->filename);
	if (ret > 0) {
		e->args_size = ret;
		e->args_count = 1;
	}
	for (i = 1; i < MAX_ARGS; i++) {
		__u32 used;

		if (bpf_probe_read_user(&arg, sizeof(arg), &ctx->argv[i]))
			break;
		if (!arg)
			break;
		used = e->args_size;
		if (used > ARGS_CAPACITY - ARG_SIZE)
			break;
		ret = bpf_probe_read_user_str(&e->args[used], ARG_SIZE, arg);
		if (ret < 0)
			break;
		e->args_size += ret;
		e->args_count++;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int execve_exit(struct sys_exit_execve *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct exec_event *e = bpf_map_lookup_elem(&EXECS, &pid);
	__u32 args;

	if (!e)
		return 0;
	e->retval = ctx->ret;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	args = e->args_size;
	if (args > ARGS_CAPACITY)
		args = ARGS_CAPACITY;
	if (bpf_ringbuf_output(&EVENTS, e, EVENT_HEADER_SIZE + args, 0)) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&LOST, &zero);

		if (lost)
			(*lost)++;
	}
	bpf_map_delete_elem(&EXECS, &pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
