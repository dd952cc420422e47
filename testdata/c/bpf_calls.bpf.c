// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture bpf_calls: BPF-to-BPF calls. A static function in .text (called from both
 * programs: the loader appends a copy to each), a global function (STB_GLOBAL, verified
 * on its own by the kernel through BTF func_info), and two programs in the same section
 * `socket` (several STT_FUNC symbols per section). A static function inside a program
 * section, which libbpf 1.x refuses, is covered by cilium's loader-clang-*.elf instead.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __attribute__((noinline)) int static_double(int x)
{
	return x * 2;
}

__attribute__((noinline)) int global_add(int a, int b)
{
	return a + b;
}

SEC("socket")
int first_prog(struct __sk_buff *skb)
{
	return static_double(skb->len) + global_add(skb->protocol, 1);
}

SEC("socket")
int second_prog(struct __sk_buff *skb)
{
	return static_double(skb->ifindex) - 1;
}

char LICENSE[] SEC("license") = "GPL";
