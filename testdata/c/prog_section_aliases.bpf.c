// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture prog_section_aliases: the rest of libbpf 1.1's section-name table that
 * prog_net and prog_tracing leave out, one trivial program each, for comparing a
 * section-name parser with libbpf's: the long and short aliases (tp/, raw_tracepoint/,
 * raw_tracepoint.w/), kretprobe.multi/, uretprobe.s, xdp/devmap and xdp.frags/cpumap
 * (BPF_XDP_DEVMAP/CPUMAP), lwt_out, lwt_seg6local, cgroup/skb, cgroup/sock,
 * cgroup/sock_release, cgroup/post_bind4 and 6, cgroup/bind4 and 6, cgroup/connect6,
 * cgroup/sendmsg6, cgroup/recvmsg4 and 6, cgroup/getpeername4 and 6,
 * cgroup/getsockname4 and 6, cgroup/setsockopt, sk_reuseport/migrate, sk_skb (plain)
 * and syscall.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define PROG(sec, name, ctx_type, ret)                                                    \
	SEC(sec) int name(ctx_type *ctx) { return ret; }

PROG("tp/syscalls/sys_enter_getppid", tp_alias, void, 0)
PROG("raw_tracepoint/sys_exit", raw_tracepoint_long, struct bpf_raw_tracepoint_args, 0)
PROG("raw_tracepoint.w/bpf_test_finish", raw_tracepoint_w_long, struct bpf_raw_tracepoint_args, 0)
PROG("kretprobe.multi/do_unlinkat", kretprobe_multi_unlinkat, struct pt_regs, 0)
PROG("uretprobe.s", uretprobe_sleepable, struct pt_regs, 0)
PROG("xdp/devmap", xdp_devmap, struct xdp_md, XDP_PASS)
PROG("xdp.frags/cpumap", xdp_frags_cpumap, struct xdp_md, XDP_PASS)
PROG("lwt_out", lwt_out_pass, struct __sk_buff, 0)
PROG("lwt_seg6local", lwt_seg6local_pass, struct __sk_buff, 0)
PROG("cgroup/skb", cgroup_skb_plain, struct __sk_buff, 1)
PROG("cgroup/sock", cgroup_sock_plain, struct bpf_sock, 1)
PROG("cgroup/sock_release", sock_release_allow, struct bpf_sock, 1)
PROG("cgroup/post_bind4", post_bind4_allow, struct bpf_sock, 1)
PROG("cgroup/post_bind6", post_bind6_allow, struct bpf_sock, 1)
PROG("cgroup/bind4", bind4_allow, struct bpf_sock_addr, 1)
PROG("cgroup/bind6", bind6_allow, struct bpf_sock_addr, 1)
PROG("cgroup/connect6", connect6_allow, struct bpf_sock_addr, 1)
PROG("cgroup/sendmsg6", sendmsg6_allow, struct bpf_sock_addr, 1)
PROG("cgroup/recvmsg4", recvmsg4_allow, struct bpf_sock_addr, 1)
PROG("cgroup/recvmsg6", recvmsg6_allow, struct bpf_sock_addr, 1)
PROG("cgroup/getpeername4", getpeername4_allow, struct bpf_sock_addr, 1)
PROG("cgroup/getpeername6", getpeername6_allow, struct bpf_sock_addr, 1)
PROG("cgroup/getsockname4", getsockname4_allow, struct bpf_sock_addr, 1)
PROG("cgroup/getsockname6", getsockname6_allow, struct bpf_sock_addr, 1)
PROG("cgroup/setsockopt", setsockopt_allow, struct bpf_sockopt, 1)
PROG("sk_reuseport/migrate", reuseport_migrate, struct sk_reuseport_md, SK_PASS)
PROG("sk_skb", sk_skb_plain, struct __sk_buff, SK_PASS)
PROG("syscall", syscall_prog, void, 0)

char LICENSE[] SEC("license") = "GPL";
