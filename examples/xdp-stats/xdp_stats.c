/* xdp_stats: an XDP program that classifies packets by protocol, counts them per class in an array map and per
 * IPv4 source address in a hash map, and drops UDP packets to the discard port (9).
 * Build: ./build.sh (clang-19 -target bpf -O2 -g). Written without libbpf headers so it builds anywhere. */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;

enum { XDP_DROP = 1, XDP_PASS = 2 };
enum { CLASS_IPV4_TCP, CLASS_IPV4_UDP, CLASS_IPV4_ICMP, CLASS_IPV4_OTHER, CLASS_IPV6, CLASS_ARP, CLASS_OTHER, CLASS_DROPPED, NCLASSES };

struct counters { __u64 packets; __u64 bytes; };

struct {
	__uint(type, 2 /* BPF_MAP_TYPE_ARRAY */);
	__uint(max_entries, NCLASSES);
	__type(key, __u32);
	__type(value, struct counters);
} class_stats SEC(".maps");

struct {
	__uint(type, 1 /* BPF_MAP_TYPE_HASH */);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} ipv4_sources SEC(".maps");

static __attribute__((always_inline)) void count(__u32 class, __u64 bytes)
{
	struct counters *c = bpf_map_lookup_elem(&class_stats, &class);
	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, bytes);
	}
}

SEC("xdp")
int xdp_stats(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	if (data + 14 > end) {
		count(CLASS_OTHER, len);
		return XDP_PASS;
	}
	__u16 type = (data[12] << 8) | data[13];
	if (type == 0x0806) { count(CLASS_ARP, len); return XDP_PASS; }
	if (type == 0x86dd) { count(CLASS_IPV6, len); return XDP_PASS; }
	if (type != 0x0800 || data + 34 > end) { count(CLASS_OTHER, len); return XDP_PASS; }

	__u8 *ip = data + 14;
	__u32 saddr = *(__u32 *)(ip + 12);
	__u64 one = 1, *seen = bpf_map_lookup_elem(&ipv4_sources, &saddr);
	if (seen)
		__sync_fetch_and_add(seen, 1);
	else
		bpf_map_update_elem(&ipv4_sources, &saddr, &one, 1 /* BPF_NOEXIST */);

	__u8 proto = ip[9];
	__u8 *l4 = ip + ((ip[0] & 0x0f) * 4);
	if (proto == 17 && l4 + 8 <= end && l4[2] == 0 && l4[3] == 9) {
		count(CLASS_DROPPED, len);
		return XDP_DROP;
	}
	count(proto == 6 ? CLASS_IPV4_TCP : proto == 17 ? CLASS_IPV4_UDP : proto == 1 ? CLASS_IPV4_ICMP : CLASS_IPV4_OTHER, len);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
