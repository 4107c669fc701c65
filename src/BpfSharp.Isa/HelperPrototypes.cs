namespace BpfSharp.Isa;

/// <summary>What a helper argument must be (the kernel's <c>ARG_*</c> types, flags folded into distinct values).</summary>
public enum HelperArg : byte
{
    /// <summary>No argument in this position.</summary>
    None,
    /// <summary>Any initialized value (ARG_ANYTHING).</summary>
    Anything,
    /// <summary>A map pointer from lddw (ARG_CONST_MAP_PTR).</summary>
    ConstMapPtr,
    /// <summary>Pointer to initialized memory of the map's key size (ARG_PTR_TO_MAP_KEY).</summary>
    PtrToMapKey,
    /// <summary>Pointer to initialized memory of the map's value size (ARG_PTR_TO_MAP_VALUE).</summary>
    PtrToMapValue,
    /// <summary>Pointer to memory of the map's value size the helper writes (ARG_PTR_TO_MAP_VALUE | MEM_UNINIT).</summary>
    PtrToUninitMapValue,
    /// <summary>Pointer to initialized readable memory whose size is the next argument (ARG_PTR_TO_MEM | MEM_RDONLY).</summary>
    PtrToReadableMem,
    /// <summary>As <see cref="PtrToReadableMem"/>, or NULL (PTR_MAYBE_NULL).</summary>
    PtrToReadableMemOrNull,
    /// <summary>Pointer to writable memory the helper fills; size is the next argument (ARG_PTR_TO_UNINIT_MEM).</summary>
    PtrToUninitMem,
    /// <summary>As <see cref="PtrToUninitMem"/>, or NULL.</summary>
    PtrToUninitMemOrNull,
    /// <summary>A constant (bounded) size greater than zero (ARG_CONST_SIZE).</summary>
    ConstSize,
    /// <summary>A constant (bounded) size that may be zero (ARG_CONST_SIZE_OR_ZERO).</summary>
    ConstSizeOrZero,
    /// <summary>A known constant allocation size (ARG_CONST_ALLOC_SIZE_OR_ZERO).</summary>
    ConstAllocSizeOrZero,
    /// <summary>The program context (ARG_PTR_TO_CTX).</summary>
    PtrToCtx,
    /// <summary>A function reference from lddw src 4 (ARG_PTR_TO_FUNC).</summary>
    PtrToFunc,
    /// <summary>Pointer to the stack, or NULL (ARG_PTR_TO_STACK_OR_NULL).</summary>
    PtrToStackOrNull,
    /// <summary>Pointer to a NUL-terminated string in read-only map memory (ARG_PTR_TO_CONST_STR).</summary>
    PtrToConstStr,
    /// <summary>Memory from ringbuf_reserve, released by the call (ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE).</summary>
    PtrToRingbufMemRelease,
}

/// <summary>What a helper returns in r0 (the kernel's <c>RET_*</c> types).</summary>
public enum HelperReturn : byte
{
    /// <summary>A scalar (RET_INTEGER).</summary>
    Integer,
    /// <summary>Nothing; r0 is unreadable (RET_VOID).</summary>
    Void,
    /// <summary>A pointer to a map value, or NULL (RET_PTR_TO_MAP_VALUE_OR_NULL).</summary>
    MapValueOrNull,
    /// <summary>A pointer to ring buffer memory of the size in r2, or NULL (RET_PTR_TO_RINGBUF_MEM_OR_NULL).</summary>
    RingbufMemOrNull,
}

/// <summary>Groups of program types that share helper availability.</summary>
[Flags]
public enum HelperScope
{
    /// <summary>Any program type.</summary>
    Any = 0,
    /// <summary>Tracing programs (kprobe, tracepoint, raw tracepoint, perf event, tp_btf...).</summary>
    Tracing = 1,
    /// <summary>Programs with an <c>__sk_buff</c> context (socket filter, tc, cgroup skb...).</summary>
    Skb = 2,
    /// <summary>XDP programs.</summary>
    Xdp = 4,
    /// <summary>tc programs (sched_cls, sched_act): the <c>__sk_buff</c> helpers that modify or redirect packets.</summary>
    Tc = 8,
}

/// <summary>A helper's signature, which the verifier checks calls against and the runtimes implement.</summary>
/// <param name="Id">Linux helper id.</param>
/// <param name="Returns">Return kind.</param>
/// <param name="Args">Argument kinds for r1-r5 (shorter arrays mean the rest are unused).</param>
/// <param name="Scope">Program types that may call it (<see cref="HelperScope.Any"/> for all; flags otherwise).</param>
/// <param name="GplOnly">Whether the program's license must be GPL-compatible.</param>
public sealed record HelperPrototype(int Id, HelperReturn Returns, HelperArg[] Args, HelperScope Scope = HelperScope.Any, bool GplOnly = false)
{
    /// <summary>The helper's name without the <c>bpf_</c> prefix.</summary>
    public string Name => HelperNames.Find(Id) ?? $"helper_{Id}";

