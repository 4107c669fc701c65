using BpfSharp.Isa;
using BpfSharp.Verifier.Analysis;

namespace BpfSharp.Verifier;

/// <summary>Program types the verifier knows the context layout and rules of (kernel <c>enum bpf_prog_type</c>).</summary>
public enum ProgramType
{
    /// <summary>BPF_PROG_TYPE_SOCKET_FILTER: context <c>struct __sk_buff</c>, no direct packet access.</summary>
    SocketFilter = 1,
    /// <summary>BPF_PROG_TYPE_KPROBE: context <c>struct pt_regs</c> (x86-64), read-only.</summary>
    Kprobe = 2,
    /// <summary>BPF_PROG_TYPE_SCHED_CLS (tc): <c>struct __sk_buff</c> with direct packet access.</summary>
    SchedCls = 3,
    /// <summary>BPF_PROG_TYPE_TRACEPOINT: the tracepoint's record, read-only.</summary>
    Tracepoint = 5,
    /// <summary>BPF_PROG_TYPE_XDP: context <c>struct xdp_md</c>.</summary>
    Xdp = 6,
    /// <summary>BPF_PROG_TYPE_CGROUP_SKB: <c>struct __sk_buff</c>; must return 0 or 1.</summary>
    CgroupSkb = 8,
}

/// <summary>One field of a context structure.</summary>
/// <param name="Offset">Byte offset of the field.</param>
/// <param name="Size">Size of the field in bytes.</param>
/// <param name="Result">What a load of the whole field yields (packet pointers for data fields).</param>
/// <param name="Writable">Whether stores to the field are allowed.</param>
/// <param name="NarrowLoads">Whether loads narrower than the field (aligned within it) are allowed.</param>
public readonly record struct ContextField(int Offset, int Size, RegType Result = RegType.Scalar, bool Writable = false, bool NarrowLoads = true);

/// <summary>Context layouts and rules per program type.</summary>
public static class ProgramTypes
{
    private static readonly ContextField[] SkBuffCommonRead =
    [
        new(0, 4), new(4, 4), new(8, 4), new(12, 4), new(16, 4), new(20, 4), new(24, 4), new(28, 4), new(32, 4),
        new(36, 4), new(40, 4), new(44, 4), new(68, 4), new(84, 4), new(164, 4), new(176, 4),
    ];

    private static readonly ContextField[] SocketFilterContext =
        [.. SkBuffCommonRead, .. CbFields(writable: true)];

    private static readonly ContextField[] SchedClsContext =
    [
        new(0, 4), new(4, 4), new(8, 4, Writable: true), new(12, 4, Writable: true), new(16, 4), new(20, 4), new(24, 4),
        new(28, 4), new(32, 4, Writable: true), new(36, 4), new(40, 4), new(44, 4, Writable: true), new(68, 4),
        new(72, 4, Writable: true), new(76, 4, RegType.Packet, NarrowLoads: false), new(80, 4, RegType.PacketEnd, NarrowLoads: false),
        new(84, 4), new(88, 4), new(92, 4), new(96, 4), new(100, 16), new(116, 16), new(132, 4), new(136, 4),
        new(140, 4, RegType.PacketMeta, NarrowLoads: false), new(152, 8, Writable: true), new(160, 4), new(164, 4), new(176, 4),
        .. CbFields(writable: true),
    ];

    private static readonly ContextField[] CgroupSkbContext =
    [
        .. SkBuffCommonRead, new(76, 4, RegType.Packet, NarrowLoads: false), new(80, 4, RegType.PacketEnd, NarrowLoads: false),
        new(88, 4), new(92, 4), new(96, 4), new(100, 16), new(116, 16), new(132, 4), new(136, 4), .. CbFields(writable: true),
    ];

    private static readonly ContextField[] XdpContext =
    [
        new(0, 4, RegType.Packet, NarrowLoads: false), new(4, 4, RegType.PacketEnd, NarrowLoads: false),
        new(8, 4, RegType.PacketMeta, NarrowLoads: false), new(12, 4, NarrowLoads: false), new(16, 4, NarrowLoads: false),
        new(20, 4, NarrowLoads: false),
    ];

    private static ContextField[] CbFields(bool writable) =>
        [new(48, 4, Writable: writable), new(52, 4, Writable: writable), new(56, 4, Writable: writable), new(60, 4, Writable: writable), new(64, 4, Writable: writable)];

    /// <summary>Size of <c>struct pt_regs</c> on x86-64.</summary>
    public const int PtRegsSize = 168;

    /// <summary>Largest tracepoint record the kernel lets a program read (PERF_MAX_TRACE_SIZE).</summary>
    public const int MaxTraceSize = 2048;

    /// <summary>The helper groups (<see cref="HelperPrototype.Scope"/> flags) a program type may call.</summary>
    public static HelperScope HelperScopeOf(ProgramType type) => type switch
    {
        ProgramType.SocketFilter or ProgramType.CgroupSkb => HelperScope.Skb,
        ProgramType.SchedCls => HelperScope.Skb | HelperScope.Tc,
        ProgramType.Xdp => HelperScope.Xdp,
        ProgramType.Kprobe or ProgramType.Tracepoint => HelperScope.Tracing,
        _ => HelperScope.Any,
    };

    /// <summary>Whether the program may read and write packet data through data/data_end pointers.</summary>
    public static bool HasDirectPacketAccess(ProgramType type) => type is ProgramType.Xdp or ProgramType.SchedCls or ProgramType.CgroupSkb;

    /// <summary>Whether direct packet writes are allowed (cgroup_skb may only read).</summary>
    public static bool CanWritePacket(ProgramType type) => type is ProgramType.Xdp or ProgramType.SchedCls;

    /// <summary>Whether the legacy LD_ABS/LD_IND packet loads are allowed.</summary>
    public static bool HasLegacyPacketLoads(ProgramType type) => type is ProgramType.SocketFilter or ProgramType.SchedCls or ProgramType.CgroupSkb;

    /// <summary>The values R0 may hold at exit, or null when any number is allowed.</summary>
    public static (long Min, long Max)? ReturnRange(ProgramType type) => type == ProgramType.CgroupSkb ? (0, 1) : null;

    /// <summary>
    /// Checks a context access of <paramref name="size"/> bytes at <paramref name="offset"/>; on success returns what
    /// a load yields.
    /// </summary>
    public static bool TryAccessContext(ProgramType type, int offset, int size, bool write, out RegType result)
    {
        result = RegType.Scalar;
        switch (type)
        {
            case ProgramType.Kprobe:
                return !write && offset >= 0 && offset + size <= PtRegsSize && offset % size == 0;
            case ProgramType.Tracepoint:
                return !write && offset >= 0 && offset < MaxTraceSize && offset % size == 0;
        }
        ContextField[] fields = type switch
        {
            ProgramType.SocketFilter => SocketFilterContext,
            ProgramType.SchedCls => SchedClsContext,
            ProgramType.CgroupSkb => CgroupSkbContext,
            _ => XdpContext,
        };
        foreach (ContextField f in fields)
        {
            if (offset < f.Offset || offset >= f.Offset + f.Size)
                continue;
            if (offset + size > f.Offset + f.Size || (write && !f.Writable))
                return false;
            bool whole = offset == f.Offset && size == f.Size;
            bool wideField = f.Size > 8; // arrays like remote_ip6: 4-byte elements
            if (!whole && !(f.NarrowLoads || wideField) || offset % size != 0)
                return false;
            if (f.Result != RegType.Scalar && !whole)
                return false;
            if (write && !whole && !wideField)
                return false;
            result = f.Result;
            return true;
        }
        return false;
    }
}
