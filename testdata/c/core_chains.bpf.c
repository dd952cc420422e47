// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture core_chains: the C twin of testdata/rust-ebpf/core-chains (same accesses, same
 * record), so a test can compare the CO-RE records clang emits with bpfkit's: a pointer
 * chain (BPF_CORE_READ of task->real_parent->tgid), a string at the end of a chain
 * (BPF_CORE_READ_STR_INTO of the parent's comm), a bitfield (sched_reset_on_fork), an enum
 * value and its existence (BPF_MAP_TYPE_ARENA), a member only newer kernels have
 * (task_struct.bpf_net_context, 6.11+), a member's offset and size, and a type's existence,
 * size and match. The context struct is declared here (not from vmlinux.h) so the record's
 * fields are plain loads, as in the Rust program.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define MAGIC 0x7eadbeefULL

struct sys_enter_record {
	unsigned long long common;
	long id;
	unsigned long args[6];
};

struct seen {
	int tgid;
	int ppid;
	unsigned long long reset_on_fork;
	long long arena;
	unsigned int arena_exists;
	unsigned int net_context_exists;
	unsigned int tgid_offset;
	unsigned int comm_size;
	unsigned int task_exists;
	unsigned int task_size;
	unsigned int list_head_matches;
	unsigned int pad;
	char parent_comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct seen);
} SEEN SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int on_sys_enter(struct sys_enter_record *ctx)
{
	struct task_struct *task;
	struct seen s = {};
	__u32 key;

	if (ctx->args[0] != MAGIC)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	s.tgid = BPF_CORE_READ(task, tgid);
	s.ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&s.parent_comm, task, real_parent, comm);
	s.reset_on_fork = BPF_CORE_READ_BITFIELD_PROBED(task, sched_reset_on_fork);
	/* Kernels before 6.9 have no BPF_MAP_TYPE_ARENA: the value's relocation fails there,
	 * so it sits behind the existence check (the verifier skips the dead branch). */
	s.arena_exists = bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_ARENA);
	if (s.arena_exists)
		s.arena = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_ARENA);
	s.net_context_exists = bpf_core_field_exists(task->bpf_net_context);
	s.tgid_offset = bpf_core_field_offset(task->tgid);
	s.comm_size = bpf_core_field_size(task->comm);
	s.task_exists = bpf_core_type_exists(struct task_struct);
	s.task_size = bpf_core_type_size(struct task_struct);
	s.list_head_matches = bpf_core_type_matches(struct list_head);
	key = bpf_get_current_pid_tgid() >> 32;
	bpf_map_update_elem(&SEEN, &key, &s, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