    /// <summary>The kind of argument <paramref name="index"/> (0 = r1).</summary>
    public HelperArg Arg(int index) => index < Args.Length ? Args[index] : HelperArg.None;
}

/// <summary>Prototypes of the helpers BpfSharp implements (a subset of Linux's, same ids and signatures).</summary>
public static class HelperPrototypes
{
    private static readonly Dictionary<int, HelperPrototype> ById = Build();

    /// <summary>The prototype of a helper id, or null when BpfSharp does not know it.</summary>
    public static HelperPrototype? Find(long id) => id is >= 0 and <= int.MaxValue && ById.TryGetValue((int)id, out var p) ? p : null;

    /// <summary>All known prototypes.</summary>
    public static IEnumerable<HelperPrototype> All => ById.Values.OrderBy(p => p.Id);

    private static readonly HashSet<int> PacketChangers = BuildPacketChangers();

    /// <summary>
    /// Whether the helper may move or resize packet data, so that every packet pointer the program holds becomes
    /// invalid after the call (the kernel's <c>bpf_helper_changes_pkt_data</c>).
    /// </summary>
    public static bool ChangesPacketData(long id) => id is >= 0 and <= int.MaxValue && PacketChangers.Contains((int)id);

    private static HashSet<int> BuildPacketChangers()
    {
        string[] names =
        [
            "skb_store_bytes", "l3_csum_replace", "l4_csum_replace", "skb_vlan_push", "skb_vlan_pop", "skb_change_proto",
            "skb_change_tail", "skb_change_head", "skb_pull_data", "skb_adjust_room", "xdp_adjust_head", "xdp_adjust_tail",
            "xdp_adjust_meta", "clone_redirect", "msg_pull_data", "msg_push_data", "msg_pop_data", "lwt_push_encap",
        ];
        var set = new HashSet<int>();
        foreach (string name in names)
        {
            int id = HelperNames.IdOf(name);
            if (id >= 0) set.Add(id);
        }
        return set;
    }

