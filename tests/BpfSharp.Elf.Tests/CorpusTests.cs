using BpfSharp.Isa;
using BpfSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>Every object of the verifier corpus is parsed: it loads, or fails with a <see cref="BpfObjectException"/>.</summary>
public sealed class CorpusTests(ITestOutputHelper output)
{
    private static string? CorpusDir => TestPaths.Shared("verifier-corpus/ebpf-samples");

    public static IEnumerable<object[]> Files()
    {
        if (CorpusDir is not { } dir) { yield return [""]; yield break; }
        foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            yield return [Path.GetRelativePath(dir, f)];
    }

    internal enum Outcome { Loaded, TypedError }

    internal static (Outcome, BpfObject?, string?) Try(string path)
    {
        try
        {
            return (Outcome.Loaded, BpfObject.Load(path), null);
        }
        catch (BpfObjectException e)
        {
            return (Outcome.TypedError, null, e.Message);
        }
    }

    [SharedDataTheory("verifier-corpus/ebpf-samples")]
    [MemberData(nameof(Files))]
    public void Corpus_object_loads_or_gives_a_typed_error(string relative)
    {
        if (CorpusDir is not { } dir) { output.WriteLine("SKIPPED: shared verifier corpus is absent"); return; }
        var (outcome, obj, error) = Try(Path.Combine(dir, relative)); // any other exception type fails the test
        if (outcome == Outcome.Loaded)
        {
            output.WriteLine($"{relative}: {obj!.Programs.Count} programs, {obj.Maps.Count} maps");
            foreach (var p in obj.Programs)
            {
                Assert.True(p.InstructionCount > 0);
                foreach (var r in p.MapReferences) Assert.InRange(r.MapIndex, 0, obj.Maps.Count - 1);
            }
        }
        else
        {
            Assert.False(string.IsNullOrWhiteSpace(error));
            output.WriteLine($"{relative}: error: {error}");
        }
    }

    /// <summary>Objects in the corpus's <c>invalid</c> folder that are malformed at the ELF level must be rejected with a message.</summary>
    [SharedDataTheory("verifier-corpus/ebpf-samples")]
    [InlineData("invalid/badsymsize.o", "symbol")]
    public void Malformed_corpus_objects_are_rejected_with_a_message(string relative, string mentions)
    {
        if (CorpusDir is not { } dir) { output.WriteLine("SKIPPED: shared verifier corpus is absent"); return; }
        var e = Assert.Throws<BpfObjectException>(() => BpfObject.Load(Path.Combine(dir, relative)));
        output.WriteLine(e.Message);
        Assert.Contains(mentions, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [SharedDataFact("verifier-corpus/ebpf-samples")]
    public void Legacy_maps_section_of_sockex1_is_read_like_its_hex_dump()
    {
        if (CorpusDir is not { } dir) { output.WriteLine("SKIPPED: shared verifier corpus is absent"); return; }
        // llvm-readelf -x maps: 02000000 04000000 08000000 00010000 00000000 (+8 zero bytes of iproute2-style fields).
        var obj = BpfObject.Load(Path.Combine(dir, "linux", "sockex1_kern.o"));
        var map = Assert.Single(obj.Maps);
        Assert.Equal(("my_map", MapSource.LegacyMapsSection, BpfMapType.Array, 4u, 8u, 256u, 0u),
            (map.Name, map.Source, map.Type, map.KeySize, map.ValueSize, map.MaxEntries, map.Flags));
        // Section "socket1" is a pre-1.0 libbpf name: a socket filter by prefix.
        var prog = Assert.Single(obj.Programs);
        Assert.Equal(("bpf_prog1", BpfProgramType.SocketFilter, true), (prog.Name, prog.Type, prog.IsLegacySectionName));
        // llvm-readelf -r: one R_BPF_64_64 against my_map at offset 0x38 of socket1.
        Assert.Equal([new MapReference(0x38 / 8, 0, MapReferenceKind.MapFd, 0)], prog.MapReferences);
    }

    [SharedDataFact("verifier-corpus/ebpf-samples")]
    public void Corpus_summary()
    {
        if (CorpusDir is not { } dir) { output.WriteLine("SKIPPED: shared verifier corpus is absent"); return; }
        int files = 0, loaded = 0, errors = 0, programs = 0, programsWithMaps = 0, programsWithExterns = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var byFolder = new SortedDictionary<string, (int Files, int Loaded, int Programs)>(StringComparer.Ordinal);
        foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            files++;
            var folder = Path.GetRelativePath(dir, Path.GetDirectoryName(f)!);
            var (outcome, obj, error) = Try(f);
            var row = byFolder.GetValueOrDefault(folder);
            row.Files++;
            if (outcome == Outcome.Loaded)
            {
                loaded++;
                row.Loaded++;
                programs += obj!.Programs.Count;
                row.Programs += obj.Programs.Count;
                programsWithMaps += obj.Programs.Count(p => p.MapReferences.Count > 0);
                programsWithExterns += obj.Programs.Count(p => p.ExternReferences.Count > 0);
            }
            else
            {
                errors++;
                output.WriteLine($"error: {Path.GetRelativePath(dir, f)}: {error}");
            }
            byFolder[folder] = row;
        }
        clock.Stop();
        foreach (var (folder, row) in byFolder)
            output.WriteLine($"{folder,-20} files {row.Files,4}  loaded {row.Loaded,4}  programs {row.Programs,5}");
        output.WriteLine($"TOTAL files {files}, loaded {loaded}, typed errors {errors}; programs {programs}: " +
                         $"{programs - programsWithExterns} with every relocation resolved within the object, " +
                         $"{programsWithExterns} also referring to extern symbols (kfuncs, memcpy, ...) left for the loader; " +
                         $"{programsWithMaps} with map references; {clock.ElapsedMilliseconds} ms for all files");
        Assert.Equal(files, loaded + errors);
        Assert.True(loaded > 0);
    }
}
