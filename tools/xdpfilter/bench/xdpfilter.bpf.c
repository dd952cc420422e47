// xdpfilter's XDP program written in C, for the benchmark only (bench/README.md): the same
// maps (names, types, layouts) and the same steps as xdpfilter-ebpf/src/main.rs, so the
// Rust userspace fills both objects' maps with the same code.
//   clang-19 -O2 -g -target bpf -mcpu=v3 -I/usr/include/$(gcc -print-multiarch) -c
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MAX_RULES 64
#define MAX_PREFIXES 256
#define MAX_PORTS 256
#define ACTION_DROP 1

struct rule {
	__u32 flags, action;
	__u8 proto, family;
	__u16 dport;
	__u8 src[16], dst[16];
	__u8 src_len, dst_len, pad[2];
};

struct counters {
	__u64 packets, bytes;
};

struct lpm4 {
	__u32 prefixlen;
	__u8 data[4];
};

struct lpm6 {
	__u32 prefixlen;
	__u8 data[16];
};

struct vlan {
	__be16 tci, proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct rule);
} RULES SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct counters);
} STATS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} CONFIG SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} PROTO SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PORTS);
	__type(key, __u16);
	__type(value, __u64);
} DPORT SEC(".maps");

#define TRIE(name, key_type)                                                                       \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);                                               \
		__uint(max_entries, MAX_PREFIXES);                                                 \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                              \
		__type(key, key_type);                                                             \
		__type(value, __u64);                                                              \
	} name SEC(".maps")

TRIE(SRC4, struct lpm4);
TRIE(DST4, struct lpm4);
TRIE(SRC6, struct lpm6);
TRIE(DST6, struct lpm6);

static __always_inline __u64 config(__u32 index)
{
	__u64 *v = bpf_map_lookup_elem(&CONFIG, &index);
	return v ? *v : 0;
}

static __always_inline __u64 lookup(void *trie, void *key)
{
	__u64 *v = bpf_map_lookup_elem(trie, key);
	return v ? *v : 0;
}

static __always_inline __u32 lowest_bit(__u64 mask)
{
	__u32 index = 0;
	if (!(mask & 0xffffffff)) { index += 32; mask >>= 32; }
	if (!(mask & 0xffff)) { index += 16; mask >>= 16; }
	if (!(mask & 0xff)) { index += 8; mask >>= 8; }
	if (!(mask & 0xf)) { index += 4; mask >>= 4; }
	if (!(mask & 0x3)) { index += 2; mask >>= 2; }
	if (!(mask & 0x1)) index += 1;
	return index;
}

SEC("xdp")
int xdpfilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	__u64 active = config(0), mask, port_mask;
	__u64 offset = sizeof(struct ethhdr);
	struct ethhdr *eth = data;
	__u16 ether_type;
	__u8 proto;
	int has_ports;

	if (!active)
		return XDP_PASS;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	ether_type = bpf_ntohs(eth->h_proto);
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD) {
			struct vlan *vlan = data + offset;
			if ((void *)(vlan + 1) > end)
				return XDP_PASS;
			ether_type = bpf_ntohs(vlan->proto);
			offset += sizeof(struct vlan);
		}
	}
	mask = active;
	if (ether_type == ETH_P_IP) {
		struct iphdr *ip = data + offset;
		struct lpm4 key = { .prefixlen = 32 };
		__u64 header_len;
		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		header_len = ip->ihl * 4;
		if (header_len < sizeof(*ip))
			return XDP_PASS;
		__builtin_memcpy(key.data, &ip->saddr, 4);
		mask &= lookup(&SRC4, &key);
		__builtin_memcpy(key.data, &ip->daddr, 4);
		mask &= lookup(&DST4, &key);
		proto = ip->protocol;
		has_ports = !(bpf_ntohs(ip->frag_off) & 0x3fff);
		offset += header_len;
	} else if (ether_type == ETH_P_IPV6) {
		struct ipv6hdr *ip = data + offset;
		struct lpm6 key = { .prefixlen = 128 };
		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		__builtin_memcpy(key.data, &ip->saddr, 16);
		mask &= lookup(&SRC6, &key);
		__builtin_memcpy(key.data, &ip->daddr, 16);
		mask &= lookup(&DST6, &key);
		proto = ip->nexthdr;
		has_ports = 1;
		offset += sizeof(*ip);
	} else {
		return XDP_PASS;
	}
	if (!mask)
		return XDP_PASS;
	{
		__u32 p = proto;
		__u64 *m = bpf_map_lookup_elem(&PROTO, &p);
		mask &= m ? *m : 0;
	}
	port_mask = config(1);
	if (has_ports) {
		__u16 port;
		int found = 0;
		if (proto == IPPROTO_UDP) {
			struct udphdr *udp = data + offset;
			if ((void *)(udp + 1) <= end) {
				port = bpf_ntohs(udp->dest);
				/* keeps clang from merging the two loads past their different bounds checks */
				__asm__ volatile("" : "+r"(port));
				found = 1;
			}
		} else if (proto == IPPROTO_TCP) {
			struct tcphdr *tcp = data + offset;
			if ((void *)(tcp + 1) <= end) {
				port = bpf_ntohs(tcp->dest);
				__asm__ volatile("" : "+r"(port));
				found = 1;
			}
		}
		if (found) {
			__u64 *m = bpf_map_lookup_elem(&DPORT, &port);
			port_mask |= m ? *m : 0;
		}
	}
	mask &= port_mask;
	if (!mask)
		return XDP_PASS;
	{
		__u32 id = lowest_bit(mask);
		struct counters *c = bpf_map_lookup_elem(&STATS, &id);
		struct rule *r;
		if (c) {
			c->packets += 1;
			c->bytes += len;
		}
		r = bpf_map_lookup_elem(&RULES, &id);
		if (r && r->action == ACTION_DROP)
			return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
