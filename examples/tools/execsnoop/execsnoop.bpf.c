// execsnoop: one ring-buffer record per successful exec (tracepoint sched:sched_process_exec).
// Written without libbpf headers: helper numbers and the tracepoint layout come from the kernel's
// include/uapi/linux/bpf.h and /sys/kernel/tracing/events/sched/sched_process_exec/format.
typedef unsigned int u32;
typedef unsigned long long u64;

#define SEC(name) __attribute__((section(name), used))

static void *(*bpf_ringbuf_reserve)(void *ringbuf, u64 size, u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, u64 flags) = (void *)132;
static long (*bpf_get_current_comm)(void *buf, u32 size) = (void *)16;
static long (*bpf_probe_read_kernel_str)(void *dst, u32 size, const void *src) = (void *)115;
static u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static u64 (*bpf_get_current_uid_gid)(void) = (void *)15;

// Layout from the tracefs format file (offsets 0..19).
struct sched_process_exec_ctx {
    unsigned short common_type;
    unsigned char common_flags;
    unsigned char common_preempt_count;
    int common_pid;
    u32 filename_loc; // __data_loc: low 16 bits offset from ctx, high 16 bits length
    int pid;
    int old_pid;
};

#define FILENAME_LEN 256

struct exec_event {
    u64 timestamp_ns;
    u32 pid;
    u32 old_pid;
    u32 uid;
    u32 filename_len;
    char comm[16];
    char filename[FILENAME_LEN];
};

struct {
    int (*type)[27];              // BPF_MAP_TYPE_RINGBUF
    int (*max_entries)[1 << 18];  // 256 KiB
} events SEC(".maps");

SEC("tracepoint/sched/sched_process_exec")
int execsnoop(struct sched_process_exec_ctx *ctx)
{
    struct exec_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->timestamp_ns = bpf_ktime_get_ns();
    e->pid = ctx->pid;
    e->old_pid = ctx->old_pid;
    e->uid = (u32)bpf_get_current_uid_gid();
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    u32 off = ctx->filename_loc & 0xffff;
    long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (char *)ctx + off);
    e->filename_len = n > 0 ? (u32)n : 0;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
