// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture attach_session: uprobe.session programs (KPROBE with BPF_TRACE_UPROBE_SESSION,
 * Linux 6.13) that run on entry and on return of each call as one session, told apart by
 * the kfunc bpf_session_is_return(). Both count, for the process whose tgid is the .rodata
 * constant target_pid, entries in slot 0 and returns in slot 1 of the array map `counts`.
 *
 * - `on_session` (SEC("uprobe.session")) names no target: tests attach it themselves.
 * - `on_getppid` (SEC("uprobe.session/libc.so.6:getppid")) auto-attaches (`bpfkit run`).
 *
 * libbpf 1.1 (bpftool 7.1) predates the uprobe.session section name.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern bool bpf_session_is_return(void) __ksym;

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int count_session(void)
{
	__u32 slot;
	__u64 *v;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	slot = bpf_session_is_return() ? 1 : 0;
	v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	/* 0 on entry: run again on return. */
	return 0;
}

SEC("uprobe.session")
int on_session(struct pt_regs *ctx)
{
	return count_session();
}

SEC("uprobe.session/libc.so.6:getppid")
int on_getppid(struct pt_regs *ctx)
{
	return count_session();
}

char LICENSE[] SEC("license") = "GPL";
