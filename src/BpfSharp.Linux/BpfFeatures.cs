using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using BpfSharp.Isa;
using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>Outcome of a feature probe.</summary>
public enum FeatureSupport
{
    /// <summary>The kernel accepted the probe.</summary>
    Supported,
    /// <summary>The kernel rejected the probe in a way that means the feature is missing.</summary>
    NotSupported,
    /// <summary>The probe could not decide (needs parameters a generic probe cannot supply).</summary>
    Unknown,
}

/// <summary>A probe's answer and why.</summary>
/// <param name="Support">The verdict.</param>
/// <param name="Reason">Why (errno name, verifier message, or what a generic probe cannot do).</param>
public sealed record FeatureProbe(FeatureSupport Support, string Reason)
{
    /// <summary>Whether the feature is supported.</summary>
    public bool IsSupported => Support == FeatureSupport.Supported;
}

/// <summary>
/// Feature probing by trying minimal loads, as <c>bpftool feature probe</c> does: a program type is supported if
/// <c>r0 = 0; exit</c> loads; a map type if a small map of it can be created; a helper if the verifier does not
/// complain that the function is unknown or not allowed for the program type. Results are cached per process.
/// </summary>
public static class BpfFeatures
{
    private static readonly ConcurrentDictionary<string, FeatureProbe> Cache = new();

    /// <summary>Probes a program type.</summary>
    public static FeatureProbe ProbeProgramType(BpfProgramType type) =>
        Cache.GetOrAdd("prog:" + type, _ => DoProbeProgram(type));

    /// <summary>Throws <see cref="BpfNotSupportedException"/> unless the program type is supported.</summary>
    public static void RequireProgramType(BpfProgramType type)
    {
        var p = ProbeProgramType(type);
        if (p.Support == FeatureSupport.NotSupported)
            throw new BpfNotSupportedException($"program type {type}", p.Reason);
    }

    /// <summary>Probes a map type.</summary>
    public static FeatureProbe ProbeMapType(BpfMapType type) =>
        Cache.GetOrAdd("map:" + type, _ => DoProbeMap(type));

    /// <summary>Throws <see cref="BpfNotSupportedException"/> unless the map type is supported.</summary>
    public static void RequireMapType(BpfMapType type)
    {
        var p = ProbeMapType(type);
        if (p.Support == FeatureSupport.NotSupported)
            throw new BpfNotSupportedException($"map type {type}", p.Reason);
    }

    /// <summary>Probes whether programs of <paramref name="type"/> may call helper <paramref name="helperId"/>.</summary>
    public static FeatureProbe ProbeHelper(BpfProgramType type, int helperId) =>
        Cache.GetOrAdd($"helper:{type}:{helperId}", _ => DoProbeHelper(type, helperId));

    /// <summary>Throws <see cref="BpfNotSupportedException"/> unless the helper is available to the program type.</summary>
    public static void RequireHelper(BpfProgramType type, int helperId)
    {
        var p = ProbeHelper(type, helperId);
        if (p.Support == FeatureSupport.NotSupported)
            throw new BpfNotSupportedException($"helper #{helperId} in {type} programs", p.Reason);
    }

