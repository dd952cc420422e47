// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture usdt_uprobe: the BPF side of testdata/c/userspace/usdt_target.c. `on_tick`
 * (SEC("usdt"), libbpf's usdt.bpf.h: a KPROBE program that reads its arguments through
 * the __bpf_usdt_specs/__bpf_usdt_ip_to_spec_id maps the loader fills) counts the
 * bpfkit:tick probe and sums its two arguments; `on_target_entry`/`on_target_return`
 * (uprobe/uretprobe) sum the argument and the return value of bpfkit_uprobe_target().
 * All results are .bss counters. Built with -D__TARGET_ARCH_<host arch> (added by
 * fixture()) for the pt_regs accessors.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

__u64 ticks;
__s64 tick_index_sum;
__u64 tick_scaled_sum;
__u64 uprobe_calls;
__s64 uprobe_arg_sum;
__s64 uretprobe_ret_sum;

SEC("usdt")
int BPF_USDT(on_tick, int index, unsigned long scaled)
{
	__sync_fetch_and_add(&ticks, 1);
	__sync_fetch_and_add(&tick_index_sum, index);
	__sync_fetch_and_add(&tick_scaled_sum, scaled);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(on_target_entry, int value)
{
	__sync_fetch_and_add(&uprobe_calls, 1);
	__sync_fetch_and_add(&uprobe_arg_sum, value);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_target_return, int ret)
{
	__sync_fetch_and_add(&uretprobe_ret_sum, ret);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
