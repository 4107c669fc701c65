using BpfSharp.Isa;
using BpfSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>
/// The linked programs are well-formed for the ISA decoder (a separate module): every call lands on an instruction,
/// lddw pairs are intact and the pseudo sources set by relocation are valid.
/// </summary>
public sealed class IsaDecodeTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> OwnObjects()
    {
        yield return ["data/endian/sample-bpfel.o"];
        yield return ["data/endian/sample-bpfeb.o"];
        yield return ["data/btf/kinds.o"];
        yield return ["data/btf/features.o"];
        foreach (var n in TestSupport.BenchNames) yield return [$"bench/objs/{n}.o"];
    }

    [Theory]
    [MemberData(nameof(OwnObjects))]
    public void Every_linked_program_decodes(string relative)
    {
        var path = relative.StartsWith("data/", StringComparison.Ordinal) ? Path.Combine(TestSupport.DataDir, relative[5..]) : TestPaths.Shared("bench/" + relative[6..]);
        if (path is null) { output.WriteLine("SKIPPED: shared bench objects absent"); return; }
        foreach (var p in BpfObject.Load(path).Programs)
        {
            var decoded = Decoder.Decode(p.Instructions, p.Name);
            Assert.Equal(p.InstructionCount, decoded.Count);
            // The decoder finds a function at every place the linker put one.
            foreach (var f in p.Functions) Assert.Contains(f.StartIndex, decoded.FunctionStarts);
        }
    }

    [SharedDataFact("verifier-corpus/ebpf-samples")]
    public void Corpus_programs_that_decode()
    {
        if (TestPaths.Shared("verifier-corpus/ebpf-samples") is not { } dir) { output.WriteLine("SKIPPED: corpus absent"); return; }
        int programs = 0, decoded = 0;
        foreach (var f in Directory.EnumerateFiles(dir, "*.o", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            BpfObject obj;
            try { obj = BpfObject.Load(f); } catch (BpfObjectException) { continue; }
            foreach (var p in obj.Programs)
            {
                programs++;
                if (Decoder.TryDecode(p.Instructions, p.Name, out _, out var error)) decoded++;
                else output.WriteLine($"{Path.GetRelativePath(dir, f)} {p.Name}: {error}");
            }
        }
        output.WriteLine($"{decoded} of {programs} corpus programs decode");
        Assert.True(decoded > programs * 9 / 10);
    }
}
