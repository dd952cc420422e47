// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture xdp_offload: an XDP program for a device that runs it itself (offload: loaded
 * with prog_ifindex, attached with XDP_FLAGS_HW_MODE; netdevsim in the VM tests). No maps
 * and no helpers, which an offload target accepts: xdp_offload_drop drops IPv4 frames and
 * passes every other one (too short ones included).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int xdp_offload_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	return eth->h_proto == bpf_htons(ETH_P_IP) ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