    /// <summary>Load options that make a trivial program of this type loadable, or null if a generic probe cannot.</summary>
    private static ProgramLoadOptions? ProbeOptions(BpfProgramType type, out string why)
    {
        why = "";
        switch (type)
        {
            case BpfProgramType.Unspec:
                why = "not a loadable type";
                return null;
            case BpfProgramType.Ext:
            case BpfProgramType.StructOps:
                why = $"{type} programs need a target program / struct_ops type; not probed generically";
                return null;
            case BpfProgramType.Tracing:
                uint? tp = TryBtfId("btf_trace_sched_switch", BtfKind.Typedef);
                if (tp is null)
                {
                    why = "no vmlinux BTF to find a tp_btf target";
                    return null;
                }
                return new ProgramLoadOptions { Type = type, ExpectedAttachType = BpfAttachType.TraceRawTp, AttachBtfId = tp.Value };
            case BpfProgramType.Lsm:
                uint? hook = TryBtfId("bpf_lsm_file_open", BtfKind.Func);
                if (hook is null)
                {
                    why = "no vmlinux BTF function bpf_lsm_file_open";
                    return null;
                }
                return new ProgramLoadOptions { Type = type, ExpectedAttachType = (BpfAttachType)27 /* BPF_LSM_MAC */, AttachBtfId = hook.Value };
            case BpfProgramType.CgroupSockAddr:
                return new ProgramLoadOptions { Type = type, ExpectedAttachType = (BpfAttachType)10 /* BPF_CGROUP_INET4_CONNECT */ };
            case BpfProgramType.CgroupSockopt:
                return new ProgramLoadOptions { Type = type, ExpectedAttachType = (BpfAttachType)21 /* BPF_CGROUP_GETSOCKOPT */ };
            case BpfProgramType.SkLookup:
                return new ProgramLoadOptions { Type = type, ExpectedAttachType = (BpfAttachType)36 /* BPF_SK_LOOKUP */ };
            case BpfProgramType.Netfilter:
                return new ProgramLoadOptions { Type = type, ExpectedAttachType = (BpfAttachType)45 /* BPF_NETFILTER */ };
            default:
                return new ProgramLoadOptions { Type = type };
        }
    }

    private static uint? TryBtfId(string name, BtfKind kind)
    {
        try
        {
            return KernelBtf.Vmlinux.FindType(name, kind);
        }
        catch (BpfNotSupportedException)
        {
            return null;
        }
    }

    private static readonly RawInstruction[] ReturnZero = [new(0xb7, 0, 0, 0, 0), new(0x95, 0, 0, 0, 0)];

    private static FeatureProbe DoProbeProgram(BpfProgramType type)
    {
        BpfSyscall.EnsureAvailable();
        var options = ProbeOptions(type, out string why);
        if (options is null)
            return new FeatureProbe(FeatureSupport.Unknown, why);
        int fd = BpfSyscall.TryProgLoad(options, ReturnZero, 1, out string log, out int errno);
        if (fd >= 0)
        {
            LibC.Close(fd);
            return new FeatureProbe(FeatureSupport.Supported, "loaded");
        }
        return new FeatureProbe(FeatureSupport.NotSupported, $"{Errnos.Name(errno)}: {BpfVerifierException.Summarize(log, errno)}");
    }

    private static FeatureProbe DoProbeHelper(BpfProgramType type, int helperId)
    {
        var typeProbe = ProbeProgramType(type);
        if (!typeProbe.IsSupported)
            return new FeatureProbe(typeProbe.Support, $"program type {type}: {typeProbe.Reason}");
        var options = ProbeOptions(type, out _)!;
        RawInstruction[] prog = [new(0x85, 0, 0, 0, helperId), new(0xb7, 0, 0, 0, 0), new(0x95, 0, 0, 0, 0)];
        int fd = BpfSyscall.TryProgLoad(options, prog, 1, out string log, out int errno);
        if (fd >= 0)
        {
            LibC.Close(fd);
            return new FeatureProbe(FeatureSupport.Supported, "loaded");
        }
        // Unknown or disallowed helpers fail at the call with these messages; anything else (argument checks)
        // means the verifier got past the helper lookup, so the helper exists for this program type.
        foreach (string line in log.Split('\n'))
        {
            if (line.Contains("invalid func ", StringComparison.Ordinal) || line.Contains("unknown func ", StringComparison.Ordinal)
                || line.Contains("program of this type cannot use helper", StringComparison.Ordinal))
                return new FeatureProbe(FeatureSupport.NotSupported, line.Trim());
        }
        if (log.Length == 0)
            return new FeatureProbe(FeatureSupport.Unknown, $"{Errnos.Name(errno)} without a verifier log");
        return new FeatureProbe(FeatureSupport.Supported, "known to the verifier: " + BpfVerifierException.Summarize(log, errno));
    }

