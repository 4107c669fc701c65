namespace BpfSharp.Isa;

/// <summary>Map types with the numbering of Linux <c>enum bpf_map_type</c> (include/uapi/linux/bpf.h).</summary>
public enum BpfMapType : uint
{
    /// <summary>BPF_MAP_TYPE_UNSPEC: not a valid map type.</summary>
    Unspecified = 0,
    /// <summary>BPF_MAP_TYPE_HASH.</summary>
    Hash = 1,
    /// <summary>BPF_MAP_TYPE_ARRAY.</summary>
    Array = 2,
    /// <summary>BPF_MAP_TYPE_PROG_ARRAY: program references for tail calls.</summary>
    ProgArray = 3,
    /// <summary>BPF_MAP_TYPE_PERF_EVENT_ARRAY (not implemented in userspace).</summary>
    PerfEventArray = 4,
    /// <summary>BPF_MAP_TYPE_PERCPU_HASH.</summary>
    PerCpuHash = 5,
    /// <summary>BPF_MAP_TYPE_PERCPU_ARRAY.</summary>
    PerCpuArray = 6,
    /// <summary>BPF_MAP_TYPE_STACK_TRACE (not implemented in userspace).</summary>
    StackTrace = 7,
    /// <summary>BPF_MAP_TYPE_CGROUP_ARRAY (not implemented in userspace).</summary>
    CgroupArray = 8,
    /// <summary>BPF_MAP_TYPE_LRU_HASH.</summary>
    LruHash = 9,
    /// <summary>BPF_MAP_TYPE_LRU_PERCPU_HASH.</summary>
    LruPerCpuHash = 10,
    /// <summary>BPF_MAP_TYPE_LPM_TRIE: longest-prefix-match trie.</summary>
    LpmTrie = 11,
    /// <summary>BPF_MAP_TYPE_ARRAY_OF_MAPS.</summary>
    ArrayOfMaps = 12,
    /// <summary>BPF_MAP_TYPE_HASH_OF_MAPS.</summary>
    HashOfMaps = 13,
    /// <summary>BPF_MAP_TYPE_DEVMAP (not implemented in userspace).</summary>
    DevMap = 14,
    /// <summary>BPF_MAP_TYPE_SOCKMAP (not implemented in userspace).</summary>
    SockMap = 15,
    /// <summary>BPF_MAP_TYPE_CPUMAP (not implemented in userspace).</summary>
    CpuMap = 16,
    /// <summary>BPF_MAP_TYPE_XSKMAP (not implemented in userspace).</summary>
    XskMap = 17,
    /// <summary>BPF_MAP_TYPE_SOCKHASH (not implemented in userspace).</summary>
    SockHash = 18,
    /// <summary>BPF_MAP_TYPE_CGROUP_STORAGE (not implemented in userspace).</summary>
    CgroupStorage = 19,
    /// <summary>BPF_MAP_TYPE_REUSEPORT_SOCKARRAY (not implemented in userspace).</summary>
    ReuseportSockArray = 20,
    /// <summary>BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE (not implemented in userspace).</summary>
    PerCpuCgroupStorage = 21,
    /// <summary>BPF_MAP_TYPE_QUEUE: FIFO of values, no keys.</summary>
    Queue = 22,
    /// <summary>BPF_MAP_TYPE_STACK: LIFO of values, no keys.</summary>
    Stack = 23,
    /// <summary>BPF_MAP_TYPE_SK_STORAGE (not implemented in userspace).</summary>
    SkStorage = 24,
    /// <summary>BPF_MAP_TYPE_DEVMAP_HASH (not implemented in userspace).</summary>
    DevMapHash = 25,
    /// <summary>BPF_MAP_TYPE_STRUCT_OPS (not implemented in userspace).</summary>
    StructOps = 26,
    /// <summary>BPF_MAP_TYPE_RINGBUF: multi-producer single-consumer ring buffer.</summary>
    RingBuf = 27,
    /// <summary>BPF_MAP_TYPE_INODE_STORAGE (not implemented in userspace).</summary>
    InodeStorage = 28,
    /// <summary>BPF_MAP_TYPE_TASK_STORAGE (not implemented in userspace).</summary>
    TaskStorage = 29,
    /// <summary>BPF_MAP_TYPE_BLOOM_FILTER (not implemented in userspace).</summary>
    BloomFilter = 30,
    /// <summary>BPF_MAP_TYPE_USER_RINGBUF (not implemented in userspace).</summary>
    UserRingBuf = 31,
    /// <summary>BPF_MAP_TYPE_CGRP_STORAGE (not implemented in userspace).</summary>
    CgrpStorage = 32,
    /// <summary>BPF_MAP_TYPE_ARENA (not implemented in userspace).</summary>
    Arena = 33,
}
