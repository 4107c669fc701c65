using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Isa.Tests;

/// <summary>
/// Disassembly compared line by line with llvm-objdump-19 output stored under golden/ (see golden/README.md),
/// and llvm-objdump's text assembled back. Lines are compared after collapsing runs of whitespace; nothing else is
/// normalised: addresses, symbol headers and the <c>&lt;sym+0x..&gt;</c> target annotations must match exactly.
/// </summary>
public sealed class GoldenTests(ITestOutputHelper output)
{
    private static readonly string GoldenDir = Path.Combine(BpfSharp.Testing.TestPaths.RepoRoot, "tests", "BpfSharp.Isa.Tests", "golden");
    private static readonly string BenchDir = Path.Combine(GoldenDir, "bench");

    public static TheoryData<string, bool> Objects()
    {
        var data = new TheoryData<string, bool>();
        foreach (var path in Directory.GetFiles(BenchDir, "*.o").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(path), false);
            data.Add(Path.GetFileName(path), true);
        }
        return data;
    }

    private static string GoldenName(string obj, bool v4) => Path.ChangeExtension(obj, v4 ? ".v4.dis" : ".dis");

    [Fact]
    public void Golden_set_covers_the_nine_bench_objects_and_the_v4_feature_object()
    {
        var names = Directory.GetFiles(BenchDir, "*.o").Select(Path.GetFileName).ToHashSet();
        Assert.Equal(10, names.Count);
        Assert.Contains("features_v4.o", names);
        foreach (var n in names)
        {
            Assert.True(File.Exists(Path.Combine(BenchDir, GoldenName(n!, false))), n);
            Assert.True(File.Exists(Path.Combine(BenchDir, GoldenName(n!, true))), n);
        }
    }

    /// <summary>
    /// The golden lines we must print. Known deviation: llvm-objdump without --mcpu=v3 cannot decode 32-bit atomics
    /// other than add ("&lt;unknown&gt;") and prints a 32-bit fetch-add as a plain add; there our default spelling is
    /// what llvm-objdump prints with --mcpu=v4. Returns the number of such lines.
    /// </summary>
    private static (List<ListingLine> Lines, int Deviations) Expected(string defaultText, string v4Text, bool v4, bool rawBytes = false)
    {
        var v4Lines = Listing.Parse(v4Text, rawBytes);
        if (v4) return (v4Lines, 0);
        var lines = Listing.Parse(defaultText, rawBytes);
        Assert.Equal(v4Lines.Count, lines.Count);
        int deviations = 0;
        for (int i = 0; i < lines.Count; i++)
        {
            if (!lines[i].IsHeader && lines[i].Text != v4Lines[i].Text && ObjdumpLoss.IsNarrowAtomicPlainCpuMisprints(v4Lines[i].Text))
            {
                lines[i] = v4Lines[i];
                deviations++;
            }
        }
        return (lines, deviations);
    }

    private static (List<ListingLine> Lines, int Deviations) ExpectedForObject(string obj, bool v4) =>
        Expected(File.ReadAllText(Path.Combine(BenchDir, GoldenName(obj, false))), File.ReadAllText(Path.Combine(BenchDir, GoldenName(obj, true))), v4);

    [Theory]
    [MemberData(nameof(Objects))]
    public void Object_disassembly_matches_llvm_objdump(string obj, bool v4)
    {
        var (expected, deviations) = ExpectedForObject(obj, v4);
        var actual = new List<ListingLine>();
        foreach (var section in MiniElf.ReadCodeSections(File.ReadAllBytes(Path.Combine(BenchDir, obj))))
        {
            // Unrelocated objects hold calls whose targets lie in other sections, so disassemble raw slots.
            var text = LlvmDisassembler.Disassemble(RawInstruction.FromBytes(section.Bytes),
                new LlvmDisassemblyOptions { Alu32Registers = v4, Symbols = section.SymbolsBySlot }, section.Name);
            actual.AddRange(Listing.Parse(text, section: section.Name));
        }
        AssertSameLines(expected, actual);
        output.WriteLine($"{obj}{(v4 ? " --mcpu=v4" : "")}: {expected.Count(l => !l.IsHeader)} instruction lines match ({deviations} 32-bit atomics in v4 spelling)");
    }

    [Theory]
    [MemberData(nameof(Objects))]
    public void Object_listing_assembles_back_to_the_section_bytes(string obj, bool v4)
    {
        var (listing, _) = ExpectedForObject(obj, v4);
        foreach (var section in MiniElf.ReadCodeSections(File.ReadAllBytes(Path.Combine(BenchDir, obj))))
        {
            var source = Listing.ToSource(listing.Where(l => l.Section == section.Name));
            var program = LlvmAssembler.Assemble(source);
            // llvm-objdump prints a relocated local call ("call -0x1", src 1) like a helper call: the only loss here.
            Assert.Equal(ObjdumpLoss.ApplyToBytes(section.Bytes), program.ToBytes());
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_table_row_disassembles_like_llvm_objdump(bool v4)
    {
        var (bytes, expected, deviations) = LoadSynthetic(v4);
        var program = Decoder.Decode(bytes);
        var ours = Listing.Parse(LlvmDisassembler.Disassemble(program, new LlvmDisassemblyOptions { Alu32Registers = v4 }));
        AssertSameLines(expected, ours);
        var covered = program.Instructions.ToArray().Select(i => i.Op).Where(o => o != Op.LddwHigh).Distinct().Count();
        Assert.Equal(RandomPrograms.ExecutableRows.Length, covered);
        output.WriteLine($"{expected.Count(l => !l.IsHeader)} instructions covering all {covered} rows match; {deviations} 32-bit atomics in v4 spelling");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_table_row_assembles_from_llvm_objdump_text(bool v4)
    {
        var (bytes, lines, _) = LoadSynthetic(v4);
        var program = LlvmAssembler.Assemble(Listing.ToSource(lines));
        Assert.Equal(ObjdumpLoss.ApplyToBytes(bytes), program.ToBytes());
    }

    [Fact]
    public void Golden_files_match_llvm_objdump_when_present()
    {
        if (LlvmTools.Objdump is null || LlvmTools.Mc is null)
        {
            output.WriteLine("SKIPPED: llvm-objdump-19 / llvm-mc-19 not installed (apt-get install llvm-19)");
            return;
        }
        int files = 0;
        foreach (var (name, text) in DeriveGoldenFiles())
        {
            Assert.Equal(File.ReadAllText(Path.Combine(GoldenDir, name)), text);
            files++;
        }
        output.WriteLine($"{files} golden files re-derived with llvm-objdump-19 and identical");
    }

    [Fact]
    public void Regenerate()
    {
        if (Environment.GetEnvironmentVariable("BPFSHARP_REGEN_GOLDEN") != "1")
        {
            output.WriteLine("set BPFSHARP_REGEN_GOLDEN=1 to rewrite the golden files");
            return;
        }
        foreach (var (name, text) in DeriveGoldenFiles()) File.WriteAllText(Path.Combine(GoldenDir, name), text);
    }

    [Fact]
    public void Llvm_mc_assembles_our_text_to_the_same_bytes_as_our_assembler()
    {
        if (LlvmTools.Mc is null)
        {
            output.WriteLine("SKIPPED: llvm-mc-19 not installed");
            return;
        }
        // Default spelling (what llvm-mc reads), without addresses and annotations, w registers where v4 uses them.
        var rng = new Random(7);
        var options = new LlvmDisassemblyOptions { Alu32Registers = true, ShowAddresses = false, AnnotateTargets = false, Symbols = new Dictionary<int, string>() };
        int total = 0;
        for (int round = 0; round < 5; round++)
        {
            var program = BpfProgram.FromInstructions(RandomPrograms.Generate(rng, 400));
            var text = LlvmDisassembler.Disassemble(program, options);
            var ours = LlvmAssembler.Assemble(text).ToBytes();
            Assert.Equal(ours, LlvmTools.McEncode(text));
            total += program.Count;
        }
        output.WriteLine($"{total} slots: llvm-mc-19 and LlvmAssembler agree byte for byte");
    }

    private static void AssertSameLines(List<ListingLine> expected, List<ListingLine> actual)
    {
        int n = Math.Min(expected.Count, actual.Count);
        for (int i = 0; i < n; i++)
            Assert.True(expected[i].ToString() == actual[i].ToString(),
                $"line {i} (section {expected[i].Section}): expected '{expected[i]}', got '{actual[i]}'");
        Assert.Equal(expected.Count, actual.Count);
    }

    private static (byte[] Bytes, List<ListingLine> Lines, int Deviations) LoadSynthetic(bool v4)
    {
        var (lines, deviations) = Expected(File.ReadAllText(Path.Combine(GoldenDir, "synthetic.dis")),
            File.ReadAllText(Path.Combine(GoldenDir, "synthetic.v4.dis")), v4, rawBytes: true);
        var bytes = lines.Where(l => !l.IsHeader).SelectMany(l => l.Bytes!).ToArray();
        return (bytes, lines, deviations);
    }

    /// <summary>The seeded program of the synthetic golden: every executable row three times, shuffled.</summary>
    internal static byte[] SyntheticProgram()
    {
        var rng = new Random(20260101);
        var rows = RandomPrograms.ExecutableRows.SelectMany(r => new[] { r, r, r }).OrderBy(_ => rng.Next()).ToArray();
        var slots = new int[rows.Length];
        int slot = 0;
        for (int i = 0; i < rows.Length; i++) { slots[i] = slot; slot += rows[i].Width; }
        var instructions = new Instruction[rows.Length];
        for (int i = 0; i < rows.Length; i++)
            instructions[i] = RandomPrograms.Fill(rows[i], rng, slots[i], slots[rng.Next(rows.Length)]);
        return BpfProgram.FromInstructions(instructions).ToBytes();
    }

    private static IEnumerable<(string Name, string Text)> DeriveGoldenFiles()
    {
        foreach (var path in Directory.GetFiles(BenchDir, "*.o").Order(StringComparer.Ordinal))
        {
            var obj = Path.GetFileName(path);
            yield return (Path.Combine("bench", GoldenName(obj, false)), LlvmTools.Run(LlvmTools.Objdump!, BenchDir, "-d", "--no-show-raw-insn", obj));
            yield return (Path.Combine("bench", GoldenName(obj, true)), LlvmTools.Run(LlvmTools.Objdump!, BenchDir, "-d", "--no-show-raw-insn", "--mcpu=v4", obj));
        }
        var bytes = SyntheticProgram();
        yield return ("synthetic.dis", LlvmTools.ObjdumpOfBytes(bytes, v4: false));
        yield return ("synthetic.v4.dis", LlvmTools.ObjdumpOfBytes(bytes, v4: true));
    }
}