    private static Dictionary<int, HelperPrototype> Build()
    {
        const HelperArg Any = HelperArg.Anything, Map = HelperArg.ConstMapPtr, Ctx = HelperArg.PtrToCtx;
        HelperPrototype P(string name, HelperReturn ret, HelperScope scope, bool gpl, params HelperArg[] args)
        {
            int id = HelperNames.IdOf(name);
            if (id < 0) throw new InvalidOperationException("unknown helper name " + name);
            return new HelperPrototype(id, ret, args, scope, gpl);
        }
        HelperPrototype Int(string name, params HelperArg[] args) => P(name, HelperReturn.Integer, HelperScope.Any, false, args);
        HelperPrototype Tracing(string name, params HelperArg[] args) => P(name, HelperReturn.Integer, HelperScope.Tracing, true, args);
        var list = new[]
        {
            P("map_lookup_elem", HelperReturn.MapValueOrNull, HelperScope.Any, false, Map, HelperArg.PtrToMapKey),
            Int("map_update_elem", Map, HelperArg.PtrToMapKey, HelperArg.PtrToMapValue, Any),
            Int("map_delete_elem", Map, HelperArg.PtrToMapKey),
            Int("map_push_elem", Map, HelperArg.PtrToMapValue, Any),
            Int("map_pop_elem", Map, HelperArg.PtrToUninitMapValue),
            Int("map_peek_elem", Map, HelperArg.PtrToUninitMapValue),
            P("map_lookup_percpu_elem", HelperReturn.MapValueOrNull, HelperScope.Any, false, Map, HelperArg.PtrToMapKey, Any),
            Int("ktime_get_ns"),
            Int("ktime_get_boot_ns"),
            Int("ktime_get_coarse_ns"),
            Int("jiffies64"),
            Int("get_prandom_u32"),
            Int("get_smp_processor_id"),
            Int("get_numa_node_id"),
            P("trace_printk", HelperReturn.Integer, HelperScope.Any, true, HelperArg.PtrToReadableMem, HelperArg.ConstSize), // r3-r5: format arguments, unchecked as in the kernel
            Int("snprintf", HelperArg.PtrToUninitMemOrNull, HelperArg.ConstSizeOrZero, HelperArg.PtrToConstStr, HelperArg.PtrToReadableMemOrNull, HelperArg.ConstSizeOrZero),
            Int("strncmp", HelperArg.PtrToReadableMem, HelperArg.ConstSize, HelperArg.PtrToConstStr),
            P("tail_call", HelperReturn.Void, HelperScope.Any, false, Ctx, Map, Any), // RET_VOID in the kernel: r0 is unreadable after a failed tail call
            Int("csum_diff", HelperArg.PtrToReadableMemOrNull, HelperArg.ConstSizeOrZero, HelperArg.PtrToReadableMemOrNull, HelperArg.ConstSizeOrZero, Any),
            Int("ringbuf_output", Map, HelperArg.PtrToReadableMem, HelperArg.ConstSizeOrZero, Any),
            P("ringbuf_reserve", HelperReturn.RingbufMemOrNull, HelperScope.Any, false, Map, HelperArg.ConstAllocSizeOrZero, Any),
            P("ringbuf_submit", HelperReturn.Void, HelperScope.Any, false, HelperArg.PtrToRingbufMemRelease, Any),
            P("ringbuf_discard", HelperReturn.Void, HelperScope.Any, false, HelperArg.PtrToRingbufMemRelease, Any),
            Int("ringbuf_query", Map, Any),
            Int("loop", Any, HelperArg.PtrToFunc, HelperArg.PtrToStackOrNull, Any),
            Int("for_each_map_elem", Map, HelperArg.PtrToFunc, HelperArg.PtrToStackOrNull, Any),
            P("redirect", HelperReturn.Integer, HelperScope.Tc | HelperScope.Xdp, false, Any, Any),
            P("redirect_map", HelperReturn.Integer, HelperScope.Xdp, false, Map, Any, Any),
            P("get_stack", HelperReturn.Integer, HelperScope.Tracing, true, Ctx, HelperArg.PtrToUninitMem, HelperArg.ConstSizeOrZero, Any),
            P("get_stackid", HelperReturn.Integer, HelperScope.Tracing, true, Ctx, Map, Any),
            P("skb_store_bytes", HelperReturn.Integer, HelperScope.Tc, false, Ctx, Any, HelperArg.PtrToReadableMem, HelperArg.ConstSize, Any),
            P("l3_csum_replace", HelperReturn.Integer, HelperScope.Tc, false, Ctx, Any, Any, Any, Any),
            P("l4_csum_replace", HelperReturn.Integer, HelperScope.Tc, false, Ctx, Any, Any, Any, Any),
            P("get_hash_recalc", HelperReturn.Integer, HelperScope.Tc, false, Ctx),
            P("get_socket_cookie", HelperReturn.Integer, HelperScope.Skb, false, Ctx),
            P("get_socket_uid", HelperReturn.Integer, HelperScope.Skb, false, Ctx),
            P("get_cgroup_classid", HelperReturn.Integer, HelperScope.Tc, false, Ctx),
            P("skb_change_head", HelperReturn.Integer, HelperScope.Tc, false, Ctx, Any, Any),
            P("skb_pull_data", HelperReturn.Integer, HelperScope.Tc, false, Ctx, Any),
            P("skb_change_tail", HelperReturn.Integer, HelperScope.Tc, false, Ctx, Any, Any),
            P("get_current_task", HelperReturn.Integer, HelperScope.Tracing, true),
            P("get_current_pid_tgid", HelperReturn.Integer, HelperScope.Tracing, false),
            P("get_current_uid_gid", HelperReturn.Integer, HelperScope.Tracing, false),
            P("get_current_comm", HelperReturn.Integer, HelperScope.Tracing, false, HelperArg.PtrToUninitMem, HelperArg.ConstSize),
            Tracing("probe_read", HelperArg.PtrToUninitMem, HelperArg.ConstSizeOrZero, Any),
            Tracing("probe_read_kernel", HelperArg.PtrToUninitMem, HelperArg.ConstSizeOrZero, Any),
            Tracing("probe_read_user", HelperArg.PtrToUninitMem, HelperArg.ConstSizeOrZero, Any),
            Tracing("probe_read_str", HelperArg.PtrToUninitMem, HelperArg.ConstSizeOrZero, Any),
            Tracing("probe_read_kernel_str", HelperArg.PtrToUninitMem, HelperArg.ConstSizeOrZero, Any),
            Tracing("probe_read_user_str", HelperArg.PtrToUninitMem, HelperArg.ConstSizeOrZero, Any),
            P("perf_event_output", HelperReturn.Integer, HelperScope.Tracing | HelperScope.Skb | HelperScope.Xdp, false, Ctx, Map, Any, HelperArg.PtrToReadableMem, HelperArg.ConstSizeOrZero),
            P("skb_load_bytes", HelperReturn.Integer, HelperScope.Skb, false, Ctx, Any, HelperArg.PtrToUninitMem, HelperArg.ConstSize),
            P("xdp_adjust_head", HelperReturn.Integer, HelperScope.Xdp, false, Ctx, Any),
            P("xdp_adjust_tail", HelperReturn.Integer, HelperScope.Xdp, false, Ctx, Any),
            P("xdp_adjust_meta", HelperReturn.Integer, HelperScope.Xdp, false, Ctx, Any),
        };
        var result = new Dictionary<int, HelperPrototype>();
        foreach (var p in list) result.Add(p.Id, p);
        return result;
    }
}
