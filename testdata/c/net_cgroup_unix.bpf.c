// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture net_cgroup_unix: the AF_UNIX sock_addr hooks (Linux 6.7). Every program rewrites
 * the abstract address `unix_from` into `unix_to` (both UNIX_NAME_LEN bytes, the first one
 * 0) through the kfunc bpf_sock_addr_set_sun_path and counts into slot N of `counts`:
 * 0 connect_unix_rewrite, 1 sendmsg_unix_rewrite, 2 recvmsg_unix_rewrite,
 * 3 getpeername_unix_rewrite, 4 getsockname_unix_rewrite. The address is read through
 * bpf_cast_to_kern_ctx (struct bpf_sock_addr_kern) and bpf_rdonly_cast to sockaddr_un.
 * getpeername_unix runs for the peer socket's cgroup (unix_getname hands the hook the peer).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define UNIX_NAME_LEN 24
#define SUN_PATH_OFFSET 2

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
extern int bpf_sock_addr_set_sun_path(struct bpf_sock_addr_kern *sa_kern, const __u8 *sun_path,
				      __u32 sun_path__sz) __ksym;

const volatile char unix_from[UNIX_NAME_LEN] = {};
const volatile char unix_to[UNIX_NAME_LEN] = {};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int rewrite_unix(struct bpf_sock_addr *ctx, __u32 slot)
{
	struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
	struct sockaddr_un *un;
	__u8 to[UNIX_NAME_LEN];
	__u64 *v;

	if (sa->uaddrlen != SUN_PATH_OFFSET + UNIX_NAME_LEN)
		return 1;
	un = bpf_rdonly_cast(sa->uaddr, bpf_core_type_id_kernel(struct sockaddr_un));
	for (int i = 0; i < UNIX_NAME_LEN; i++)
		if (un->sun_path[i] != unix_from[i])
			return 1;
	/* The kfunc's buffer must be writable memory (the verifier refuses .rodata). */
	for (int i = 0; i < UNIX_NAME_LEN; i++)
		to[i] = unix_to[i];
	if (bpf_sock_addr_set_sun_path(sa, to, UNIX_NAME_LEN))
		return 1;
	v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 1;
}

SEC("cgroup/connect_unix")
int connect_unix_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite_unix(ctx, 0);
}

SEC("cgroup/sendmsg_unix")
int sendmsg_unix_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite_unix(ctx, 1);
}

SEC("cgroup/recvmsg_unix")
int recvmsg_unix_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite_unix(ctx, 2);
}

SEC("cgroup/getpeername_unix")
int getpeername_unix_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite_unix(ctx, 3);
}

SEC("cgroup/getsockname_unix")
int getsockname_unix_rewrite(struct bpf_sock_addr *ctx)
{
	return rewrite_unix(ctx, 4);
}

char LICENSE[] SEC("license") = "GPL";
