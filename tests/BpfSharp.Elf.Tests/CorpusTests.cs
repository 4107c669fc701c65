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

    [Theory]
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
    [Theory]
    [InlineData("invalid/badsymsize.o", "symbol")]
    public void Malformed_corpus_objects_are_rejected_with_a_message(string relative, string mentions)
    {
        if (CorpusDir is not { } dir) { output.WriteLine("SKIPPED: shared verifier corpus is absent"); return; }
        var e = Assert.Throws<BpfObjectException>(() => BpfObject.Load(Path.Combine(dir, relative)));
        output.WriteLine(e.Message);
        Assert.Contains(mentions, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Corpus_summary()
    {
        if (CorpusDir is not { } dir) { output.WriteLine("SKIPPED: shared verifier corpus is absent"); return; }
        int files = 0, loaded = 0, errors = 0, programs = 0, programsWithMaps = 0, programsWithExterns = 0;
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
        foreach (var (folder, row) in byFolder)
            output.WriteLine($"{folder,-20} files {row.Files,4}  loaded {row.Loaded,4}  programs {row.Programs,5}");
        output.WriteLine($"TOTAL files {files}, loaded {loaded}, typed errors {errors}; programs {programs}: " +
                         $"{programs - programsWithExterns} with every relocation resolved within the object, " +
                         $"{programsWithExterns} also referring to extern symbols (kfuncs, memcpy, ...) left for the loader; " +
                         $"{programsWithMaps} with map references");
        Assert.Equal(files, loaded + errors);
        Assert.True(loaded > 0);
    }
}
