using BpfSharp.Isa;
using System.Buffers.Binary;
using BpfSharp.Elf.Btf;
using BpfSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>The nine benchmark objects load with the programs and maps their C sources define.</summary>
public sealed class BenchObjectTests(ITestOutputHelper output)
{
    private BpfObject? LoadBench(string name)
    {
        if (TestSupport.BenchObjs is not { } dir) { output.WriteLine("SKIPPED: shared bench objects are absent"); return null; }
        return BpfObject.Load(Path.Combine(dir, name + ".o"));
    }

    public static IEnumerable<object[]> Names() => TestSupport.BenchNames.Select(n => new object[] { n });

    /// <summary>Every bench source is one SEC("xdp") program named like the file, GPL, little-endian (manifest.json).</summary>
    [SharedDataTheory("bench/objs")]
    [MemberData(nameof(Names))]
    public void Each_bench_object_has_one_xdp_program_named_like_the_file(string name)
    {
        var obj = LoadBench(name);
        if (obj is null) return;
        var prog = Assert.Single(obj.Programs);
        Assert.Equal(name, prog.Name);
        Assert.Equal("xdp", prog.SectionName);
        Assert.Equal(BpfProgramType.Xdp, prog.Type);
        Assert.Equal(BpfAttachType.Xdp, prog.ExpectedAttachType);
        Assert.Null(prog.AttachTarget);
        Assert.Equal("GPL", obj.License);
        Assert.False(obj.IsBigEndian);
        Assert.Null(obj.BtfError);
        Assert.NotNull(obj.Btf);
        Assert.Contains(prog.Instructions[^1].Opcode, new byte[] { 0x95, 0x05 }); // a function ends in exit or a backward ja
        // The linked program is at least the FUNC symbol's size (size / 8 slots).
        var sym = obj.Elf.Symbols.Single(s => s.Name == name && s.Type == ElfSymbolType.Func);
        Assert.Equal((int)(sym.Size / 8), prog.Functions[0].Length);
        Assert.NotEmpty(prog.LineInfos);
        Assert.Equal(0, prog.FuncInfos[0].InstructionIndex);
        Assert.Equal(name, Assert.IsType<BtfFunc>(obj.Btf![prog.FuncInfos[0].TypeId]).Name);
    }

    [SharedDataFact("bench/objs")]
    public void Flow_counter_has_a_hash_map_16_by_16_with_4096_entries_referenced_twice()
    {
        var obj = LoadBench("flow_counter");
        if (obj is null) return;
        var map = Assert.Single(obj.Maps);
        Assert.Equal("flows", map.Name);
        Assert.Equal(MapSource.BtfMapsSection, map.Source);
        Assert.Equal(BpfMapType.Hash, map.Type);
        Assert.Equal(16u, map.KeySize);
        Assert.Equal(16u, map.ValueSize);
        Assert.Equal(4096u, map.MaxEntries);
        Assert.Equal("flow_key", obj.Btf![map.BtfKeyTypeId].Name);
        Assert.Equal("flow_stats", obj.Btf[map.BtfValueTypeId].Name);
        // llvm-readelf -r: two R_BPF_64_64 against 'flows' at byte offsets 0x228 and 0x2c8 of section xdp.
        var prog = obj.Programs[0];
        Assert.Equal([new MapReference(0x228 / 8, 0, MapReferenceKind.MapFd, 0), new MapReference(0x2c8 / 8, 0, MapReferenceKind.MapFd, 0)],
            prog.MapReferences);
        foreach (var r in prog.MapReferences)
        {
            Assert.Equal(0x18, prog.Instructions[r.InstructionIndex].Opcode);
            Assert.Equal(1, prog.Instructions[r.InstructionIndex].Src); // BPF_PSEUDO_MAP_FD
            Assert.Equal(0, prog.Instructions[r.InstructionIndex].Imm);
        }
    }

    [SharedDataFact("bench/objs")]
    public void Array_scan_has_an_array_of_256_u64_indexed_by_u32()
    {
        var obj = LoadBench("array_scan");
        if (obj is null) return;
        var map = Assert.Single(obj.Maps);
        Assert.Equal("table", map.Name);
        Assert.Equal(BpfMapType.Array, map.Type);
        Assert.Equal(4u, map.KeySize);
        Assert.Equal(8u, map.ValueSize);
        Assert.Equal(256u, map.MaxEntries);
        Assert.NotEmpty(obj.Programs[0].MapReferences);
    }

