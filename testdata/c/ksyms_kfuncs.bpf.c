// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture ksyms_kfuncs: `.ksyms` externs that load on a kernel without
 * CONFIG_KALLSYMS_ALL. Kfuncs `bpf_task_acquire`, `bpf_task_release`,
 * `bpf_rcu_read_lock/unlock` (calls with src_reg BPF_PSEUDO_KFUNC_CALL, imm = the
 * vmlinux BTF FUNC id) and an untyped ksym `tcp_rcv_established` (`const void`,
 * resolved by the loader from /proc/kallsyms into a plain ld_imm64 of its address).
 * Typed ksym variables are in ksym_typed_var.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern const void tcp_rcv_established __ksym;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

__u64 seen_address;
int seen_pid;

SEC("tp_btf/task_newtask")
int BPF_PROG(on_newtask, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *acquired;

	seen_address = (__u64)&tcp_rcv_established;
	acquired = bpf_task_acquire(task);
	if (!acquired)
		return 0;
	bpf_rcu_read_lock();
	seen_pid = acquired->pid;
	bpf_rcu_read_unlock();
	bpf_task_release(acquired);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
