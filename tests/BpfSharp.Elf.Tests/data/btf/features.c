/* features.c - the rarer things an object can hold: CO-RE relocations, a kfunc call, __ksym and
 * __kconfig externs, a callback passed by address (BPF_PSEUDO_FUNC), a map-in-map with an initial
 * inner map, a program array with an initial program, pinning, and SEC names with targets.
 * Built by build.sh (clang-19 -target bpfel -O2 -g). */
#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))
typedef unsigned int u32;
typedef unsigned long long u64;

struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern int CONFIG_HZ __kconfig;
extern const void bpf_prog_active __ksym;

static long (*bpf_loop)(u32 nr, void *cb, void *ctx, u64 flags) = (void *)181;

struct inner { __uint(type, 2); __uint(max_entries, 1); __type(key, u32); __type(value, u64); };
struct inner inner_a SEC(".maps");

struct {
	__uint(type, 12 /* ARRAY_OF_MAPS */);
	__uint(max_entries, 4);
	__type(key, u32);
	__uint(pinning, 1 /* LIBBPF_PIN_BY_NAME */);
	__array(values, struct inner);
} outer SEC(".maps") = { .values = { [2] = &inner_a } };

int tail(void *ctx);
struct {
	__uint(type, 3 /* PROG_ARRAY */);
	__uint(max_entries, 2);
	__uint(key_size, 4);
	__array(values, int(void *));
} jumps SEC(".maps") = { .values = { [1] = (void *)&tail } };

static int step(u32 i, void *ctx)
{
	*(u64 *)ctx += i;
	return 0;
}

SEC("tp_btf/sched_switch") int on_switch(u64 *ctx)
{
	struct task_struct *t = (void *)ctx[1];
	u64 sum = 0;
	bpf_loop(4, step, &sum, 0);
	struct task_struct *held = bpf_task_acquire(t);
	if (held) {
		sum += held->tgid;
		bpf_task_release(held);
	}
	return t->pid + sum + CONFIG_HZ + (long)&bpf_prog_active;
}

SEC("tc") int tail(void *ctx) { return 0; }

SEC("fentry/do_unlinkat") int enter(void *ctx) { return 0; }
SEC("lsm.s/file_open") int opened(void *ctx) { return 0; }
SEC("xdp.frags") int frags(void *ctx) { return 2; }
SEC("cgroup_skb/egress") int egress(void *ctx) { return 1; }
SEC("uretprobe/libc.so.6:malloc") int ret(void *ctx) { return 0; }

char _license[] SEC("license") = "GPL";
