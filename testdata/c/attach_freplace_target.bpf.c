// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture attach_freplace_target: the XDP program `xdp_verdict` returns what the global
 * (BTF-visible, not inlined) function `verdict` returns, XDP_DROP (1). The fixture
 * attach_freplace replaces `verdict`.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__noinline int verdict(struct xdp_md *ctx)
{
	return ctx ? XDP_DROP : XDP_ABORTED;
}

SEC("xdp")
int xdp_verdict(struct xdp_md *ctx)
{
	return verdict(ctx);
}

char LICENSE[] SEC("license") = "GPL";
