/* Test object for host hook points: a program attached to the host's "app/request" hook counts requests per
 * status code in a hash map, sums latency in a per-CPU-free array, and sends slow requests to a ring buffer.
 * Build: clang-19 -target bpf -O2 -g -c hooks.c -o hooks.o (see build.sh). */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;

struct request { __u32 status; __u32 latency_us; };
struct slow_event { __u32 status; __u32 latency_us; __u64 sequence; };

struct { __uint(type, 1); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } by_status SEC(".maps");
struct { __uint(type, 2); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } total_latency SEC(".maps");
struct { __uint(type, 27); __uint(max_entries, 4096); } slow SEC(".maps");

const volatile __u32 slow_threshold_us = 1000;
__u64 sequence;

SEC("tracepoint/app/request")
int on_request(struct request *req)
{
	__u32 status = req->status, zero = 0;
	__u64 one = 1, *count = bpf_map_lookup_elem(&by_status, &status);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&by_status, &status, &one, 0);
	__u64 *total = bpf_map_lookup_elem(&total_latency, &zero);
	if (total)
		__sync_fetch_and_add(total, req->latency_us);
	if (req->latency_us >= slow_threshold_us) {
		struct slow_event *e = bpf_ringbuf_reserve(&slow, sizeof(*e), 0);
		if (e) {
			e->status = status;
			e->latency_us = req->latency_us;
			e->sequence = ++sequence;
			bpf_ringbuf_submit(e, 0);
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
