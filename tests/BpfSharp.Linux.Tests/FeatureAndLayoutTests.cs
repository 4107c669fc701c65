using BpfSharp.Isa;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using BpfSharp.Linux;
using BpfSharp.Linux.Native;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Linux.Tests;

public class FeatureTests(ITestOutputHelper output)
{
    [KernelFact]
    public void Common_program_types_are_supported_and_every_type_gets_a_verdict()
    {
        foreach (var t in new[] { BpfProgramType.SocketFilter, BpfProgramType.Xdp, BpfProgramType.SchedCls, BpfProgramType.Tracepoint,
                                  BpfProgramType.RawTracepoint, BpfProgramType.PerfEvent, BpfProgramType.Kprobe })
            Assert.True(BpfFeatures.ProbeProgramType(t).IsSupported, $"{t}: {BpfFeatures.ProbeProgramType(t).Reason}");
        foreach (BpfProgramType t in Enum.GetValues<BpfProgramType>())
            output.WriteLine($"prog {t,-22} {BpfFeatures.ProbeProgramType(t).Support,-13} {BpfFeatures.ProbeProgramType(t).Reason}");
        var bogus = BpfFeatures.ProbeProgramType((BpfProgramType)999);
        Assert.Equal(FeatureSupport.NotSupported, bogus.Support);
        Assert.Contains("EINVAL", bogus.Reason);
        Assert.Throws<BpfNotSupportedException>(() => BpfFeatures.RequireProgramType((BpfProgramType)999));
    }

    [KernelFact]
    public void Common_map_types_are_supported_and_every_type_gets_a_verdict()
    {
        foreach (var t in new[] { BpfMapType.Hash, BpfMapType.Array, BpfMapType.PercpuArray, BpfMapType.LruHash, BpfMapType.LpmTrie,
                                  BpfMapType.Ringbuf, BpfMapType.Queue, BpfMapType.Stack, BpfMapType.BloomFilter, BpfMapType.ArrayOfMaps,
                                  BpfMapType.TaskStorage })
            Assert.True(BpfFeatures.ProbeMapType(t).IsSupported, $"{t}: {BpfFeatures.ProbeMapType(t).Reason}");
        foreach (BpfMapType t in Enum.GetValues<BpfMapType>().Distinct())
            output.WriteLine($"map {t,-22} {BpfFeatures.ProbeMapType(t).Support,-13} {BpfFeatures.ProbeMapType(t).Reason}");
        var ex = Assert.Throws<BpfNotSupportedException>(() => BpfFeatures.RequireMapType((BpfMapType)999));
        Assert.Contains("not supported by this kernel", ex.Message);
    }

    [KernelFact]
    public void Helper_probe_tells_known_from_unknown_and_disallowed()
    {
        foreach (var (t, h) in new[] { (BpfProgramType.Xdp, 1), (BpfProgramType.Tracepoint, 14), (BpfProgramType.Xdp, 100_000), (BpfProgramType.Xdp, 44), (BpfProgramType.Tracepoint, 44) })
            output.WriteLine($"{t} helper #{h}: {BpfFeatures.ProbeHelper(t, h)}");
        Assert.True(BpfFeatures.ProbeHelper(BpfProgramType.Xdp, BpfHelperIds.MapLookupElem).IsSupported);
        Assert.True(BpfFeatures.ProbeHelper(BpfProgramType.Tracepoint, BpfHelperIds.GetCurrentPidTgid).IsSupported);
        var unknown = BpfFeatures.ProbeHelper(BpfProgramType.Xdp, 100_000);
        Assert.Equal(FeatureSupport.NotSupported, unknown.Support);
        Assert.Contains("invalid func", unknown.Reason);
        // bpf_xdp_adjust_head (44) is for XDP only.
        Assert.True(BpfFeatures.ProbeHelper(BpfProgramType.Xdp, 44).IsSupported);
        Assert.Equal(FeatureSupport.NotSupported, BpfFeatures.ProbeHelper(BpfProgramType.Tracepoint, 44).Support);
        Assert.Throws<BpfNotSupportedException>(() => BpfFeatures.RequireHelper(BpfProgramType.Tracepoint, 44));
    }

    [KernelFact]
    public void Btf_load_accepts_a_minimal_blob_and_reports_errors_with_the_kernel_log()
    {
        byte[] blob = BpfFeatures.MinimalIntBtf();
        using (var btf = BpfSyscall.BtfLoad(blob))
            Assert.False(btf.IsInvalid);
        // Our own parser agrees with what we built.
        var parsed = new KernelBtf(blob);
        Assert.Equal(2, parsed.TypeCount);
        Assert.Equal((BtfKind.Int, "int", 4u), (parsed.KindOf(1), parsed.NameOf(1), parsed.SizeOf(1)));

        byte[] bad = (byte[])blob.Clone();
        bad[28 + 3] = 31;   // kind 31 does not exist
        var ex = Assert.Throws<BpfException>(() => BpfSyscall.BtfLoad(bad));
        Assert.Equal("BPF_BTF_LOAD", ex.Operation);
        Assert.Equal(Errnos.EINVAL, ex.Errno);
        output.WriteLine(ex.Message);
        Assert.Throws<InvalidDataException>(() => new KernelBtf(bad));
        Assert.Throws<InvalidDataException>(() => new KernelBtf([1, 2, 3]));
    }

    [Fact]
    public void Verifier_summary_picks_the_reason_line()
    {
        string log = "0: R1=ctx() R10=fp0\n0: (bf) r0 = r2\nR2 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        Assert.Equal("R2 !read_ok (at 0: (bf) r0 = r2)", BpfVerifierException.Summarize(log, Errnos.EACCES));
        Assert.Contains("no verifier log", BpfVerifierException.Summarize("", Errnos.EPERM));
    }

