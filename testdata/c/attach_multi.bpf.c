// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture attach_multi: `on_cookie` (SEC("uprobe.multi"), KPROBE with
 * BPF_TRACE_UPROBE_MULTI) adds the BPF cookie of each hit into slot 0 of the array map
 * `counts` (u64) and counts hits in slot 1, only for the process whose tgid is the .rodata
 * constant target_pid. libbpf 1.1 (bpftool 7.1) predates the uprobe.multi section name.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int target_pid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("uprobe.multi")
int on_cookie(struct pt_regs *ctx)
{
	__u32 slot = 0;
	__u64 *v;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, bpf_get_attach_cookie(ctx));
	slot = 1;
	v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
