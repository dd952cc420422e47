// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture net_netfilter: a netfilter program (SEC("netfilter"), Linux 6.4) counting every
 * packet of its hook into slot 0 of the array map `counts` (u64) and the IPv4 packets among
 * them (the hook's protocol family, `state->pf`, is NFPROTO_IPV4) into slot 1; returns
 * NF_ACCEPT. libbpf 1.1 does not know the section name, so bpftool cannot load it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("netfilter")
int nf_count(struct bpf_nf_ctx *ctx)
{
	bump(0);
	if (ctx->state->pf == 2 /* NFPROTO_IPV4 */)
		bump(1);
	return 1; /* NF_ACCEPT */
}

char LICENSE[] SEC("license") = "GPL";