    [Fact]
    public void Cpu_list_parsing()
    {
        Assert.Equal(4, LinuxSystem.ParseCpuList("0-3\n"));
        Assert.Equal(6, LinuxSystem.ParseCpuList("0,2-3,5"));
        Assert.Equal(1, LinuxSystem.ParseCpuList("0"));
    }
}

/// <summary>
/// Our attr/info structs against the running kernel's own BTF description of the uapi types: every field we
/// declare must sit at the offset the kernel uses. This is the independent check of the hand-written layouts.
/// </summary>
public class LayoutTests(ITestOutputHelper output)
{
    private static string Snake(string pascal)
    {
        var sb = new StringBuilder();
        foreach (char c in pascal)
        {
            if (char.IsUpper(c) && sb.Length > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>Members of a BTF aggregate by name, anonymous struct/union members flattened in, offsets in bytes.</summary>
    private static Dictionary<string, int> Flatten(KernelBtf btf, uint id, int baseOffset = 0, Dictionary<string, int>? into = null)
    {
        into ??= [];
        foreach (var m in btf.Members(id))
        {
            int off = baseOffset + (int)(m.BitOffset / 8);
            if (m.Name.Length == 0)
                Flatten(btf, btf.Resolve(m.TypeId), off, into);
            else
                into.TryAdd(m.Name, off);
        }
        return into;
    }

    private static readonly Dictionary<string, string> Renamed = new()
    {
        ["ValueOrNextKey"] = "value", ["StartOrId"] = "start_id", ["Target"] = "target_fd", ["U32At16"] = "target_btf_id",
        ["GplCompatibleBits"] = "gpl_compatible", ["Union"] = "", ["U64At16"] = "", ["U64At24"] = "",
        ["Flags"] = "flags", ["WakeupEvents"] = "wakeup_events", ["SamplePeriod"] = "sample_period",
    };

    private void CheckStruct(Type ours, Dictionary<string, int> kernel, int kernelSize, string what)
    {
        Assert.True(Marshal.SizeOf(ours) <= kernelSize, $"{ours.Name} is {Marshal.SizeOf(ours)} bytes, kernel's {what} is {kernelSize}");
        int checkedFields = 0;
        foreach (var f in ours.GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            string name = Renamed.TryGetValue(f.Name, out string? r) ? r : Snake(f.Name);
            if (name.Length == 0)
                continue;
            if (ours == typeof(PerfEventAttr) && f.Name == "Flags")
                continue;   // a bit-field word: BTF lists the individual bits instead
            Assert.True(kernel.TryGetValue(name, out int expected), $"{what} has no member '{name}' (our {ours.Name}.{f.Name})");
            Assert.Equal((what, name, expected), (what, name, (int)Marshal.OffsetOf(ours, f.Name)));
            checkedFields++;
        }
        output.WriteLine($"{ours.Name}: {checkedFields} fields match {what}");
    }

    [KernelFact("btf")]
    public void Bpf_attr_members_match_the_kernel()
    {
        var btf = KernelBtf.Vmlinux;
        uint union = btf.FindType("bpf_attr", BtfKind.Union) ?? throw new InvalidOperationException("no union bpf_attr");
        var members = btf.Members(union);
        int unionSize = (int)btf.SizeOf(union);
        (Type Ours, int Index)[] map =
        [
            (typeof(MapCreateAttr), 0), (typeof(MapElemAttr), 1), (typeof(MapBatchAttr), 2), (typeof(ProgLoadAttr), 3),
            (typeof(ObjAttr), 4), (typeof(TestRunAttr), 6), (typeof(GetIdAttr), 7), (typeof(InfoAttr), 8),
            (typeof(RawTracepointAttr), 10), (typeof(BtfLoadAttr), 11), (typeof(LinkCreateAttr), 13),
        ];
        foreach (var (ours, index) in map)
        {
            uint structId = btf.Resolve(members[index].TypeId);
            CheckStruct(ours, Flatten(btf, structId), unionSize, $"bpf_attr member #{index} ({(members[index].Name.Length == 0 ? "anonymous" : members[index].Name)})");
        }
    }

    [KernelFact("btf")]
    public void Info_and_perf_structs_match_the_kernel()
    {
        var btf = KernelBtf.Vmlinux;
        foreach (var (ours, name) in new[] { (typeof(BpfProgInfoRaw), "bpf_prog_info"), (typeof(BpfMapInfoRaw), "bpf_map_info"),
                                             (typeof(BpfLinkInfoRaw), "bpf_link_info"), (typeof(PerfEventAttr), "perf_event_attr") })
        {
            uint id = btf.FindType(name, BtfKind.Struct) ?? throw new InvalidOperationException("no struct " + name);
            CheckStruct(ours, Flatten(btf, id), (int)btf.SizeOf(id), "struct " + name);
        }
        uint progInfo = btf.FindType("bpf_prog_info", BtfKind.Struct)!.Value;
        Assert.Equal((int)btf.SizeOf(progInfo), Marshal.SizeOf<BpfProgInfoRaw>());
    }

    [KernelFact("btf")]
    public void Vmlinux_btf_lookup_finds_kernel_types()
    {
        var btf = KernelBtf.Vmlinux;
        uint task = btf.FindType("task_struct", BtfKind.Struct) ?? throw new InvalidOperationException();
        Assert.Contains(btf.Members(task), m => m.Name == "pid");
        Assert.NotNull(btf.FindType("btf_trace_sched_process_exec", BtfKind.Typedef));
        Assert.Null(btf.FindType("no_such_type_here", BtfKind.Struct));
        output.WriteLine($"vmlinux BTF: {btf.TypeCount} types");
    }
}
