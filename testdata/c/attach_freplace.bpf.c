// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture attach_freplace: `new_verdict` (SEC("freplace/verdict"), BPF_PROG_TYPE_EXT)
 * replaces the global function `verdict` of attach_freplace_target's `xdp_verdict`,
 * returning XDP_PASS (2) instead of XDP_DROP. It only loads with a target program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("freplace/verdict")
int new_verdict(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
