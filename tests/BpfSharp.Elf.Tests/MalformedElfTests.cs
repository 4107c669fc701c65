using System.Buffers.Binary;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>Targeted corruptions of data/endian/sample-bpfel.o, each with the error it must produce.</summary>
public sealed class MalformedElfTests(ITestOutputHelper output)
{
    private static readonly byte[] Original = File.ReadAllBytes(Path.Combine(TestSupport.DataDir, "endian", "sample-bpfel.o"));
    private static readonly ElfFile Elf = ElfFile.Parse(Original);

    private static long ShOff => (long)BinaryPrimitives.ReadUInt64LittleEndian(Original.AsSpan(40));
    private static long SectionHeader(string name) => ShOff + 64L * Elf.FindSection(name)!.Index;
    private static long Symbol(string name) => (long)Elf.FindSection(".symtab")!.Offset + 24L * Elf.Symbols.First(s => s.Name == name).Index;
    private static long Relocation(string relSection, int i) => (long)Elf.FindSection(relSection)!.Offset + 16L * i;

    private static byte[] With(Action<byte[]> change)
    {
        var b = (byte[])Original.Clone();
        change(b);
        return b;
    }

    private static Action<byte[]> U16(long at, ushort v) => b => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan((int)at), v);
    private static Action<byte[]> U32(long at, uint v) => b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan((int)at), v);
    private static Action<byte[]> U64(long at, ulong v) => b => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan((int)at), v);

    /// <summary>The .text instruction index of the call from pick to mix (pc-relative, no relocation).</summary>
    private static long PickCallsMix()
    {
        var text = Elf.FindSection(".text")!;
        var insns = Isa.RawInstruction.FromBytes(Elf.GetData(text));
        for (int i = 0; i < insns.Length; i++)
            if (insns[i].Opcode == 0x85 && insns[i].Src == 1) return (long)text.Offset + 8L * i;
        throw new InvalidOperationException("no local call in .text");
    }

    /// <summary>The call immediate that makes pick's call land two slots into mix.</summary>
    private static uint IntoMixMiddle()
    {
        long callIndex = (PickCallsMix() - (long)Elf.FindSection(".text")!.Offset) / 8;
        long mixStart = (long)Elf.Symbols.First(s => s.Name == "mix").Value / 8;
        return unchecked((uint)(mixStart + 2 - (callIndex + 1)));
    }

    public static TheoryData<string, string> Cases() => new()
    {
        { "empty file", "shorter than the 64-byte ELF64 header" },
        { "bad magic", "not an ELF file" },
        { "ELFCLASS32", "only ELF64" },
        { "bad data encoding", "data encoding" },
        { "x86-64 machine", "not EM_BPF" },
        { "executable type", "relocatable" },
        { "section headers past the end", "section header table" },
        { "65535 section headers", "extends past the end" },
        { "wrong e_shentsize", "e_shentsize is 40" },
        { "section name table index out of range", "section name table index" },
        { "huge .text size", "section 2 data" },
        { "huge .text offset", "extends past the end" },
        { "symbol name outside .strtab", "symbol" },
        { "relocation symbol index out of range", "refers to symbol" },
        { "relocation between instructions", "does not point at an instruction" },
        { "relocation on an ALU instruction", "neither lddw nor call" },
        { "relocation type R_BPF_64_ABS32 on code", "relocation type 3" },
        { "local call far outside .text", "outside section '.text'" },
        { "local call into another function's middle", "not the start of a function" },
        { "function size beyond its section", "does not fit" },
        { "legacy map symbol beyond the maps section", "extends past the section" },
        { "broken BTF with BTF-defined maps", "BTF-defined maps need valid .BTF" },
        { "truncated in the section headers", "extends past the end" },
        { "version section of 2 bytes", "exactly 4 bytes" },
    };

    private static byte[] Build(string what) => what switch
    {
        "empty file" => [],
        "bad magic" => With(b => b[1] = (byte)'X'),
        "ELFCLASS32" => With(b => b[4] = 1),
        "bad data encoding" => With(b => b[5] = 3),
        "x86-64 machine" => With(U16(18, 62)),
        "executable type" => With(U16(16, 2)),
        "section headers past the end" => With(U64(40, (ulong)Original.Length)),
        "65535 section headers" => With(U16(60, 0xffff)),
        "wrong e_shentsize" => With(U16(58, 40)),
        "section name table index out of range" => With(U16(62, 0xfff0)),
        "huge .text size" => With(U64(SectionHeader(".text") + 32, ulong.MaxValue)),
        "huge .text offset" => With(U64(SectionHeader(".text") + 24, 0x7fff_ffff_ffff_fff0)),
        "symbol name outside .strtab" => With(U32(Symbol("mix"), 0xffff_fff0)),
        "relocation symbol index out of range" => With(U64(Relocation(".relxdp", 0) + 8, (0xffffUL << 32) | 1)),
        "relocation between instructions" => With(U64(Relocation(".relxdp", 0), 0x23)),
        "relocation on an ALU instruction" => With(U64(Relocation(".relxdp", 0), 0)),
        "relocation type R_BPF_64_ABS32 on code" => With(b =>
        {
            ulong info = BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan((int)Relocation(".relxdp", 0) + 8));
            BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan((int)Relocation(".relxdp", 0) + 8), (info & ~0xffffffffUL) | 3);
        }),
        "local call far outside .text" => With(U32(PickCallsMix() + 4, 0x7fff_0000)),
        "local call into another function's middle" => With(U32(PickCallsMix() + 4, IntoMixMiddle())),
        "function size beyond its section" => With(U64(Symbol("mix") + 16, 0x10000)),
        "legacy map symbol beyond the maps section" => With(U64(Symbol("legacy") + 8, 0x1000)),
        "broken BTF with BTF-defined maps" => With(U32((long)Elf.FindSection(".BTF")!.Offset + 12, 0x7fff_ffff)),
        "truncated in the section headers" => Original.AsSpan(0, (int)ShOff + 100).ToArray(),
        "version section of 2 bytes" => With(U64(SectionHeader("version") + 32, 2)),
        _ => throw new ArgumentException(what),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Corruption_gives_a_typed_error_naming_the_problem(string what, string mentions)
    {
        var e = Assert.Throws<BpfObjectException>(() => BpfObject.Load(Build(what), "sample"));
        output.WriteLine($"{what}: {e.Message}");
        Assert.Contains(mentions, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_uncorrupted_sample_loads()
    {
        Assert.Equal(4, BpfObject.Load(Original, "sample").Programs.Count);
    }

    [Fact]
    public void A_huge_bss_is_described_without_allocating_it()
    {
        // .bss is NOBITS: its size is not backed by the file, so a 1 GiB .bss must not allocate 1 GiB.
        var bytes = With(U64(SectionHeader(".bss") + 32, 1UL << 30));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var obj = BpfObject.Load(bytes, "sample");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
        var bss = obj.FindMap(".bss")!;
        Assert.Equal(1u << 30, bss.ValueSize);
        Assert.True(bss.InitialData.IsEmpty);
        // ... and a .bss beyond what a map value can be is a typed error.
        var tooBig = With(U64(SectionHeader(".bss") + 32, 1UL << 40));
        Assert.Contains("larger than a map value", Assert.Throws<BpfObjectException>(() => BpfObject.Load(tooBig)).Message);
    }
}
