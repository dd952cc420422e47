// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture run_records: records whose struct names do not say "event", for `bpfkit run`'s
 * decoder. On each openat of the process whose tgid is the .rodata constant target_pid,
 * `record_openat` sends a `struct open_record` (pid, comm as __u8[16] the way Rust's
 * [u8; 16] appears in BTF, path as __s8[64] like Rust's [i8; 64]) to the BPF_MAP_TYPE_RINGBUF
 * `opens`, and a `struct tally` (running count, pid) to the perf event array `tallies`.
 * `struct decoy_record` has the size of `struct open_record`, so the size alone cannot pick
 * the type of `opens` records: that takes `--record opens=open_record`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int target_pid = 0;

struct open_record {
	__u32 pid;
	__u8 comm[16];
	__s8 path[64];
};

struct decoy_record {
	__u32 a;
	__u32 b[20];
};

struct tally {
	__u64 calls;
	__u32 pid;
	__u32 flags;
};

/* Keep the record structs in the object's BTF (clang emits only the types of globals and
 * function signatures that survive optimisation). */
const struct open_record *unused_open_record __attribute__((unused));
const struct decoy_record *unused_decoy_record __attribute__((unused));
const struct tally *unused_tally __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} opens SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} tallies SEC(".maps");

__u64 calls;

SEC("tracepoint/syscalls/sys_enter_openat")
int record_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct open_record *r;
	struct tally t = {};
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (pid != target_pid)
		return 0;
	r = bpf_ringbuf_reserve(&opens, sizeof(*r), 0);
	if (r) {
		r->pid = pid;
		bpf_get_current_comm(r->comm, sizeof(r->comm));
		bpf_probe_read_user_str(r->path, sizeof(r->path), (const char *)ctx->args[1]);
		bpf_ringbuf_submit(r, 0);
	}
	t.calls = __sync_add_and_fetch(&calls, 1);
	t.pid = pid;
	t.flags = 7;
	bpf_perf_event_output(ctx, &tallies, BPF_F_CURRENT_CPU, &t, sizeof(t));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
