// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture prog_net: one minimal program per networking program type and libbpf section
 * name that the host kernel loads: tc and classifier (SCHED_CLS), action (SCHED_ACT),
 * xdp.frags (XDP with BPF_F_XDP_HAS_FRAGS), socket (SOCKET_FILTER), sk_skb/stream_parser
 * and sk_skb/stream_verdict (SK_SKB), sk_msg (SK_MSG), sockops (SOCK_OPS), sk_lookup
 * (SK_LOOKUP), flow_dissector (FLOW_DISSECTOR), sk_reuseport (SK_REUSEPORT),
 * cgroup_skb/ingress and /egress (CGROUP_SKB), cgroup/sock_create (CGROUP_SOCK),
 * cgroup/connect4 and cgroup/sendmsg4 (CGROUP_SOCK_ADDR), cgroup/sysctl (CGROUP_SYSCTL),
 * cgroup/getsockopt (CGROUP_SOCKOPT), cgroup/dev (CGROUP_DEVICE), lwt_in and lwt_xmit
 * (LWT_IN, LWT_XMIT). Each returns its type's "allow/pass" verdict.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int tc_pass(struct __sk_buff *skb) { return TC_ACT_OK; }

SEC("classifier")
int classifier_pass(struct __sk_buff *skb) { return TC_ACT_OK; }

SEC("action")
int action_pass(struct __sk_buff *skb) { return TC_ACT_OK; }

SEC("xdp.frags")
int xdp_frags_pass(struct xdp_md *ctx) { return XDP_PASS; }

SEC("socket")
int socket_keep(struct __sk_buff *skb) { return skb->len; }

SEC("sk_skb/stream_parser")
int stream_parser(struct __sk_buff *skb) { return skb->len; }

SEC("sk_skb/stream_verdict")
int stream_verdict(struct __sk_buff *skb) { return SK_PASS; }

SEC("sk_msg")
int msg_pass(struct sk_msg_md *msg) { return SK_PASS; }

SEC("sockops")
int sockops_noop(struct bpf_sock_ops *ops) { return 1; }

SEC("sk_lookup")
int lookup_pass(struct bpf_sk_lookup *ctx) { return SK_PASS; }

SEC("flow_dissector")
int dissect_none(struct __sk_buff *skb) { return BPF_OK; }

SEC("sk_reuseport")
int reuseport_pass(struct sk_reuseport_md *md) { return SK_PASS; }

SEC("cgroup_skb/ingress")
int cgroup_skb_ingress(struct __sk_buff *skb) { return 1; }

SEC("cgroup_skb/egress")
int cgroup_skb_egress(struct __sk_buff *skb) { return 1; }

SEC("cgroup/sock_create")
int sock_create_allow(struct bpf_sock *sk) { return 1; }

SEC("cgroup/connect4")
int connect4_allow(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sendmsg4")
int sendmsg4_allow(struct bpf_sock_addr *ctx) { return 1; }

SEC("cgroup/sysctl")
int sysctl_allow(struct bpf_sysctl *ctx) { return 1; }

SEC("cgroup/getsockopt")
int getsockopt_allow(struct bpf_sockopt *ctx) { return 1; }

SEC("cgroup/dev")
int dev_allow(struct bpf_cgroup_dev_ctx *ctx) { return 1; }

SEC("lwt_in")
int lwt_in_pass(struct __sk_buff *skb) { return BPF_OK; }

SEC("lwt_xmit")
int lwt_xmit_pass(struct __sk_buff *skb) { return BPF_OK; }

char LICENSE[] SEC("license") = "GPL";
