// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture lsm_cgroup: `lsm_cgroup/socket_create` (BPF_LSM_CGROUP, Linux 6.0) that denies
 * user-space AF_INET SOCK_DGRAM sockets to the tasks of the cgroup it is attached to and
 * counts each denial in slot 0 of `counts` (u64); every other socket is allowed. For
 * lsm_cgroup programs a return of 0 denies (socket(2) fails with EPERM), 1 allows.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define AF_INET 2
#define SOCK_DGRAM 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("lsm_cgroup/socket_create")
int BPF_PROG(deny_udp4, int family, int type, int protocol, int kern)
{
	__u32 slot = 0;
	__u64 *v;

	if (kern || family != AF_INET || type != SOCK_DGRAM)
		return 1;
	v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
