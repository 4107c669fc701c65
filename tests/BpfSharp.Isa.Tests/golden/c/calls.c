// Local calls and a bpf_loop callback, for the clang -S assembler test (BpfSharp, original test source).
typedef unsigned long long u64;
typedef unsigned int u32;
static long (*bpf_loop)(u32 nr, void *fn, void *ctx, u64 flags) = (void *)181;
struct ctx { u64 acc; };
static __attribute__((noinline)) u64 mix(u64 a, u64 b) { return (a ^ (b << 7)) * 0x9e3779b97f4a7c15ULL; }
static long step(u32 i, void *data) { struct ctx *c = data; c->acc = mix(c->acc, i); return 0; }
__attribute__((section("xdp"), used)) int prog(void *xdp)
{
    struct ctx c = { .acc = (u64)(unsigned long)xdp };
    bpf_loop(16, step, &c, 0);
    return (int)mix(c.acc, 3);
}
char _license[] __attribute__((section("license"), used)) = "GPL";
