namespace BpfSharp.Verifier;

/// <summary>What a helper argument must be (the kernel's <c>enum bpf_arg_type</c>, reduced to what we check).</summary>
public enum HelperArg : byte
{
    /// <summary>Not used by the helper.</summary>
    None,
    /// <summary>Any initialized value (ARG_ANYTHING).</summary>
    Anything,
    /// <summary>A map pointer (ARG_CONST_MAP_PTR).</summary>
    MapPtr,
    /// <summary>Pointer to initialized memory of the map's key size (ARG_PTR_TO_MAP_KEY).</summary>
    MapKey,
    /// <summary>Pointer to initialized memory of the map's value size (ARG_PTR_TO_MAP_VALUE).</summary>
    MapValue,
    /// <summary>The context pointer (ARG_PTR_TO_CTX).</summary>
    Ctx,
    /// <summary>Pointer to initialized memory whose size is the next argument (ARG_PTR_TO_MEM | MEM_RDONLY).</summary>
    ReadableMem,
    /// <summary>Pointer to memory the helper fills, size in the next argument (ARG_PTR_TO_UNINIT_MEM).</summary>
    WritableMem,
    /// <summary>Size of the preceding memory argument, bounded and non-zero (ARG_CONST_SIZE).</summary>
    Size,
    /// <summary>Size of the preceding memory argument, bounded, may be zero (ARG_CONST_SIZE_OR_ZERO).</summary>
    SizeOrZero,
    /// <summary>A known constant allocation size (ARG_CONST_ALLOC_SIZE_OR_ZERO).</summary>
    AllocSize,
    /// <summary>Ring buffer memory from bpf_ringbuf_reserve, released by the call (ARG_PTR_TO_ALLOC_MEM | OBJ_RELEASE).</summary>
    RingbufMem,
}

/// <summary>What a helper returns in R0.</summary>
public enum HelperReturn : byte
{
    /// <summary>A number (RET_INTEGER).</summary>
    Integer,
    /// <summary>Nothing: R0 is unreadable afterwards (RET_VOID).</summary>
    Void,
    /// <summary>A map value pointer or NULL (RET_PTR_TO_MAP_VALUE_OR_NULL).</summary>
    MapValueOrNull,
    /// <summary>Ring buffer memory of the requested size or NULL (RET_PTR_TO_ALLOC_MEM_OR_NULL).</summary>
    RingbufMemOrNull,
}

/// <summary>A helper function's prototype.</summary>
/// <param name="Id">Helper number (<c>enum bpf_func_id</c>).</param>
/// <param name="Name">Kernel name, e.g. <c>bpf_map_lookup_elem</c>.</param>
/// <param name="Return">What R0 holds afterwards.</param>
/// <param name="Args">Kinds of R1-R5 (shorter when the helper takes fewer).</param>
/// <param name="AllowedIn">Program types that may call it; null for all.</param>
public sealed record HelperPrototype(int Id, string Name, HelperReturn Return, HelperArg[] Args, ProgramType[]? AllowedIn = null);

/// <summary>The helper prototypes the verifier knows (a subset of the kernel's, by id).</summary>
public static class HelperPrototypes
{
    private static readonly ProgramType[] SkbTypes = [ProgramType.SocketFilter, ProgramType.SchedCls, ProgramType.CgroupSkb];
    private static readonly ProgramType[] TracingTypes = [ProgramType.Kprobe, ProgramType.Tracepoint];

    private static readonly Dictionary<int, HelperPrototype> ById = new HelperPrototype[]
    {
        new(1, "bpf_map_lookup_elem", HelperReturn.MapValueOrNull, [HelperArg.MapPtr, HelperArg.MapKey]),
        new(2, "bpf_map_update_elem", HelperReturn.Integer, [HelperArg.MapPtr, HelperArg.MapKey, HelperArg.MapValue, HelperArg.Anything]),
        new(3, "bpf_map_delete_elem", HelperReturn.Integer, [HelperArg.MapPtr, HelperArg.MapKey]),
        new(4, "bpf_probe_read", HelperReturn.Integer, [HelperArg.WritableMem, HelperArg.Size, HelperArg.Anything], TracingTypes),
        new(5, "bpf_ktime_get_ns", HelperReturn.Integer, []),
        new(6, "bpf_trace_printk", HelperReturn.Integer, [HelperArg.ReadableMem, HelperArg.Size]), // R3-R5 are format arguments, not checked
        new(7, "bpf_get_prandom_u32", HelperReturn.Integer, []),
        new(8, "bpf_get_smp_processor_id", HelperReturn.Integer, []),
        new(12, "bpf_tail_call", HelperReturn.Void, [HelperArg.Ctx, HelperArg.MapPtr, HelperArg.Anything]),
        new(14, "bpf_get_current_pid_tgid", HelperReturn.Integer, []),
        new(15, "bpf_get_current_uid_gid", HelperReturn.Integer, []),
        new(16, "bpf_get_current_comm", HelperReturn.Integer, [HelperArg.WritableMem, HelperArg.Size]),
        new(23, "bpf_redirect", HelperReturn.Integer, [HelperArg.Anything, HelperArg.Anything], [ProgramType.Xdp, ProgramType.SchedCls]),
        new(25, "bpf_perf_event_output", HelperReturn.Integer, [HelperArg.Ctx, HelperArg.MapPtr, HelperArg.Anything, HelperArg.ReadableMem, HelperArg.SizeOrZero]),
        new(26, "bpf_skb_load_bytes", HelperReturn.Integer, [HelperArg.Ctx, HelperArg.Anything, HelperArg.WritableMem, HelperArg.Size], SkbTypes),
        new(51, "bpf_redirect_map", HelperReturn.Integer, [HelperArg.MapPtr, HelperArg.Anything, HelperArg.Anything], [ProgramType.Xdp]),
        new(67, "bpf_get_stack", HelperReturn.Integer, [HelperArg.Ctx, HelperArg.WritableMem, HelperArg.SizeOrZero, HelperArg.Anything]),
        new(112, "bpf_probe_read_user", HelperReturn.Integer, [HelperArg.WritableMem, HelperArg.Size, HelperArg.Anything], TracingTypes),
        new(113, "bpf_probe_read_kernel", HelperReturn.Integer, [HelperArg.WritableMem, HelperArg.Size, HelperArg.Anything], TracingTypes),
        new(125, "bpf_ktime_get_boot_ns", HelperReturn.Integer, []),
        new(130, "bpf_ringbuf_output", HelperReturn.Integer, [HelperArg.MapPtr, HelperArg.ReadableMem, HelperArg.SizeOrZero, HelperArg.Anything]),
        new(131, "bpf_ringbuf_reserve", HelperReturn.RingbufMemOrNull, [HelperArg.MapPtr, HelperArg.AllocSize, HelperArg.Anything]),
        new(132, "bpf_ringbuf_submit", HelperReturn.Void, [HelperArg.RingbufMem, HelperArg.Anything]),
        new(133, "bpf_ringbuf_discard", HelperReturn.Void, [HelperArg.RingbufMem, HelperArg.Anything]),
    }.ToDictionary(p => p.Id);

    /// <summary>Looks a helper up by id.</summary>
    public static bool TryGet(int id, out HelperPrototype prototype) => ById.TryGetValue(id, out prototype!);

    /// <summary>All known prototypes.</summary>
    public static IEnumerable<HelperPrototype> All => ById.Values;
}
