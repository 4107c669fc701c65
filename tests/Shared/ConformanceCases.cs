using BpfSharp.Asm;

namespace BpfSharp.Testing;

/// <summary>The conformance suite's data files, kept in the repo (tests/data/conformance), one test case each.</summary>
internal static class ConformanceCases
{
    public static string Directory => Path.Combine(TestPaths.RepoRoot, "tests", "data", "conformance");

    public static IEnumerable<object[]> Names()
    {
        foreach (var f in System.IO.Directory.GetFiles(Directory, "*.data").Order(StringComparer.Ordinal))
            yield return [Path.GetFileNameWithoutExtension(f)];
    }

    public static ConformanceDataFile Load(string name) => ConformanceDataFile.Load(Path.Combine(Directory, name + ".data"));
}