    [SharedDataFact("bench/objs")]
    public void Firewall_rodata_is_a_frozen_one_entry_array_holding_64_rules()
    {
        var obj = LoadBench("firewall_64");
        if (obj is null) return;
        var map = Assert.Single(obj.Maps);
        Assert.Equal(".rodata", map.Name);
        Assert.Equal(MapSource.GlobalData, map.Source);
        Assert.Equal(BpfMapType.Array, map.Type);
        Assert.True(map.IsFrozen);
        Assert.NotEqual(0u, map.Flags & BpfMapFlags.ReadOnlyProgram);
        Assert.Equal(4u, map.KeySize);
        Assert.Equal(1u, map.MaxEntries);
        // struct fw_rule: 4 x u32 + 2 x u16 + 2 x u8 + u16 pad = 24 bytes; 64 rules.
        Assert.Equal(64u * 24, map.ValueSize);
        Assert.Equal(64 * 24, map.InitialData.Length);
        var d = map.InitialData.Span;
        // Rule 0: RULE(IP4(10,0,0,0), IP4(255,255,0,0), 0, 0, 0, 65535, IPPROTO_TCP_, XDP_DROP)
        Assert.Equal(10u, BinaryPrimitives.ReadUInt32LittleEndian(d));
        Assert.Equal(0x0000ffffu, BinaryPrimitives.ReadUInt32LittleEndian(d[4..]));
        Assert.Equal((ushort)65535, BinaryPrimitives.ReadUInt16LittleEndian(d[18..]));
        Assert.Equal(6, d[20]);  // TCP
        Assert.Equal(1, d[21]);  // XDP_DROP
        // Rule 3 matches dport 1003 only.
        Assert.Equal((ushort)1003, BinaryPrimitives.ReadUInt16LittleEndian(d[(3 * 24 + 16)..]));
        Assert.Equal((ushort)1003, BinaryPrimitives.ReadUInt16LittleEndian(d[(3 * 24 + 18)..]));

        var refs = obj.Programs[0].MapReferences;
        Assert.NotEmpty(refs);
        Assert.All(refs, r =>
        {
            Assert.Equal(MapReferenceKind.MapValue, r.Kind);
            Assert.True(r.Offset < 64 * 24);
            var insns = obj.Programs[0].Instructions;
            Assert.Equal(2, insns[r.InstructionIndex].Src); // BPF_PSEUDO_MAP_VALUE
            Assert.Equal((int)r.Offset, insns[r.InstructionIndex + 1].Imm);
        });

        // BTF: DATASEC '.rodata' holds VAR 'rules' at offset 0, 1536 bytes (bpftool btf dump).
        var ds = obj.Btf!.Find<BtfDataSec>(".rodata")!;
        var v = Assert.Single(ds.Variables);
        Assert.Equal(0u, v.Offset);
        Assert.Equal(1536u, v.Size);
        var rules = Assert.IsType<BtfVar>(obj.Btf[v.TypeId]);
        Assert.Equal("rules", rules.Name);
        Assert.Equal(1536ul, obj.Btf.GetSize(rules.Id));
        Assert.Equal(ds.Id, map.BtfValueTypeId);
    }

    [SharedDataFact("bench/objs")]
    public void Bpf_calls_links_the_text_subprograms_depth_first_like_libbpf()
    {
        var obj = LoadBench("bpf_calls");
        if (obj is null) return;
        var p = obj.Programs[0];
        // From llvm-objdump -d: bpf_calls is 20 slots; .text holds mix_round [0,25), finalize [25,30), fmix64 [30,46).
        // bpf_calls calls mix_round (insn 10) and finalize (insn 18); mix_round and finalize call fmix64.
        // libbpf appends depth-first: mix_round, then fmix64 (called from it), then finalize.
        Assert.Equal(
            [new ProgramFunction("bpf_calls", "xdp", 0, 20), new ProgramFunction("mix_round", ".text", 20, 25),
             new ProgramFunction("fmix64", ".text", 45, 16), new ProgramFunction("finalize", ".text", 61, 5)],
            p.Functions);
        Assert.Equal(66, p.InstructionCount);
        Assert.Equal(20 - 10 - 1, p.Instructions[10].Imm);
        Assert.Equal(61 - 18 - 1, p.Instructions[18].Imm);
        Assert.Equal(45 - (20 + 21) - 1, p.Instructions[20 + 21].Imm);
        Assert.Equal(45 - (61 + 2) - 1, p.Instructions[61 + 2].Imm);
        // The appended bodies are the .text bytes unchanged except call immediates.
        var text = obj.Elf.GetData(obj.Elf.FindSection(".text")!);
        var textInsns = Isa.RawInstruction.FromBytes(text);
        foreach (var f in p.Functions.Skip(1))
        {
            int start = f.Name switch { "mix_round" => 0, "finalize" => 25, _ => 30 };
            for (int i = 0; i < f.Length; i++)
            {
                var a = textInsns[start + i];
                var b = p.Instructions[f.StartIndex + i];
                Assert.Equal(a.Opcode, b.Opcode);
                if (a.Opcode != 0x85) Assert.Equal(a, b);
            }
        }
        // Line info follows the functions to their new places: each function's first line_info is at its start.
        foreach (var f in p.Functions) Assert.Contains(p.LineInfos, l => l.InstructionIndex == f.StartIndex);
        Assert.Equal(4, p.FuncInfos.Count);
    }
}
