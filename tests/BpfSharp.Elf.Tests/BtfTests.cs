using System.Buffers.Binary;
using System.Text;
using BpfSharp.Elf.Btf;
using BpfSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>The BTF parser against <c>bpftool btf dump file</c> and against facts read off the C sources.</summary>
public sealed class BtfTests(ITestOutputHelper output)
{
    /// <summary>Renders our parse in bpftool's plain-text dump format, so the two can be compared line by line.</summary>
    internal static string RenderLikeBpftool(Btf.Btf btf)
    {
        var sb = new StringBuilder();
        static string N(string n) => n.Length == 0 ? "(anon)" : n;
        static string Linkage(BtfLinkage l) => l switch { BtfLinkage.Static => "static", BtfLinkage.Global => "global", BtfLinkage.Extern => "extern", _ => $"({(int)l})" };
        for (int id = 1; id < btf.Types.Count; id++)
        {
            var t = btf[id];
            string kind = t.Kind switch
            {
                BtfKind.Pointer => "PTR", BtfKind.Forward => "FWD", BtfKind.FuncProto => "FUNC_PROTO", BtfKind.DataSec => "DATASEC",
                BtfKind.DeclTag => "DECL_TAG", BtfKind.TypeTag => "TYPE_TAG", var k => k.ToString().ToUpperInvariant(),
            };
            sb.Append($"[{id}] {kind} '{N(t.Name)}'");
            switch (t)
            {
                case BtfInt i:
                    string enc = i.Encoding switch { 0 => "(none)", 1 => "SIGNED", 2 => "CHAR", 4 => "BOOL", var e => $"({e})" };
                    sb.Append($" size={i.Size} bits_offset={i.BitOffset} nr_bits={i.Bits} encoding={enc}\n");
                    break;
                case BtfReference r:
                    sb.Append($" type_id={r.TargetId}\n");
                    break;
                case BtfArray a:
                    sb.Append($" type_id={a.ElementTypeId} index_type_id={a.IndexTypeId} nr_elems={a.Length}\n");
                    break;
                case BtfComposite c:
                    sb.Append($" size={c.Size} vlen={c.Members.Count}\n");
                    foreach (var m in c.Members)
                        sb.Append($"\t'{N(m.Name)}' type_id={m.TypeId} bits_offset={m.BitOffset}" + (m.BitfieldSize != 0 ? $" bitfield_size={m.BitfieldSize}" : "") + "\n");
                    break;
                case BtfEnum e:
                    sb.Append($" encoding={(e.IsSigned ? "SIGNED" : "UNSIGNED")} size={e.Size} vlen={e.Values.Count}\n");
                    foreach (var v in e.Values)
                    {
                        string val = e.Kind == BtfKind.Enum64
                            ? (e.IsSigned ? $"{v.Value}LL" : $"{(ulong)v.Value}ULL")
                            : (e.IsSigned ? $"{v.Value}" : $"{(uint)v.Value}");
                        sb.Append($"\t'{N(v.Name)}' val={val}\n");
                    }
                    break;
                case BtfForward f:
                    sb.Append($" fwd_kind={(f.IsUnion ? "union" : "struct")}\n");
                    break;
                case BtfFunc f:
                    sb.Append($" type_id={f.ProtoId} linkage={Linkage(f.Linkage)}\n");
                    break;
                case BtfFuncProto p:
                    sb.Append($" ret_type_id={p.ReturnTypeId} vlen={p.Parameters.Count}\n");
                    foreach (var prm in p.Parameters) sb.Append($"\t'{N(prm.Name)}' type_id={prm.TypeId}\n");
                    break;
                case BtfVar v:
                    sb.Append($" type_id={v.TypeId}, linkage={Linkage(v.Linkage)}\n");
                    break;
                case BtfDataSec d:
                    sb.Append($" size={d.Size} vlen={d.Variables.Count}\n");
                    foreach (var v in d.Variables)
                        sb.Append($"\ttype_id={v.TypeId} offset={v.Offset} size={v.Size} ({btf[v.TypeId].Kind.ToString().ToUpperInvariant()} '{btf[v.TypeId].Name}')\n");
                    break;
                case BtfFloat fl:
                    sb.Append($" size={fl.Size}\n");
                    break;
                case BtfDeclTag g:
                    sb.Append($" type_id={g.TargetId} component_idx={g.ComponentIndex}\n");
                    break;
                default:
                    sb.Append('\n');
                    break;
            }
        }
        return sb.ToString();
    }

