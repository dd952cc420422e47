// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture net_cgroup: cgroup programs for bpfkit's attach tests, each counting into slot N
 * of the array map `counts` (u64): 0 connect4_rewrite (cgroup/connect4) rewrites TCP/UDP
 * connects to 127.0.0.1:from_port into to_port and counts them; 1 connect4_deny denies
 * connects to deny_port; 2 sysctl_deny (cgroup/sysctl) denies reads of kernel/ostype;
 * 3 getsockopt_seen (cgroup/getsockopt) counts getsockopt(SOL_SOCKET, SO_TYPE) calls;
 * 4 sock_create_count (cgroup/sock_create) counts AF_INET SOCK_DGRAM sockets; 5 dev_deny
 * (cgroup/dev) denies character device 1:5 (/dev/zero); 6 sockops_count (sockops) counts
 * active, 7 passive established TCP connections; 8 bind4_count (cgroup/bind4) counts binds
 * to from_port; 9 sendmsg4_count (cgroup/sendmsg4) counts unconnected UDP sends to
 * from_port; 10 connect6_deny (cgroup/connect6) denies IPv6 connects to deny_port. Ports are
 * .rodata constants in host byte order.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define SOCK_DGRAM 2
#define SOL_SOCKET 1
#define SO_TYPE 3

const volatile __u16 from_port = 0;
const volatile __u16 to_port = 0;
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

SEC("cgroup/connect4")
int connect4_rewrite(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == bpf_htons(from_port)) {
		ctx->user_port = bpf_htons(to_port);
		bump(0);
	}
	return 1;
}

SEC("cgroup/connect4")
int connect4_deny(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == bpf_htons(deny_port)) {
		bump(1);
		return 0;
	}
	return 1;
}

SEC("cgroup/connect6")
int connect6_deny(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == bpf_htons(deny_port)) {
		bump(10);
		return 0;
	}
	return 1;
}

SEC("cgroup/sysctl")
int sysctl_deny(struct bpf_sysctl *ctx)
{
	char name[16] = {};
	const char want[] = "kernel/ostype";
	if (ctx->write)
		return 1;
	if (bpf_sysctl_get_name(ctx, name, sizeof(name), 0) != sizeof(want) - 1)
		return 1;
	for (int i = 0; i < sizeof(want); i++)
		if (name[i] != want[i])
			return 1;
	bump(2);
	return 0;
}

SEC("cgroup/getsockopt")
int getsockopt_seen(struct bpf_sockopt *ctx)
{
	if (ctx->level == SOL_SOCKET && ctx->optname == SO_TYPE)
		bump(3);
	return 1;
}

SEC("cgroup/sock_create")
int sock_create_count(struct bpf_sock *sk)
{
	if (sk->family == AF_INET && sk->type == SOCK_DGRAM)
		bump(4);
	return 1;
}

SEC("cgroup/dev")
int dev_deny(struct bpf_cgroup_dev_ctx *ctx)
{
	if ((ctx->access_type & 0xffff) == BPF_DEVCG_DEV_CHAR && ctx->major == 1 && ctx->minor == 5) {
		bump(5);
		return 0;
	}
	return 1;
}

SEC("sockops")
int sockops_count(struct bpf_sock_ops *ops)
{
	if (ops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		bump(6);
	else if (ops->op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		bump(7);
	return 1;
}

SEC("cgroup/bind4")
int bind4_count(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == bpf_htons(from_port))
		bump(8);
	return 1;
}

SEC("cgroup/sendmsg4")
int sendmsg4_count(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == bpf_htons(from_port))
		bump(9);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
