// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture ksym_typed_var: a typed `.ksyms` variable, the per-CPU `runqueues`
 * (`extern const struct rq runqueues __ksym`), read with bpf_per_cpu_ptr(). The loader
 * turns it into ld_imm64 with src_reg BPF_PSEUDO_BTF_ID and imm = the vmlinux BTF VAR
 * id. The kernel then needs the variable's address from kallsyms: a kernel without
 * CONFIG_KALLSYMS_ALL rejects the program ("failed to find the address for kernel
 * symbol 'runqueues'").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern const struct rq runqueues __ksym;

int seen_cpu;

SEC("tp_btf/task_newtask")
int BPF_PROG(read_runqueue, struct task_struct *task, u64 clone_flags)
{
	struct rq *rq = bpf_per_cpu_ptr(&runqueues, 0);

	if (rq)
		seen_cpu = rq->cpu;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
