// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture net_counters: networking programs for bpfkit's attach tests. Each counts IPv4 UDP
 * packets to the .rodata constant `udp_port` into slot N of the array map `counts` (u64)
 * and returns a verdict: 0 xdp_count (XDP_PASS), 1 xdp_drop (XDP_DROP), 2 tc_count
 * (TC_ACT_UNSPEC: tcx's TCX_NEXT, the next program or filter runs), 3 tc_drop (TC_ACT_SHOT),
 * 4 tc_second (TC_ACT_UNSPEC; ordering tests record in
 * slot 8 the order programs ran: each multiplies it by 10 and adds its own digit, tc_count 1,
 * tc_second 2), 5 cgroup_skb_count (egress, allow), 7 cgroup_skb_drop (ingress, deny).
 * Slot 6 is net_netfilter's. xdp_to_cpumap redirects the same packets to entry 0 of the
 * CPUMAP `cpu_map`, whose entry program cpumap_count (SEC("xdp/cpumap")) counts them in
 * slot 9 and passes them to the stack. lwt_count (lwt_xmit) counts them in slot 10 on the
 * routes it is the encap of. xdp_to_devmap redirects our packets to entry 0 of the DEVMAP
 * `dev_map`, whose entry program devmap_reflect (SEC("xdp/devmap")) counts them in slot 11
 * and turns each into the reply (MACs, addresses and ports swapped: checksums unchanged).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u16 udp_port = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpu_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} dev_map SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

/* An Ethernet frame holding IPv4 UDP to udp_port. */
static __always_inline int is_our_udp_eth(void *data, void *end)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl != 5)
		return 0;
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return 0;
	return udp->dest == bpf_htons(udp_port);
}

/* An IPv4 packet (no link header: cgroup skb) holding UDP to udp_port. */
static __always_inline int is_our_udp_ip(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct udphdr udp;
	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP || ip.ihl != 5)
		return 0;
	if (bpf_skb_load_bytes(skb, sizeof(ip), &udp, sizeof(udp)))
		return 0;
	return udp.dest == bpf_htons(udp_port);
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	if (is_our_udp_eth((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		bump(0);
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	if (is_our_udp_eth((void *)(long)ctx->data, (void *)(long)ctx->data_end)) {
		bump(1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("xdp")
int xdp_to_cpumap(struct xdp_md *ctx)
{
	if (is_our_udp_eth((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return bpf_redirect_map(&cpu_map, 0, XDP_PASS);
	return XDP_PASS;
}

SEC("xdp/cpumap")
int cpumap_count(struct xdp_md *ctx)
{
	if (is_our_udp_eth((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		bump(9);
	return XDP_PASS;
}

SEC("xdp")
int xdp_to_devmap(struct xdp_md *ctx)
{
	if (is_our_udp_eth((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return bpf_redirect_map(&dev_map, 0, XDP_PASS);
	return XDP_PASS;
}

SEC("xdp/devmap")
int devmap_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (!is_our_udp_eth(data, end))
		return XDP_PASS;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end)
		return XDP_PASS;
	unsigned char mac[ETH_ALEN];
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	__be32 addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	__be16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	bump(11);
	return XDP_PASS;
}

static __always_inline void record_order(__u64 digit)
{
	__u32 slot = 8;
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);
	if (v)
		*v = *v * 10 + digit;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	if (is_our_udp_eth((void *)(long)skb->data, (void *)(long)skb->data_end)) {
		bump(2);
		record_order(1);
	}
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_drop(struct __sk_buff *skb)
{
	if (is_our_udp_eth((void *)(long)skb->data, (void *)(long)skb->data_end)) {
		bump(3);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

SEC("tc")
int tc_second(struct __sk_buff *skb)
{
	if (is_our_udp_eth((void *)(long)skb->data, (void *)(long)skb->data_end)) {
		bump(4);
		record_order(2);
	}
	return TC_ACT_UNSPEC;
}

SEC("cgroup_skb/egress")
int cgroup_skb_count(struct __sk_buff *skb)
{
	if (is_our_udp_ip(skb))
		bump(5);
	return 1;
}

SEC("cgroup_skb/ingress")
int cgroup_skb_drop(struct __sk_buff *skb)
{
	if (is_our_udp_ip(skb)) {
		bump(7);
		return 0;
	}
	return 1;
}

SEC("lwt_xmit")
int lwt_count(struct __sk_buff *skb)
{
	if (is_our_udp_ip(skb))
		bump(10);
	return BPF_OK;
}

char LICENSE[] SEC("license") = "GPL";
