/* sample.c - a small object exercising what the ELF loader reads, built for both
 * byte orders by build.sh (clang-19 -target bpfel / bpfeb -O2 -g).  Self-contained:
 * no libbpf headers, so it builds anywhere clang-19 is installed. */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __noinline __attribute__((noinline))

struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;

struct pair { __u32 a; __u16 b; __u8 flag : 1, kind : 3; __u64 total; };

/* BTF-defined maps. */
struct {
	__uint(type, 1 /* BPF_MAP_TYPE_HASH */);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, struct pair);
} pairs SEC(".maps");

struct {
	__uint(type, 2 /* BPF_MAP_TYPE_ARRAY */);
	__uint(max_entries, 4);
	__uint(key_size, 4);
	__uint(value_size, 8);
	__uint(map_flags, 0);
} counters SEC(".maps");

/* Legacy map definition. */
struct bpf_map_def { __u32 type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") legacy = { .type = 6 /* PERCPU_ARRAY */, .key_size = 4, .value_size = 16, .max_entries = 8 };

/* Global data. */
const volatile __u32 limits[4] = { 10, 20, 30, 40 };
__u64 seen = 7;
__u64 zeroed;

static __noinline __u64 mix(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	return x ^ (x >> 29);
}

static __noinline __u32 pick(__u32 i)
{
	return limits[i & 3] + (__u32)mix(i);
}

SEC("xdp") int first(struct xdp_md *ctx)
{
	__u32 key = ctx->rx_queue_index;
	struct pair *p = bpf_map_lookup_elem(&pairs, &key);
	if (p) {
		p->total += pick(key);
		return 2;
	}
	seen++;
	return 1;
}

SEC("xdp") int second(struct xdp_md *ctx)
{
	__u32 key = 1;
	__u64 *c = bpf_map_lookup_elem(&counters, &key);
	if (c)
		*c += mix(ctx->ingress_ifindex);
	__u32 *l = bpf_map_lookup_elem(&legacy, &key);
	zeroed += l ? *l : 0;
	return 2;
}

SEC("kprobe/do_sys_open") int probe(void *ctx)
{
	return pick(3) & 1;
}

SEC("tp/syscalls/sys_enter_write") int on_write(void *ctx)
{
	__u32 k = 0;
	struct pair v = {}; /* a non-zero initialiser would be merged into byte-order-specific constants */
	bpf_map_update_elem(&pairs, &k, &v, 0);
	return 0;
}

char _license[] SEC("license") = "Dual MIT/GPL";
__u32 _version SEC("version") = 0x050a00;
