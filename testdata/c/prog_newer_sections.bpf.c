// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture prog_newer_sections: section names newer than libbpf 1.1 (Debian's), which
 * bpfkit must know but libbpf 1.1 cannot load: tcx/ingress and tcx/egress (SCHED_CLS
 * with BPF_TCX_INGRESS/EGRESS, Linux 6.6), netkit/primary (SCHED_CLS with
 * BPF_NETKIT_PRIMARY, 6.7), uprobe.multi (KPROBE with BPF_TRACE_UPROBE_MULTI, 6.6) and
 * netfilter (NETFILTER, 6.4).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tcx/ingress")
int tcx_ingress(struct __sk_buff *skb) { return 0; }

SEC("tcx/egress")
int tcx_egress(struct __sk_buff *skb) { return 0; }

SEC("netkit/primary")
int netkit_primary(struct __sk_buff *skb) { return 0; }

SEC("uprobe.multi")
int uprobe_multi_any(struct pt_regs *ctx) { return 0; }

SEC("netfilter")
int netfilter_accept(struct bpf_nf_ctx *ctx) { return 1; }

char LICENSE[] SEC("license") = "GPL";
