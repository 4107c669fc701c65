using BpfSharp.Isa;
namespace BpfSharp.Linux;

/// <summary>The bpf(2) commands (uapi <c>enum bpf_cmd</c>); values are the kernel's ABI.</summary>
public enum BpfCommand
{
    /// <summary>Create a map; returns its fd.</summary>
    MapCreate = 0,
    /// <summary>Look up one element.</summary>
    MapLookupElem = 1,
    /// <summary>Create or update one element.</summary>
    MapUpdateElem = 2,
    /// <summary>Delete one element.</summary>
    MapDeleteElem = 3,
    /// <summary>Key following a given key (or the first key).</summary>
    MapGetNextKey = 4,
    /// <summary>Verify and load a program; returns its fd.</summary>
    ProgLoad = 5,
    /// <summary>Pin an object in bpffs.</summary>
    ObjPin = 6,
    /// <summary>Open a pinned object.</summary>
    ObjGet = 7,
    /// <summary>Legacy attach of a program to a cgroup / socket map / netns.</summary>
    ProgAttach = 8,
    /// <summary>Legacy detach.</summary>
    ProgDetach = 9,
    /// <summary>Run a program on supplied input (BPF_PROG_TEST_RUN).</summary>
    ProgTestRun = 10,
    /// <summary>Next loaded program id.</summary>
    ProgGetNextId = 11,
    /// <summary>Next map id.</summary>
    MapGetNextId = 12,
    /// <summary>Open a program by id.</summary>
    ProgGetFdById = 13,
    /// <summary>Open a map by id.</summary>
    MapGetFdById = 14,
    /// <summary>Read bpf_prog_info / bpf_map_info / bpf_link_info / bpf_btf_info of an fd.</summary>
    ObjGetInfoByFd = 15,
    /// <summary>Query attached programs.</summary>
    ProgQuery = 16,
    /// <summary>Attach a raw tracepoint / tp_btf program.</summary>
    RawTracepointOpen = 17,
    /// <summary>Load BTF type information.</summary>
    BtfLoad = 18,
    /// <summary>Open BTF by id.</summary>
    BtfGetFdById = 19,
    /// <summary>Query what a perf/tracepoint fd of a task runs.</summary>
    TaskFdQuery = 20,
    /// <summary>Look up and delete one element (also pops queues/stacks).</summary>
    MapLookupAndDeleteElem = 21,
    /// <summary>Make a map read-only from user space.</summary>
    MapFreeze = 22,
    /// <summary>Next BTF object id.</summary>
    BtfGetNextId = 23,
    /// <summary>Look up many elements.</summary>
    MapLookupBatch = 24,
    /// <summary>Look up and delete many elements.</summary>
    MapLookupAndDeleteBatch = 25,
    /// <summary>Update many elements.</summary>
    MapUpdateBatch = 26,
    /// <summary>Delete many elements.</summary>
    MapDeleteBatch = 27,
    /// <summary>Create a BPF link (attach); returns its fd.</summary>
    LinkCreate = 28,
    /// <summary>Replace the program of a link.</summary>
    LinkUpdate = 29,
    /// <summary>Open a link by id.</summary>
    LinkGetFdById = 30,
    /// <summary>Next link id.</summary>
    LinkGetNextId = 31,
    /// <summary>Enable global statistics (run time / count); returns an fd that keeps them on.</summary>
    EnableStats = 32,
    /// <summary>Create an iterator fd.</summary>
    IterCreate = 33,
    /// <summary>Detach a link while keeping its fd.</summary>
    LinkDetach = 34,
    /// <summary>Bind a map to a program.</summary>
    ProgBindMap = 35,
}

