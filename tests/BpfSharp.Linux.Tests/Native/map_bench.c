/* Baseline for PerformanceTests: the same hash-map update/lookup loop as the C# test, calling bpf(2) directly
 * from C (what libbpf's bpf_map_update_elem/bpf_map_lookup_elem do underneath). Prints ops/s. */
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.map_type = BPF_MAP_TYPE_HASH; a.key_size = 4; a.value_size = 8; a.max_entries = n;
    int fd = bpf(BPF_MAP_CREATE, &a);
    if (fd < 0) { perror("BPF_MAP_CREATE"); return 1; }
    double t0 = now(), c0 = cpu();
    for (uint32_t i = 0; i < (uint32_t)n; i++) {
        uint64_t v = i;
        memset(&a, 0, sizeof(a));
        a.map_fd = fd; a.key = (uintptr_t)&i; a.value = (uintptr_t)&v; a.flags = BPF_ANY;
        if (bpf(BPF_MAP_UPDATE_ELEM, &a)) { perror("update"); return 1; }
    }
    double t1 = now(), c1 = cpu();
    uint64_t sum = 0;
    for (uint32_t i = 0; i < (uint32_t)n; i++) {
        uint64_t v;
        memset(&a, 0, sizeof(a));
        a.map_fd = fd; a.key = (uintptr_t)&i; a.value = (uintptr_t)&v;
        if (bpf(BPF_MAP_LOOKUP_ELEM, &a)) { perror("lookup"); return 1; }
        sum += v;
    }
    double t2 = now(), c2 = cpu();
    printf("update %.3f M ops/s wall, %.3f M ops/cpu-s; lookup %.3f M ops/s wall, %.3f M ops/cpu-s (sum %llu)\n",
           n / (t1 - t0) / 1e6, n / (c1 - c0) / 1e6, n / (t2 - t1) / 1e6, n / (c2 - c1) / 1e6, (unsigned long long)sum);
    return 0;
}
