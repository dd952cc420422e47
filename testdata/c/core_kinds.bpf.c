// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture core_kinds: one CO-RE relocation of each of the 13 kinds against vmlinux,
 * plus `___flavor` candidates. Field kinds on task_struct: byte offset (BPF_CORE_READ of
 * pid), byte size, exists, signed, and lshift/rshift on the bitfield in_execve
 * (BPF_CORE_READ_BITFIELD_PROBED); type kinds on task_struct: id local, id target,
 * exists, size, matches (TYPE_MATCHES); enum kinds on pid_type: value exists, value.
 * `struct task_struct___local_view` (a subset of the real layout) matches by flavor;
 * `struct task_struct___missing` asks for a field no kernel has, so its FIELD_EXISTS is 0.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct task_struct___local_view {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

struct task_struct___missing {
	int bpfkit_no_such_field;
} __attribute__((preserve_access_index));

__u64 results[16];

SEC("tp_btf/task_newtask")
int BPF_PROG(core_all_kinds, struct task_struct *task, u64 clone_flags)
{
	struct task_struct___local_view *view = (void *)task;
	struct task_struct___missing *missing = (void *)task;

	results[0] = BPF_CORE_READ(task, pid);                       /* FIELD_BYTE_OFFSET */
	results[1] = bpf_core_field_size(task->pid);                  /* FIELD_BYTE_SIZE */
	results[2] = bpf_core_field_exists(task->pid);                /* FIELD_EXISTS */
	results[3] = bpf_core_field_exists(missing->bpfkit_no_such_field);
	results[4] = BPF_CORE_READ_BITFIELD_PROBED(task, in_execve); /* SIGNED, LSHIFT, RSHIFT */
	results[5] = bpf_core_type_id_local(struct task_struct);      /* TYPE_ID_LOCAL */
	results[6] = bpf_core_type_id_kernel(struct task_struct);     /* TYPE_ID_TARGET */
	results[7] = bpf_core_type_exists(struct task_struct);        /* TYPE_EXISTS */
	results[8] = bpf_core_type_size(struct task_struct);          /* TYPE_SIZE */
	results[9] = bpf_core_type_matches(struct task_struct);       /* TYPE_MATCHES */
	results[10] = bpf_core_enum_value_exists(enum pid_type, PIDTYPE_PGID); /* ENUMVAL_EXISTS */
	results[11] = bpf_core_enum_value(enum pid_type, PIDTYPE_PGID);        /* ENUMVAL_VALUE */
	results[12] = BPF_CORE_READ(view, tgid);
	results[13] = bpf_core_type_matches(struct task_struct___local_view);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
