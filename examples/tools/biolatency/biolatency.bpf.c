// biolatency: block request latency (issue -> complete) as a log2 histogram of microseconds.
// Tracepoints block:block_rq_issue and block:block_rq_complete; layouts from their tracefs format files.
// A request is identified by (dev, sector) because these tracepoints do not expose the request pointer.
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;

struct block_rq_ctx {          // common prefix of block_rq_issue and block_rq_complete
    unsigned long long common; // common_type/flags/preempt_count/pid
    u32 dev;                   // offset 8
    u32 pad;
    u64 sector;                // offset 16
    u32 nr_sector;             // offset 24
};

struct request_key {
    u32 dev;
    u32 pad;
    u64 sector;
};

#define SLOTS 64

struct {
    int (*type)[1];               // BPF_MAP_TYPE_HASH
    int (*max_entries)[16384];
    struct request_key *key;
    u64 *value;
} start SEC(".maps");

struct {
    int (*type)[2];               // BPF_MAP_TYPE_ARRAY: slot k counts latencies in [2^k, 2^(k+1)) us (slot 0 also holds 0)
    int (*max_entries)[SLOTS];
    u32 *key;
    u64 *value;
} hist SEC(".maps");

SEC("tracepoint/block/block_rq_issue")
int rq_issue(struct block_rq_ctx *ctx)
{
    struct request_key key = { .dev = ctx->dev, .sector = ctx->sector };
    u64 now = bpf_ktime_get_ns();
    bpf_map_update_elem(&start, &key, &now, 0);
    return 0;
}

static __attribute__((always_inline)) u32 log2_u64(u64 v)
{
    u32 r = 0, shift;
    shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
    shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
    shift = (v > 0xff) << 3; v >>= shift; r |= shift;
    shift = (v > 0xf) << 2; v >>= shift; r |= shift;
    shift = (v > 0x3) << 1; v >>= shift; r |= shift;
    r |= (v >> 1);
    return r;
}

SEC("tracepoint/block/block_rq_complete")
int rq_complete(struct block_rq_ctx *ctx)
{
    struct request_key key = { .dev = ctx->dev, .sector = ctx->sector };
    u64 *issued = bpf_map_lookup_elem(&start, &key);
    if (!issued)
        return 0;
    u64 delta_us = (bpf_ktime_get_ns() - *issued) / 1000;
    bpf_map_delete_elem(&start, &key);
    u32 slot = log2_u64(delta_us);
    if (slot >= SLOTS)
        slot = SLOTS - 1;
    u64 *count = bpf_map_lookup_elem(&hist, &slot);
    if (count)
        __sync_fetch_and_add(count, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
