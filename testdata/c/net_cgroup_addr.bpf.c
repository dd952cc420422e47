// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture net_cgroup_addr: the cgroup socket hooks that report or refuse an address, each
 * counting into slot N of the array map `counts` (u64) when it acts.
 * IPv4 (0 recvmsg4_rewrite, 1 getpeername4_rewrite, 2 getsockname4_rewrite): an address
 * 127.0.0.1:port_from becomes 127.0.0.9:port_to. IPv6 (3 recvmsg6_rewrite,
 * 4 getpeername6_rewrite, 5 getsockname6_rewrite): [::1]:port_from becomes [::9]:port_to.
 * 6 post_bind4_deny, 7 post_bind6_deny (cgroup/post_bind4|6) refuse a bind to deny_port
 * (EPERM). 8 sock_release_count (cgroup/sock_release) counts released AF_INET UDP sockets.
 * Ports are .rodata constants in host byte order.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define SOCK_DGRAM 2
#define IPPROTO_UDP 17

const volatile __u16 port_from = 0;
const volatile __u16 port_to = 0;
const volatile __u16 deny_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline int rewrite4(struct bpf_sock_addr *ctx, __u32 slot)
{
	if (ctx->user_ip4 == bpf_htonl(0x7f000001) && ctx->user_port == bpf_htons(port_from)) {
		ctx->user_ip4 = bpf_htonl(0x7f000009);
		ctx->user_port = bpf_htons(port_to);
		bump(slot);
	}
	return 1;
}

static __always_inline int rewrite6(struct bpf_sock_addr *ctx, __u32 slot)
{
	if (ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == 0 &&
	    ctx->user_ip6[3] == bpf_htonl(1) && ctx->user_port == bpf_htons(port_from)) {
		ctx->user_ip6[3] = bpf_htonl(9);
		ctx->user_port = bpf_htons(port_to);
		bump(slot);
	}
	return 1;
}

SEC("cgroup/recvmsg4")
int recvmsg4_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite4(ctx, 0);
}

SEC("cgroup/getpeername4")
int getpeername4_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite4(ctx, 1);
}

SEC("cgroup/getsockname4")
int getsockname4_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite4(ctx, 2);
}

SEC("cgroup/recvmsg6")
int recvmsg6_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite6(ctx, 3);
}

SEC("cgroup/getpeername6")
int getpeername6_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite6(ctx, 4);
}

SEC("cgroup/getsockname6")
int getsockname6_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite6(ctx, 5);
}

SEC("cgroup/post_bind4")
int post_bind4_deny(struct bpf_sock *sk)
{
	if (sk->src_port == deny_port) {
		bump(6);
		return 0;
	}
	return 1;
}

SEC("cgroup/post_bind6")
int post_bind6_deny(struct bpf_sock *sk)
{
	if (sk->src_port == deny_port) {
		bump(7);
		return 0;
	}
	return 1;
}

SEC("cgroup/sock_release")
int sock_release_count(struct bpf_sock *sk)
{
	if (sk->family == AF_INET && sk->type == SOCK_DGRAM && sk->protocol == IPPROTO_UDP)
		bump(8);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