    public static IEnumerable<object[]> BtfObjects()
    {
        yield return ["data/btf/kinds.o"];
        yield return ["data/btf/features.o"];
        yield return ["data/endian/sample-bpfel.o"];
        yield return ["data/endian/sample-bpfeb.o"];
        foreach (var n in TestSupport.BenchNames) yield return [$"bench/objs/{n}.o"];
        if (TestPaths.Shared("verifier-corpus/ebpf-samples") is { } corpus)
            foreach (var f in Directory.EnumerateFiles(corpus, "*.o", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                yield return ["verifier-corpus/ebpf-samples/" + Path.GetRelativePath(corpus, f)];
    }

    private static string? Resolve(string p) => p.StartsWith("data/", StringComparison.Ordinal)
        ? Path.Combine(TestSupport.DataDir, p[5..])
        : TestPaths.Shared(p);

    [Theory]
    [MemberData(nameof(BtfObjects))]
    public void Every_type_matches_bpftool_btf_dump(string relative)
    {
        var path = Resolve(relative);
        if (path is null) { output.WriteLine("SKIPPED: shared data absent"); return; }
        var bpftool = TestSupport.FindTool("bpftool") ?? (File.Exists("/usr/sbin/bpftool") ? "/usr/sbin/bpftool" : null);
        if (bpftool is null) { output.WriteLine("SKIPPED: bpftool not installed (apt-get install bpftool)"); return; }
        ElfFile elf;
        try { elf = ElfFile.Parse(File.ReadAllBytes(path)); }
        catch (BpfObjectException e) { output.WriteLine($"not an object we can read ({e.Message}); nothing to compare"); return; }
        var sec = elf.FindSection(".BTF");
        if (sec is null) { output.WriteLine("no .BTF section"); return; }
        string expected;
        try { expected = TestSupport.Run(bpftool, "btf", "dump", "file", path); }
        catch (InvalidOperationException e) { output.WriteLine($"bpftool cannot read it either: {e.Message}"); Assert.Throws<BpfObjectException>(() => Btf.Btf.Parse(elf.GetData(sec), elf.IsBigEndian)); return; }
        var btf = Btf.Btf.Parse(elf.GetData(sec), elf.IsBigEndian);
        var ours = RenderLikeBpftool(btf).Split('\n');
        var theirs = expected.Replace("\r", "", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < Math.Min(ours.Length, theirs.Length); i++)
            Assert.True(ours[i] == theirs[i], $"line {i + 1}: bpftool '{theirs[i]}' vs ours '{ours[i]}'");
        Assert.Equal(theirs.Length, ours.Length);
        output.WriteLine($"{btf.Types.Count - 1} types agree with bpftool");
    }

    private static BpfObject? Bench(string name) =>
        TestSupport.BenchObjs is { } d ? BpfObject.Load(Path.Combine(d, name + ".o")) : null;

    [Fact]
    public void Flow_key_members_have_the_offsets_of_the_C_declaration()
    {
        var obj = Bench("flow_counter");
        if (obj is null) { output.WriteLine("SKIPPED: bench objects absent"); return; }
        var btf = obj.Btf!;
        var key = btf.Find<BtfComposite>("flow_key")!;
        // struct flow_key { __u32 saddr; __u32 daddr; __u16 sport; __u16 dport; __u8 proto; __u8 pad[3]; } (bench_common.h)
        Assert.Equal(16u, key.Size);
        Assert.Equal([("saddr", 0u, 4ul), ("daddr", 4u, 4ul), ("sport", 8u, 2ul), ("dport", 10u, 2ul), ("proto", 12u, 1ul), ("pad", 13u, 3ul)],
            key.Members.Select(m => (m.Name, m.ByteOffset, btf.GetSize(m.TypeId))));
        Assert.Equal("__u32", btf[key.FindMember("saddr")!.Value.TypeId].Name);
        Assert.Equal(BtfKind.Int, btf.SkipModifiers(key.FindMember("saddr")!.Value.TypeId).Kind);
        var pad = Assert.IsType<BtfArray>(btf[key.FindMember("pad")!.Value.TypeId]);
        Assert.Equal(3u, pad.Length);
        // The map value: struct flow_stats { __u64 packets; __u64 bytes; }.
        var stats = btf.Find<BtfComposite>("flow_stats")!;
        Assert.Equal([("packets", 0u), ("bytes", 8u)], stats.Members.Select(m => (m.Name, m.ByteOffset)));
        // The .maps DATASEC names the map variable.
        var maps = btf.Find<BtfDataSec>(".maps")!;
        Assert.Equal("flows", btf[Assert.Single(maps.Variables).TypeId].Name);
    }

    [Fact]
    public void Line_info_points_at_the_C_source_of_the_map_lookup()
    {
        var obj = Bench("flow_counter");
        if (obj is null) { output.WriteLine("SKIPPED: bench objects absent"); return; }
        var p = obj.Programs[0];
        var lookupCall = p.MapReferences[0].InstructionIndex;
        var line = p.FindLine(lookupCall)!.Value;
        Assert.EndsWith("flow_counter.c", line.FileName);
        // flow_counter.c: "struct flow_stats *st = bpf_map_lookup_elem(&flows, &k);" is line 33 (grep -n).
        Assert.Contains("bpf_map_lookup_elem(&flows, &k)", line.LineText);
        Assert.Equal(33, line.Line);
        Assert.True(line.Column > 0);
    }

    [Fact]
    public void Kinds_object_has_every_kind_with_the_layout_of_its_C_source()
    {
        var obj = BpfObject.Load(Path.Combine(TestSupport.DataDir, "btf", "kinds.o"));
        var btf = obj.Btf!;
        var kinds = btf.Types.Skip(1).Select(t => t.Kind).ToHashSet();
        foreach (var k in Enum.GetValues<BtfKind>().Where(k => k != BtfKind.Void))
            Assert.Contains(k, kinds);

        var holder = btf.Find<BtfComposite>("holder")!;
        // int(4) pad(4) ptr ptr ptr union(4) enum(4) enum64(8) ptr bits:5 (in a 4-byte unit, pad 4) double u64[3][2]
        Assert.Equal(120u, holder.Size);
        Assert.Equal([0u, 8, 16, 24, 32, 36, 40, 48, 56, 64, 72], holder.Members.Select(m => m.ByteOffset));
        var bits = holder.FindMember("bits")!.Value;
        Assert.Equal((448u, 5u), (bits.BitOffset, bits.BitfieldSize));
        Assert.Equal(48ul, btf.GetSize(holder.FindMember("arr")!.Value.TypeId));
        Assert.Equal(8ul, btf.GetSize(holder.FindMember("d")!.Value.TypeId));
        Assert.Equal(BtfKind.Volatile, btf[holder.FindMember("v")!.Value.TypeId].Kind);
        Assert.Equal(BtfKind.Int, btf.SkipModifiers(holder.FindMember("v")!.Value.TypeId).Kind);

        var small = btf.Find<BtfEnum>("small")!;
        Assert.True(small.IsSigned);
        Assert.Equal([("SMALL_A", -1L), ("SMALL_B", 7L)], small.Values.Select(v => (v.Name, v.Value)));
        var big = btf.Find<BtfEnum>("big")!;
        Assert.Equal(BtfKind.Enum64, big.Kind);
        Assert.Equal(0x123456789aL, big.Values[0].Value);
        Assert.True(btf.Find<BtfForward>("opaque") is { IsUnion: false });
        Assert.True(btf.Find<BtfComposite>("either") is { IsUnion: true, Size: 4 });
        Assert.Equal("user", btf.Types.OfType<BtfReference>().Single(t => t.Kind == BtfKind.TypeTag).Name);
        var narrow = btf.Find<BtfDeclTag>("narrow")!;
        Assert.Equal((holder.Id, 8), (narrow.TargetId, narrow.ComponentIndex));
        Assert.Equal(-1, btf.Find<BtfDeclTag>("counted")!.ComponentIndex);

        // .data.holder is its own global-data map; the program reads holder through it.
        var dataHolder = obj.FindMap(".data.holder")!;
        Assert.Equal((120u, false), (dataHolder.ValueSize, dataHolder.IsFrozen));
        var prog = Assert.Single(obj.Programs);
        Assert.Equal((BpfProgramType.SocketFilter, (BpfAttachType?)null), (prog.Type, prog.ExpectedAttachType));
        Assert.Equal(["prog", "helper"], prog.Functions.Select(f => f.Name));
    }

    /// <summary>A tiny BTF writer for hostile inputs (little-endian).</summary>
    private static byte[] BuildBtf(uint[] typeWords, string strings = "\0a\0")
    {
        var str = Encoding.ASCII.GetBytes(strings);
        var b = new byte[24 + typeWords.Length * 4 + str.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(b, 0xEB9F);
        b[2] = 1;
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), 24);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), (uint)(typeWords.Length * 4));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), (uint)(typeWords.Length * 4));
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), (uint)str.Length);
        for (int i = 0; i < typeWords.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24 + 4 * i), typeWords[i]);
        str.CopyTo(b, 24 + typeWords.Length * 4);
        return b;
    }

    private static uint Info(BtfKind kind, int vlen = 0, bool kindFlag = false) => ((uint)kind << 24) | (uint)vlen | (kindFlag ? 1u << 31 : 0);

    public static TheoryData<string, uint[], string> HostileBtf() => new()
    {
        // typedef 1 -> typedef 2 -> typedef 1: size resolution must stop.
        { "typedef cycle", [1, Info(BtfKind.Typedef), 2, 1, Info(BtfKind.Typedef), 1], "deeper than" },
        // int, then an array of 2^32-1 arrays of 2^32-1 ints: size overflows 64 bits.
        { "array size overflow", [1, Info(BtfKind.Int), 8, 64, 0, Info(BtfKind.Array), 0, 1, 1, 0xffffffff, 0, Info(BtfKind.Array), 0, 2, 1, 0xffffffff], "overflows" },
        // A struct claiming 65535 members in a 12-byte type section.
        { "vlen beyond data", [1, Info(BtfKind.Struct, 0xffff), 4], "more bytes" },
        // A pointer to type 99 when there is one type.
        { "dangling reference", [0, Info(BtfKind.Pointer), 99], "refers to type 99" },
        // Unknown kind 31.
        { "unknown kind", [0, 31u << 24, 0], "unknown kind" },
        // Name offset outside the string section.
        { "bad name", [1000, Info(BtfKind.Int), 4, 32], "bad name" },
    };

    [Theory]
    [MemberData(nameof(HostileBtf))]
    public void Hostile_btf_gives_a_typed_error(string what, uint[] words, string mentions)
    {
        var e = Assert.Throws<BpfObjectException>(() =>
        {
            var btf = Btf.Btf.Parse(BuildBtf(words), bigEndian: false);
            for (int id = 1; id < btf.Types.Count; id++) btf.GetSize(id);
        });
        output.WriteLine($"{what}: {e.Message}");
        Assert.Contains(mentions, e.Message);
    }

    [Fact]
    public void Hand_built_btf_resolves_sizes_through_typedefs_and_arrays()
    {
        // [1] int (4 bytes) ; [2] typedef 'a' -> 1 ; [3] const -> 2 ; [4] array of 3 x [3] ; [5] ptr -> 4
        var btf = Btf.Btf.Parse(BuildBtf([
            0, Info(BtfKind.Int), 4, 32,
            1, Info(BtfKind.Typedef), 1,
            0, Info(BtfKind.Const), 2,
            0, Info(BtfKind.Array), 0, 3, 1, 3,
            0, Info(BtfKind.Pointer), 4]), bigEndian: false);
        Assert.Equal([0ul, 4, 4, 4, 12, 8], Enumerable.Range(0, 6).Select(i => i == 0 ? 0ul : btf.GetSize(i)));
        Assert.Equal(1, btf.SkipModifiers(3).Id);
        Assert.Equal("a", btf[2].Name);
        Assert.Same(btf[2], Assert.Single(btf.FindByName("a")));
        Assert.Throws<BpfObjectException>(() => btf.GetSize(0));
    }
}