/// <summary>Program types (uapi <c>enum bpf_prog_type</c>).</summary>
public enum BpfProgramType
{
    /// <summary>Unspecified (invalid for loading).</summary>
    Unspec = 0,
    /// <summary>Socket filter (SO_ATTACH_BPF); context <c>__sk_buff</c>.</summary>
    SocketFilter = 1,
    /// <summary>kprobe / uprobe program; context <c>pt_regs</c>.</summary>
    Kprobe = 2,
    /// <summary>tc classifier (cls_bpf, TCX).</summary>
    SchedCls = 3,
    /// <summary>tc action.</summary>
    SchedAct = 4,
    /// <summary>Tracepoint (perf_event_open of a tracefs event id).</summary>
    Tracepoint = 5,
    /// <summary>eXpress Data Path.</summary>
    Xdp = 6,
    /// <summary>Perf event sampling program.</summary>
    PerfEvent = 7,
    /// <summary>cgroup skb.</summary>
    CgroupSkb = 8,
    /// <summary>cgroup socket.</summary>
    CgroupSock = 9,
    /// <summary>Lightweight tunnel input.</summary>
    LwtIn = 10,
    /// <summary>Lightweight tunnel output.</summary>
    LwtOut = 11,
    /// <summary>Lightweight tunnel xmit.</summary>
    LwtXmit = 12,
    /// <summary>Socket operations.</summary>
    SockOps = 13,
    /// <summary>sk_skb (sockmap).</summary>
    SkSkb = 14,
    /// <summary>cgroup device.</summary>
    CgroupDevice = 15,
    /// <summary>sk_msg (sockmap).</summary>
    SkMsg = 16,
    /// <summary>Raw tracepoint (args as u64 array).</summary>
    RawTracepoint = 17,
    /// <summary>cgroup sock_addr.</summary>
    CgroupSockAddr = 18,
    /// <summary>seg6local LWT.</summary>
    LwtSeg6Local = 19,
    /// <summary>LIRC mode2.</summary>
    LircMode2 = 20,
    /// <summary>SO_REUSEPORT selection.</summary>
    SkReuseport = 21,
    /// <summary>Flow dissector.</summary>
    FlowDissector = 22,
    /// <summary>cgroup sysctl.</summary>
    CgroupSysctl = 23,
    /// <summary>Writable raw tracepoint.</summary>
    RawTracepointWritable = 24,
    /// <summary>cgroup sockopt.</summary>
    CgroupSockopt = 25,
    /// <summary>BTF-typed tracing: tp_btf, fentry/fexit, iterators.</summary>
    Tracing = 26,
    /// <summary>struct_ops.</summary>
    StructOps = 27,
    /// <summary>freplace extension.</summary>
    Ext = 28,
    /// <summary>BPF LSM.</summary>
    Lsm = 29,
    /// <summary>sk_lookup.</summary>
    SkLookup = 30,
    /// <summary>Syscall program.</summary>
    Syscall = 31,
    /// <summary>Netfilter hook.</summary>
    Netfilter = 32,
}

/// <summary>Map types (uapi <c>enum bpf_map_type</c>).</summary>
public enum BpfMapType
{
    /// <summary>Unspecified.</summary>
    Unspec = 0,
    /// <summary>Hash table.</summary>
    Hash = 1,
    /// <summary>Array (u32 index keys, preallocated, zero-initialised).</summary>
    Array = 2,
    /// <summary>Program array for tail calls.</summary>
    ProgArray = 3,
    /// <summary>Perf event array (perf buffer).</summary>
    PerfEventArray = 4,
    /// <summary>Per-CPU hash.</summary>
    PercpuHash = 5,
    /// <summary>Per-CPU array.</summary>
    PercpuArray = 6,
    /// <summary>Stack trace storage.</summary>
    StackTrace = 7,
    /// <summary>cgroup array.</summary>
    CgroupArray = 8,
    /// <summary>LRU hash.</summary>
    LruHash = 9,
    /// <summary>LRU per-CPU hash.</summary>
    LruPercpuHash = 10,
    /// <summary>Longest-prefix-match trie.</summary>
    LpmTrie = 11,
    /// <summary>Array of maps.</summary>
    ArrayOfMaps = 12,
    /// <summary>Hash of maps.</summary>
    HashOfMaps = 13,
    /// <summary>Device map (XDP redirect).</summary>
    Devmap = 14,
    /// <summary>Socket map.</summary>
    Sockmap = 15,
    /// <summary>CPU map (XDP redirect).</summary>
    Cpumap = 16,
    /// <summary>AF_XDP socket map.</summary>
    Xskmap = 17,
    /// <summary>Socket hash.</summary>
    Sockhash = 18,
    /// <summary>cgroup storage.</summary>
    CgroupStorage = 19,
    /// <summary>Reuseport socket array.</summary>
    ReuseportSockarray = 20,
    /// <summary>Per-CPU cgroup storage.</summary>
    PercpuCgroupStorage = 21,
    /// <summary>FIFO queue (no keys).</summary>
    Queue = 22,
    /// <summary>LIFO stack (no keys).</summary>
    Stack = 23,
    /// <summary>Socket local storage.</summary>
    SkStorage = 24,
    /// <summary>Device hash map.</summary>
    DevmapHash = 25,
    /// <summary>struct_ops map.</summary>
    StructOps = 26,
    /// <summary>Ring buffer (kernel to user).</summary>
    Ringbuf = 27,
    /// <summary>Inode storage.</summary>
    InodeStorage = 28,
    /// <summary>Task storage.</summary>
    TaskStorage = 29,
    /// <summary>Bloom filter (no keys).</summary>
    BloomFilter = 30,
    /// <summary>User ring buffer (user to kernel).</summary>
    UserRingbuf = 31,
    /// <summary>cgroup storage (new style).</summary>
    CgrpStorage = 32,
    /// <summary>Arena.</summary>
    Arena = 33,
}

