/* Test object: an XDP program that tail-calls through a program array initialised in .maps, and a socket filter
 * that reads __sk_buff fields and packet bytes. Build: ./build.sh */
typedef unsigned char __u8;
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]

struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
struct __sk_buff { __u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto, priority,
	ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid, data, data_end; };

static long (*bpf_tail_call)(void *ctx, void *prog_array_map, __u32 index) = (void *)12;

int stage2(struct xdp_md *ctx);

struct {
	__uint(type, 3 /* BPF_MAP_TYPE_PROG_ARRAY */);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (void *));
} jmp SEC(".maps") = {
	.values = { [1] = (void *)&stage2 },
};

SEC("xdp")
int stage2(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 1 > end)
		return 0;
	return 100 + data[0];	/* proves the target ran on the same packet */
}

SEC("xdp")
int entry(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	if (data + 1 > end)
		return 1;
	bpf_tail_call(ctx, &jmp, data[0] & 3);	/* slot 1 holds stage2; the others are empty */
	return 7;				/* reached only when the tail call fails */
}

SEC("socket")
int skb_filter(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	if (data + 14 > end)
		return 0;
	/* accept IPv4 (ethertype 0x0800) with the whole length, truncate everything else to 1 byte */
	return (data[12] == 0x08 && data[13] == 0x00) ? skb->len : 1;
}

char LICENSE[] SEC("license") = "GPL";
