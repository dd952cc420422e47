// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture net_sock: socket-level programs for bpfkit's attach tests, each counting into slot
 * N of the array map `counts` (u64). 0 steer_lookup (sk_lookup) hands connections to
 * 127.0.0.1:lookup_port to the socket at key 0 of the sockmap `lookup_target`; 1 count_dissect
 * (flow_dissector) counts packets dissected and keeps the keys the kernel preset; 2 msg_redirect
 * (sk_msg) redirects every message sent on a socket of `msg_map` to the receive queue of the
 * socket at key 1 and counts messages, 3 their bytes; 4 skb_count (sk_skb/stream_verdict)
 * sums the bytes of the skbs it passes (sockmap `skb_map` or sockhash `skb_hash`); 5 reuseport_pick (sk_reuseport) sends every packet
 * to the socket at key 1 of the REUSEPORT_SOCKARRAY `reuse_group` and counts them.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 lookup_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lookup_target SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} msg_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} skb_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} skb_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} reuse_group SEC(".maps");

static __always_inline void add(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, n);
}

SEC("sk_lookup")
int steer_lookup(struct bpf_sk_lookup *ctx)
{
	if (ctx->local_port != lookup_port)
		return SK_PASS;
	__u32 key = 0;
	struct bpf_sock *sk = bpf_map_lookup_elem(&lookup_target, &key);
	if (!sk)
		return SK_PASS;
	long err = bpf_sk_assign(ctx, sk, 0);
	bpf_sk_release(sk);
	if (err == 0)
		add(0, 1);
	return SK_PASS;
}

SEC("flow_dissector")
int count_dissect(struct __sk_buff *skb)
{
	/* The kernel filled n_proto, nhoff and thoff; keep them as they are. */
	add(1, 1);
	return BPF_OK;
}

SEC("sk_msg")
int msg_redirect(struct sk_msg_md *msg)
{
	add(2, 1);
	add(3, msg->size);
	return bpf_msg_redirect_map(msg, &msg_map, 1, BPF_F_INGRESS);
}

SEC("sk_skb/stream_verdict")
int skb_count(struct __sk_buff *skb)
{
	add(4, skb->len);
	return SK_PASS;
}

SEC("sk_reuseport")
int reuseport_pick(struct sk_reuseport_md *md)
{
	__u32 key = 1;
	if (bpf_sk_select_reuseport(md, &reuse_group, &key, 0) == 0)
		add(5, 1);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
