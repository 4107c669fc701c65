namespace BpfSharp.Classic.Tests;

/// <summary>One corpus line: the link type to compile for and the expression.</summary>
public sealed record CorpusEntry(LinkType Link, string Expression, int Line);

/// <summary>Reads Data/filter-corpus.txt: one expression per line, optionally prefixed with @RAW or @LINUX_SLL
/// (default EN10MB); '#' starts a comment line.</summary>
public static class FilterCorpus
{
    private static readonly Lazy<List<CorpusEntry>> EntriesLazy = new(Load);

    public static IReadOnlyList<CorpusEntry> Entries => EntriesLazy.Value;

    public static IEnumerable<object[]> Cases() => Entries.Select(e => new object[] { LinkTypeNames.Name(e.Link), e.Expression });

    private static List<CorpusEntry> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Data", "filter-corpus.txt");
        var list = new List<CorpusEntry>();
        int n = 0;
        foreach (var raw in File.ReadAllLines(path))
        {
            n++;
            var line = raw.TrimEnd();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var link = LinkType.Ethernet;
            if (line.StartsWith('@'))
            {
                int sp = line.IndexOf(' ', StringComparison.Ordinal);
                if (!LinkTypeNames.TryParse(line[1..sp], out link))
                    throw new InvalidDataException($"corpus line {n}: unknown link type");
                line = line[(sp + 1)..];
            }
            list.Add(new CorpusEntry(link, line, n));
        }
        return list;
    }
}
