// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture attach_counters: programs for bpfkit's attach tests, each counting into slot N of
 * the array map `counts` (u64) only for the process whose tgid is the .rodata constant
 * target_pid: 0 tracepoint sys_enter_openat, 1 raw_tp sys_enter with id openat (257),
 * 2 tp_btf sys_enter with id openat, 3 perf_event samples (any process), 4 socket filter
 * packets, 5 iter/task prints "pid <tgid>\n" per task, 6 syscall program doubles ctx->in into
 * ctx->out and returns 42; uprobes (target process only): 7 entry calls, 8 sum of the
 * first argument, 9 sum of the return values; 10 sum of BPF cookies seen by
 * `on_cookie_single` (a uprobe link with a cookie; uprobe.multi is in attach_multi). `list_tasks_comm` is a second iter/task
 * program printing "comm <comm>\n" for the test's own process (link update).
 * `count_openat_tp` also sends a `struct open_event` (pid, comm, filename) per counted
 * openat to the BPF_MAP_TYPE_RINGBUF `opens` (for `bpfkit run`).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct open_event {
	__u32 pid;
	char comm[16];
	char filename[64];
};

/* Keeps struct open_event in the object's BTF for decoders. */
const struct open_event *unused_open_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} opens SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline int is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat_tp(struct trace_event_raw_sys_enter *ctx)
{
	struct open_event *e;

	if (!is_target())
		return 0;
	bump(0);
	e = bpf_ringbuf_reserve(&opens, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[1]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tp/sys_enter")
int count_openat_raw(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_target() && ctx->args[1] == 257)
		bump(1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(count_openat_btf, struct pt_regs *regs, long id)
{
	if (is_target() && id == 257)
		bump(2);
	return 0;
}

SEC("perf_event")
int count_samples(void *ctx)
{
	bump(3);
	return 0;
}

SEC("socket")
int count_packets(struct __sk_buff *skb)
{
	bump(4);
	return skb->len;
}

SEC("iter/task")
int list_tasks(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	if (task->pid == task->tgid)
		BPF_SEQ_PRINTF(ctx->meta->seq, "pid %d\n", task->tgid);
	return 0;
}

struct syscall_args {
	__u64 in;
	__u64 out;
};

SEC("syscall")
int double_it(struct syscall_args *ctx)
{
	ctx->out = ctx->in * 2;
	bump(6);
	return 42;
}

SEC("uprobe")
int BPF_KPROBE(on_entry, long value)
{
	__u32 slot = 8;
	__u64 *sum;

	if (!is_target())
		return 0;
	bump(7);
	sum = bpf_map_lookup_elem(&counts, &slot);
	if (sum)
		__sync_fetch_and_add(sum, value);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_return, long ret)
{
	__u32 slot = 9;
	__u64 *sum;

	if (!is_target())
		return 0;
	sum = bpf_map_lookup_elem(&counts, &slot);
	if (sum)
		__sync_fetch_and_add(sum, ret);
	return 0;
}

SEC("uprobe")
int on_cookie_single(struct pt_regs *ctx)
{
	__u32 slot = 10;
	__u64 *sum;

	if (!is_target())
		return 0;
	sum = bpf_map_lookup_elem(&counts, &slot);
	if (sum)
		__sync_fetch_and_add(sum, bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("iter/task")
int list_tasks_comm(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	if (task->pid == task->tgid && task->tgid == target_pid)
		BPF_SEQ_PRINTF(ctx->meta->seq, "comm %s\n", task->comm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
