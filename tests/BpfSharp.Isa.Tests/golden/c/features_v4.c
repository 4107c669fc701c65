// Exercises cpu v4 instruction forms for the llvm-objdump golden test (BpfSharp, original test source).
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long long s64;
typedef int s32;
typedef short s16;
typedef signed char s8;

struct __sk_buff { u32 len; u32 pkt_type; u32 mark; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

u64 counter64;
u32 counter32;
s64 table[16];

static __attribute__((noinline)) s64 helper_sub(s64 a, s64 b) { return a / b + a % b; }
static __attribute__((noinline)) u32 helper32(u32 a, u32 b) { return (a / b) ^ (a % b) ^ (a >> (b & 31)); }

__attribute__((section("socket"), used)) int features(struct __sk_buff *skb)
{
    s64 x = (s8)skb->len;
    s64 y = (s16)skb->mark;
    s32 z = (s16)(s32)skb->pkt_type;
    s64 w = (s32)skb->mark;
    x = x / (y | 1);
    y = y % (x | 3);
    z = z / 7 + z % 5;
    x += __builtin_bswap64((u64)w) + __builtin_bswap32((u32)z) + __builtin_bswap16((u16)y);
    __sync_fetch_and_add(&counter64, x);
    __sync_fetch_and_or(&counter64, 3);
    __sync_fetch_and_and(&counter32, 7);
    __sync_fetch_and_xor(&counter32, 9);
    x += __sync_fetch_and_add(&counter32, 11);
    x += __sync_fetch_and_or(&counter64, y);
    x += __sync_lock_test_and_set(&counter64, w);
    x += __sync_val_compare_and_swap(&counter32, 5, (u32)z);
    x += __sync_val_compare_and_swap(&counter64, 6, (u64)y);
    x += load_byte(skb, 23) + load_half(skb, 12) + load_word(skb, (u64)skb->len & 0xff);
    x += helper_sub(x, y) + helper32((u32)x, (u32)z);
    s8 *p = (s8 *)&table[x & 15];
    x += *p + *(s16 *)p + *(s32 *)p;
    table[z & 15] = 0x123456789abcdefLL;
    *(u8 *)&table[3] = 0x7;
    *(u16 *)&table[4] = 0xffff;
    *(u32 *)&table[5] = -1;
    if ((s32)x > (s32)z) x ^= 0x55;
    if (x < y) x = -x;
    u32 key = 0;
    u64 *v = bpf_map_lookup_elem(&counter64, &key);
    if (v) x += *v;
    return (int)x;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