/// <summary>Attach types (uapi <c>enum bpf_attach_type</c>); only the ones this backend uses are named.</summary>
public enum BpfAttachType
{
    /// <summary>None / default (value 0 is also BPF_CGROUP_INET_INGRESS in the uapi).</summary>
    None = 0,
    /// <summary>Raw tracepoint with BTF (tp_btf).</summary>
    TraceRawTp = 23,
    /// <summary>fentry.</summary>
    TraceFentry = 24,
    /// <summary>fexit.</summary>
    TraceFexit = 25,
    /// <summary>Iterator.</summary>
    TraceIter = 28,
    /// <summary>XDP link.</summary>
    Xdp = 37,
    /// <summary>Perf event link (tracepoint, uprobe, kprobe, perf event).</summary>
    PerfEvent = 41,
    /// <summary>kprobe_multi link.</summary>
    TraceKprobeMulti = 42,
    /// <summary>tcx ingress.</summary>
    TcxIngress = 46,
    /// <summary>tcx egress.</summary>
    TcxEgress = 47,
    /// <summary>uprobe_multi link.</summary>
    TraceUprobeMulti = 48,
}

/// <summary>Link types (uapi <c>enum bpf_link_type</c>).</summary>
public enum BpfLinkType
{
    /// <summary>Unspecified.</summary>
    Unspec = 0,
    /// <summary>Raw tracepoint / tp_btf.</summary>
    RawTracepoint = 1,
    /// <summary>Tracing (fentry/fexit).</summary>
    Tracing = 2,
    /// <summary>cgroup.</summary>
    Cgroup = 3,
    /// <summary>Iterator.</summary>
    Iter = 4,
    /// <summary>Network namespace.</summary>
    Netns = 5,
    /// <summary>XDP.</summary>
    Xdp = 6,
    /// <summary>Perf event.</summary>
    PerfEvent = 7,
    /// <summary>kprobe_multi.</summary>
    KprobeMulti = 8,
    /// <summary>struct_ops.</summary>
    StructOps = 9,
    /// <summary>Netfilter.</summary>
    Netfilter = 10,
    /// <summary>tcx.</summary>
    Tcx = 11,
    /// <summary>uprobe_multi.</summary>
    UprobeMulti = 12,
    /// <summary>netkit.</summary>
    Netkit = 13,
    /// <summary>sockmap.</summary>
    Sockmap = 14,
}

/// <summary>Flags of element updates (<c>BPF_ANY</c>, <c>BPF_NOEXIST</c>, <c>BPF_EXIST</c>, <c>BPF_F_LOCK</c>).</summary>
[Flags]
public enum MapUpdateFlags : ulong
{
    /// <summary>Create or update (BPF_ANY).</summary>
    Any = 0,
    /// <summary>Create only; fail with EEXIST if present (BPF_NOEXIST).</summary>
    NoExist = 1,
    /// <summary>Update only; fail with ENOENT if absent (BPF_EXIST).</summary>
    Exist = 2,
    /// <summary>Take the value's bpf_spin_lock (BPF_F_LOCK).</summary>
    Lock = 4,
}

/// <summary>Map creation flags (<c>BPF_F_*</c> of map_flags).</summary>
[Flags]
public enum MapCreateFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>Do not preallocate hash elements (required for LPM tries).</summary>
    NoPrealloc = 1,
    /// <summary>Do not use a common LRU list.</summary>
    NoCommonLru = 2,
    /// <summary>NUMA node given.</summary>
    NumaNode = 4,
    /// <summary>Read-only from syscall side.</summary>
    RdOnly = 8,
    /// <summary>Write-only from syscall side.</summary>
    WrOnly = 16,
    /// <summary>Read-only for programs.</summary>
    RdOnlyProg = 128,
    /// <summary>Write-only for programs.</summary>
    WrOnlyProg = 256,
    /// <summary>Array can be mmap()ed.</summary>
    Mmapable = 1024,
}

/// <summary>Well-known helper function ids (uapi <c>enum bpf_func_id</c>), for building small programs.</summary>
public static class BpfHelperIds
{
    /// <summary>bpf_map_lookup_elem.</summary>
    public const int MapLookupElem = 1;
    /// <summary>bpf_map_update_elem.</summary>
    public const int MapUpdateElem = 2;
    /// <summary>bpf_map_delete_elem.</summary>
    public const int MapDeleteElem = 3;
    /// <summary>bpf_ktime_get_ns.</summary>
    public const int KtimeGetNs = 5;
    /// <summary>bpf_trace_printk.</summary>
    public const int TracePrintk = 6;
    /// <summary>bpf_get_prandom_u32.</summary>
    public const int GetPrandomU32 = 7;
    /// <summary>bpf_get_smp_processor_id.</summary>
    public const int GetSmpProcessorId = 8;
    /// <summary>bpf_get_current_pid_tgid.</summary>
    public const int GetCurrentPidTgid = 14;
    /// <summary>bpf_get_current_comm.</summary>
    public const int GetCurrentComm = 16;
    /// <summary>bpf_perf_event_output.</summary>
    public const int PerfEventOutput = 25;
    /// <summary>bpf_ringbuf_output.</summary>
    public const int RingbufOutput = 130;
    /// <summary>bpf_ringbuf_reserve.</summary>
    public const int RingbufReserve = 131;
    /// <summary>bpf_ringbuf_submit.</summary>
    public const int RingbufSubmit = 132;
}
