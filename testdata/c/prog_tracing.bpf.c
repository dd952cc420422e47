// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture prog_tracing: one minimal program per tracing section name the host kernel
 * loads without a trampoline: kprobe/, kretprobe/, ksyscall/, kretsyscall/ (KPROBE;
 * loading works even where attaching needs CONFIG_KPROBES), kprobe.multi/ (KPROBE with
 * BPF_TRACE_KPROBE_MULTI), uprobe, uretprobe, uprobe.s (sleepable), tracepoint/,
 * raw_tp/, raw_tp.w/ (RAW_TRACEPOINT_WRITABLE), tp_btf/ (TRACING + BPF_TRACE_RAW_TP),
 * perf_event, iter/task and iter.s/task (TRACING + BPF_TRACE_ITER, the latter sleepable).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("kprobe/do_unlinkat")
int kprobe_unlinkat(struct pt_regs *ctx) { return 0; }

SEC("kretprobe/do_unlinkat")
int kretprobe_unlinkat(struct pt_regs *ctx) { return 0; }

SEC("ksyscall/getpid")
int ksyscall_getpid(struct pt_regs *ctx) { return 0; }

SEC("kretsyscall/getpid")
int kretsyscall_getpid(struct pt_regs *ctx) { return 0; }

SEC("kprobe.multi/do_unlinkat")
int kprobe_multi_unlinkat(struct pt_regs *ctx) { return 0; }

SEC("uprobe")
int uprobe_any(struct pt_regs *ctx) { return 0; }

SEC("uretprobe")
int uretprobe_any(struct pt_regs *ctx) { return 0; }

SEC("uprobe.s")
int uprobe_sleepable(struct pt_regs *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_getpid")
int tracepoint_getpid(void *ctx) { return 0; }

SEC("raw_tp/sys_enter")
int raw_tp_sys_enter(struct bpf_raw_tracepoint_args *ctx) { return 0; }

SEC("raw_tp.w/bpf_test_finish")
int raw_tp_writable(struct bpf_raw_tracepoint_args *ctx) { return 0; }

SEC("tp_btf/sched_switch")
int BPF_PROG(tp_btf_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return 0;
}

SEC("perf_event")
int perf_event_sample(struct bpf_perf_event_data *ctx) { return 0; }

SEC("iter/task")
int iter_task(struct bpf_iter__task *ctx) { return 0; }

SEC("iter.s/task")
int iter_task_sleepable(struct bpf_iter__task *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
