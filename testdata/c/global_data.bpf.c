// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture global_data: every kind of global-data section a loader turns into an
 * internal array map. `.data` (initialized), `.bss` (zeroed), `.rodata` (const, frozen
 * after load), custom `.data.counters` and `.rodata.config` sections (one map each, from
 * SEC(...) on variables), a function-local static string (BTF name
 * `read_globals.message`, in `.rodata`), plus `license` ("Dual MIT/GPL") and `version`
 * sections. The socket filter `read_globals` reads and writes them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 initialized = 0x1122334455667788ULL;
__u64 zeroed;
const volatile __u32 constant = 7;
__u64 custom_counter SEC(".data.counters") = 3;
const volatile __u32 custom_config SEC(".rodata.config") = 11;

SEC("socket")
int read_globals(struct __sk_buff *skb)
{
	static const char message[] = "bpfkit %d";

	zeroed = initialized + constant + custom_config;
	custom_counter++;
	bpf_trace_printk(message, sizeof(message), skb->len);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
__u32 VERSION SEC("version") = 0x060100;
