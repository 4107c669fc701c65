// ddos: XDP per-source-address rate limiter. For each IPv4 source it keeps the packet count of the current
// window and a moving average of the inter-arrival time; a source sending more than max_packets within one
// window is dropped for the rest of that window and raises an alert (once per window).
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))
#define XDP_DROP 1
#define XDP_PASS 2

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;

struct xdp_md { u32 data; u32 data_end; u32 data_meta; u32 ingress_ifindex; u32 rx_queue_index; u32 egress_ifindex; };

struct source_state {
    u64 window_start_ns;
    u64 last_seen_ns;
    u64 window_packets;
    u64 avg_gap_ns;     // exponential moving average (1/8 weight) of inter-arrival time
    u64 total_packets;
    u64 dropped;
    u64 alerts;
};

struct config {
    u64 max_packets;    // per window; 0 means the default 1000
    u64 window_ns;      // 0 means the default 1 s
};

enum { STAT_PASSED, STAT_DROPPED, STAT_ALERTS, STAT_COUNT };

struct {
    int (*type)[9];               // BPF_MAP_TYPE_LRU_HASH
    int (*max_entries)[65536];
    u32 *key;                     // IPv4 source address, network byte order
    struct source_state *value;
} sources SEC(".maps");

struct {
    int (*type)[2];               // BPF_MAP_TYPE_ARRAY
    int (*max_entries)[1];
    u32 *key;
    struct config *value;
} config SEC(".maps");

struct {
    int (*type)[2];               // BPF_MAP_TYPE_ARRAY
    int (*max_entries)[STAT_COUNT];
    u32 *key;
    u64 *value;
} stats SEC(".maps");

static __attribute__((always_inline)) void count(u32 which)
{
    u64 *c = bpf_map_lookup_elem(&stats, &which);
    if (c)
        __sync_fetch_and_add(c, 1);
}

SEC("xdp")
int ddos(struct xdp_md *ctx)
{
    u8 *data = (u8 *)(long)ctx->data;
    u8 *end = (u8 *)(long)ctx->data_end;
    if (data + 14 + 20 > end)
        return XDP_PASS;
    if (data[12] != 0x08 || data[13] != 0x00)   // EtherType IPv4
        return XDP_PASS;
    u32 src = *(u32 *)(data + 14 + 12);

    u32 zero = 0;
    u64 max_packets = 1000, window_ns = 1000000000ULL;
    struct config *cfg = bpf_map_lookup_elem(&config, &zero);
    if (cfg) {
        if (cfg->max_packets)
            max_packets = cfg->max_packets;
        if (cfg->window_ns)
            window_ns = cfg->window_ns;
    }

    u64 now = bpf_ktime_get_ns();
    struct source_state *s = bpf_map_lookup_elem(&sources, &src);
    if (!s) {
        struct source_state fresh = { .window_start_ns = now, .last_seen_ns = now, .window_packets = 1, .total_packets = 1 };
        bpf_map_update_elem(&sources, &src, &fresh, 0);
        count(STAT_PASSED);
        return XDP_PASS;
    }
    u64 gap = now - s->last_seen_ns;
    s->avg_gap_ns = s->avg_gap_ns - (s->avg_gap_ns >> 3) + (gap >> 3);
    s->last_seen_ns = now;
    s->total_packets++;
    if (now - s->window_start_ns >= window_ns) {
        s->window_start_ns = now;
        s->window_packets = 0;
    }
    s->window_packets++;
    if (s->window_packets > max_packets) {
        if (s->window_packets == max_packets + 1) {   // first packet over the limit in this window
            s->alerts++;
            count(STAT_ALERTS);
        }
        s->dropped++;
        count(STAT_DROPPED);
        return XDP_DROP;
    }
    count(STAT_PASSED);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