    private static FeatureProbe DoProbeMap(BpfMapType type)
    {
        BpfSyscall.EnsureAvailable();
        uint page = (uint)LibC.PageSize;
        var o = new MapCreateOptions { Type = type, KeySize = 4, ValueSize = 4, MaxEntries = 1 };
        BpfMapHandle? inner = null;
        BtfHandle? btf = null;
        try
        {
            switch (type)
            {
                case BpfMapType.Unspec:
                    return new FeatureProbe(FeatureSupport.Unknown, "not a creatable type");
                case BpfMapType.StructOps:
                    return new FeatureProbe(FeatureSupport.Unknown, "struct_ops maps need a vmlinux value type; not probed generically");
                case BpfMapType.StackTrace:
                    o = o with { ValueSize = 8 };
                    break;
                case BpfMapType.LpmTrie:
                    o = o with { KeySize = 8, Flags = MapCreateFlags.NoPrealloc };
                    break;
                case BpfMapType.Queue or BpfMapType.Stack or BpfMapType.BloomFilter:
                    o = o with { KeySize = 0 };
                    break;
                case BpfMapType.Ringbuf or BpfMapType.UserRingbuf:
                    o = o with { KeySize = 0, ValueSize = 0, MaxEntries = page };
                    break;
                case BpfMapType.CgroupStorage or BpfMapType.PercpuCgroupStorage:
                    o = o with { KeySize = 8 /* u64 cgroup inode id (or 16: struct bpf_cgroup_storage_key) */, MaxEntries = 0 };
                    break;
                case BpfMapType.Arena:
                    o = o with { KeySize = 0, ValueSize = 0, MaxEntries = 1, Flags = MapCreateFlags.Mmapable };
                    break;
                case BpfMapType.ArrayOfMaps or BpfMapType.HashOfMaps:
                    inner = BpfSyscall.MapCreate(new MapCreateOptions { Type = BpfMapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1 });
                    o = o with { InnerMap = inner };
                    break;
                case BpfMapType.SkStorage or BpfMapType.InodeStorage or BpfMapType.TaskStorage or BpfMapType.CgrpStorage:
                    // Local storage maps require BTF for key and value: a one-type BTF blob ("int") serves both.
                    btf = BpfSyscall.BtfLoad(MinimalIntBtf());
                    o = o with { Flags = MapCreateFlags.NoPrealloc, MaxEntries = 0, Btf = btf, BtfKeyTypeId = 1, BtfValueTypeId = 1 };
                    break;
            }
            try
            {
                using var h = BpfSyscall.MapCreate(o);
                return new FeatureProbe(FeatureSupport.Supported, "created");
            }
            catch (BpfException ex)
            {
                return new FeatureProbe(FeatureSupport.NotSupported, $"{ex.ErrnoName}: {ex.Message}");
            }
        }
        catch (BpfException ex)
        {
            return new FeatureProbe(FeatureSupport.Unknown, "probe setup failed: " + ex.Message);
        }
        finally
        {
            inner?.Dispose();
            btf?.Dispose();
        }
    }

    /// <summary>
    /// The smallest useful raw BTF: one type, <c>int</c> (BTF_KIND_INT, 4 bytes, signed, 32 bits), id 1.
    /// Layout per Documentation/bpf/btf.rst: 24-byte header, 16 bytes of type data, string section "\0int\0".
    /// </summary>
    public static byte[] MinimalIntBtf()
    {
        byte[] strings = Encoding.ASCII.GetBytes("\0int\0");
        byte[] blob = new byte[24 + 16 + strings.Length];
        var s = blob.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(s, 0xEB9F);     // magic
        s[2] = 1;                                                // version
        s[3] = 0;                                                // flags
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], 24);    // hdr_len
        BinaryPrimitives.WriteUInt32LittleEndian(s[8..], 0);     // type_off
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], 16);   // type_len
        BinaryPrimitives.WriteUInt32LittleEndian(s[16..], 16);   // str_off
        BinaryPrimitives.WriteUInt32LittleEndian(s[20..], (uint)strings.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(s[24..], 1);                 // name_off -> "int"
        BinaryPrimitives.WriteUInt32LittleEndian(s[28..], (uint)BtfKind.Int << 24);   // info: kind INT, vlen 0
        BinaryPrimitives.WriteUInt32LittleEndian(s[32..], 4);                 // size
        BinaryPrimitives.WriteUInt32LittleEndian(s[36..], (1u << 24) | 32);   // encoding SIGNED, offset 0, bits 32
        strings.CopyTo(s[40..]);
        return blob;
    }
}
