using BpfSharp.Isa;
using System.Buffers.Binary;
using System.Text;
using BpfSharp.Elf.Btf;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>
/// data/endian/sample.c built with <c>-target bpfel</c> and <c>-target bpfeb</c> gives the same object model;
/// expected facts come from the C source.
/// </summary>
public sealed class EndiannessTests(ITestOutputHelper output)
{
    private static string SamplePath(string target) => Path.Combine(TestSupport.DataDir, "endian", $"sample-{target}.o");

    /// <summary>An endian-neutral description of everything the loader produced.</summary>
    internal static string Describe(BpfObject obj)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"license={obj.License} version={obj.KernelVersion} externs={string.Join(",", obj.Externs)} btfError={obj.BtfError}");
        foreach (var m in obj.Maps)
        {
            sb.AppendLine($"map {m} source={m.Source} section={m.SectionName}@{m.SectionOffset} frozen={m.IsFrozen} pin={m.Pinning} vars={string.Join(",", m.Variables)} " +
                          $"key#{m.BtfKeyTypeId} value#{m.BtfValueTypeId} data={m.InitialData.Length} inner={m.InnerMap} slots={string.Join(",", m.InitialSlots)}");
        }
        foreach (var p in obj.Programs)
        {
            sb.AppendLine($"prog {p.Name} {p.SectionName} {p.Type} {p.ExpectedAttachType} {p.AttachTarget} {p.Flags}");
            foreach (var i in p.Instructions.ToArray()) sb.AppendLine("  " + i);
            foreach (var f in p.Functions) sb.AppendLine("  " + f);
            foreach (var r in p.MapReferences) sb.AppendLine("  " + r);
            foreach (var r in p.ExternReferences) sb.AppendLine("  " + r);
            foreach (var r in p.FuncInfos) sb.AppendLine("  " + r);
            foreach (var r in p.LineInfos) sb.AppendLine("  " + r);
            foreach (var r in p.CoreRelocations) sb.AppendLine("  " + r);
        }
        if (obj.Btf is { } btf)
        {
            foreach (var t in btf.Types)
            {
                sb.Append(t.ToString());
                switch (t)
                {
                    case BtfComposite c:
                        sb.Append($" size={c.Size} ").AppendJoin(' ', c.Members);
                        break;
                    case BtfInt i: sb.Append($" size={i.Size} bits={i.Bits} enc={i.Encoding}"); break;
                    case BtfReference r: sb.Append($" -> {r.TargetId}"); break;
                    case BtfArray a: sb.Append($" {a.ElementTypeId}[{a.Length}]"); break;
                    case BtfDataSec d: sb.Append(' ').AppendJoin(' ', d.Variables); break;
                    case BtfVar v: sb.Append($" {v.TypeId} {v.Linkage}"); break;
                    case BtfFunc f: sb.Append($" {f.ProtoId} {f.Linkage}"); break;
                    case BtfFuncProto fp: sb.Append($" ret {fp.ReturnTypeId} ").AppendJoin(' ', fp.Parameters); break;
                }
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }

    [Fact]
    public void Little_and_big_endian_builds_give_the_same_object_model()
    {
        var el = BpfObject.Load(SamplePath("bpfel"));
        var eb = BpfObject.Load(SamplePath("bpfeb"));
        Assert.False(el.IsBigEndian);
        Assert.True(eb.IsBigEndian);
        Assert.Equal(Describe(el), Describe(eb));

        // Global data holds the same values in each object's own byte order.
        var rodataEl = el.FindMap(".rodata")!.InitialData.Span;
        var rodataEb = eb.FindMap(".rodata")!.InitialData.Span;
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal((uint)(10 * (i + 1)), BinaryPrimitives.ReadUInt32LittleEndian(rodataEl[(4 * i)..]));
            Assert.Equal((uint)(10 * (i + 1)), BinaryPrimitives.ReadUInt32BigEndian(rodataEb[(4 * i)..]));
        }
        Assert.Equal(7ul, BinaryPrimitives.ReadUInt64LittleEndian(el.FindMap(".data")!.InitialData.Span));
        Assert.Equal(7ul, BinaryPrimitives.ReadUInt64BigEndian(eb.FindMap(".data")!.InitialData.Span));
    }

    [Theory]
    [InlineData("bpfel")]
    [InlineData("bpfeb")]
    public void Sample_object_matches_its_C_source(string target)
    {
        var obj = BpfObject.Load(SamplePath(target));
        Assert.Equal("Dual MIT/GPL", obj.License);
        Assert.Equal(0x050a00u, obj.KernelVersion);

        // Programs: two in SEC("xdp"), one kprobe, one tracepoint; mix and pick are .text subprograms.
        Assert.Equal(["first", "second", "probe", "on_write"], obj.Programs.Select(p => p.Name));
        var first = obj.FindProgram("first")!;
        Assert.Equal((BpfProgramType.Xdp, BpfAttachType.Xdp), (first.Type, first.ExpectedAttachType.GetValueOrDefault()));
        var probe = obj.FindProgram("probe")!;
        Assert.Equal((BpfProgramType.Kprobe, "do_sys_open"), (probe.Type, probe.AttachTarget));
        var onWrite = obj.FindProgram("on_write")!;
        Assert.Equal((BpfProgramType.Tracepoint, "syscalls/sys_enter_write"), (onWrite.Type, onWrite.AttachTarget));
        // first -> pick -> mix (depth-first); second -> mix; probe -> pick -> mix; on_write calls nothing.
        Assert.Equal(["first", "pick", "mix"], first.Functions.Select(f => f.Name));
        Assert.Equal(["second", "mix"], obj.FindProgram("second")!.Functions.Select(f => f.Name));
        Assert.Equal(["probe", "pick", "mix"], probe.Functions.Select(f => f.Name));
        Assert.Equal(["on_write"], onWrite.Functions.Select(f => f.Name));
        foreach (var p in obj.Programs)
            for (int i = 0; i < p.InstructionCount; i++)
                if (p.Instructions[i].Opcode == 0x85 && p.Instructions[i].Src == 1)
                    Assert.Contains(p.Functions, f => f.StartIndex == i + 1 + p.Instructions[i].Imm);

        // Maps, in definition order: legacy section, BTF .maps (by symbol offset), then data sections.
        var legacy = obj.FindMap("legacy")!;
        Assert.Equal((MapSource.LegacyMapsSection, BpfMapType.PerCpuArray, 4u, 16u, 8u),
            (legacy.Source, legacy.Type, legacy.KeySize, legacy.ValueSize, legacy.MaxEntries));
        var pairs = obj.FindMap("pairs")!;
        // struct pair { u32 a; u16 b; u8 flag:1, kind:3; u64 total; } = 4 + 2 + 1 (+1 pad) + 8 = 16 bytes.
        Assert.Equal((MapSource.BtfMapsSection, BpfMapType.Hash, 4u, 16u, 128u), (pairs.Source, pairs.Type, pairs.KeySize, pairs.ValueSize, pairs.MaxEntries));
        var counters = obj.FindMap("counters")!;
        Assert.Equal((BpfMapType.Array, 4u, 8u, 4u, 0u), (counters.Type, counters.KeySize, counters.ValueSize, counters.MaxEntries, counters.Flags));
        Assert.Equal(32ul, counters.SectionOffset); // pairs has 4 pointer members (32 bytes) before it
        var rodata = obj.FindMap(".rodata")!;
        Assert.Equal((16u, true), (rodata.ValueSize, rodata.IsFrozen));
        var bss = obj.FindMap(".bss")!;
        Assert.Equal((8u, 0, false), (bss.ValueSize, bss.InitialData.Length, bss.IsFrozen));
        Assert.Equal(8u, obj.FindMap(".data")!.ValueSize);
        // Global variables are placed by their symbols: limits[4] (16 bytes) in .rodata, seen in .data, zeroed in .bss.
        var limits = Assert.Single(rodata.Variables);
        Assert.Equal(("limits", 0u, 16u, true), (limits.Name, limits.Offset, limits.Size, limits.IsGlobal));
        Assert.Equal(16ul, obj.Btf!.GetSize(limits.BtfTypeId));
        Assert.Equal(("seen", 8u), (Assert.Single(obj.FindMap(".data")!.Variables).Name, Assert.Single(obj.FindMap(".data")!.Variables).Size));
        Assert.Equal("zeroed", Assert.Single(bss.Variables).Name);

        // pick (in .text) reads limits[]: a map-value reference to .rodata offset 0, moved with pick into each caller.
        int rodataIndex = obj.FindMapIndex(".rodata");
        var pick = first.Functions.Single(f => f.Name == "pick");
        var r = Assert.Single(first.MapReferences, m => m.MapIndex == rodataIndex);
        Assert.InRange(r.InstructionIndex, pick.StartIndex, pick.StartIndex + pick.Length - 1);
        Assert.Equal(MapReferenceKind.MapValue, r.Kind);
        Assert.Equal(0u, r.Offset);
        Assert.Contains(first.MapReferences, m => m.MapIndex == obj.FindMapIndex("pairs") && m.Kind == MapReferenceKind.MapFd);
        Assert.Contains(first.MapReferences, m => m.MapIndex == obj.FindMapIndex(".data") && m.Kind == MapReferenceKind.MapValue);
        var second = obj.FindProgram("second")!;
        Assert.Contains(second.MapReferences, m => m.MapIndex == obj.FindMapIndex("legacy") && m.Kind == MapReferenceKind.MapFd);
        Assert.Contains(second.MapReferences, m => m.MapIndex == obj.FindMapIndex(".bss") && m.Kind == MapReferenceKind.MapValue);

        // BTF: the bitfields of struct pair use kind_flag encoding.
        var pair = obj.Btf!.Find<BtfComposite>("pair")!;
        Assert.Equal(16u, pair.Size);
        Assert.Equal(
            [("a", 0u, 0u), ("b", 32u, 0u), ("flag", 48u, 1u), ("kind", 49u, 3u), ("total", 64u, 0u)],
            pair.Members.Select(m => (m.Name, m.BitOffset, m.BitfieldSize)));
        // Line info points into sample.c.
        Assert.All(first.LineInfos, l => Assert.EndsWith("sample.c", l.FileName));
        Assert.Contains(first.LineInfos, l => l.LineText.Contains("bpf_map_lookup_elem(&pairs", StringComparison.Ordinal));
    }

    /// <summary>Rebuilds the sample with clang-19 when it is installed and checks both byte orders again.</summary>
    [Fact]
    public void Freshly_compiled_sample_gives_the_same_model_in_both_byte_orders()
    {
        var clang = TestSupport.FindTool("clang-19");
        if (clang is null) { output.WriteLine("SKIPPED: clang-19 not installed (apt-get install clang-19)"); return; }
        var dir = Directory.CreateTempSubdirectory("bpfsharp-elf-");
        try
        {
            var src = Path.Combine(TestSupport.DataDir, "endian", "sample.c");
            var models = new List<string>();
            foreach (var t in new[] { "bpfel", "bpfeb" })
            {
                var o = Path.Combine(dir.FullName, $"sample-{t}.o");
                TestSupport.Run(clang, "-target", t, "-O2", "-g", "-mcpu=v3", "-c", src, "-o", o);
                models.Add(Describe(BpfObject.Load(o)).Replace(dir.FullName, "", StringComparison.Ordinal));
            }
            Assert.Equal(models[0], models[1]);
            output.WriteLine($"both builds describe to {models[0].Length} characters of identical model");
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
