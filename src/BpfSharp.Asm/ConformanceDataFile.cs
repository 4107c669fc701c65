using System.Globalization;

namespace BpfSharp.Asm;

/// <summary>
/// A test in the eBPF conformance suite's <c>.data</c> format: sections introduced by <c>-- name</c> lines
/// (<c>asm</c>, <c>raw</c>, <c>mem</c>, <c>result</c>, <c>error</c>, <c>c</c>, ...); <c>#</c> lines before the
/// first section are comments.
/// </summary>
public sealed class ConformanceDataFile
{
    private ConformanceDataFile(string name, Dictionary<string, string> sections)
    {
        Name = name;
        Sections = sections;
    }

    /// <summary>The test name (file name without extension).</summary>
    public string Name { get; }

    /// <summary>Section bodies by name.</summary>
    public IReadOnlyDictionary<string, string> Sections { get; }

    /// <summary>The <c>-- asm</c> text, or null.</summary>
    public string? Asm => Sections.GetValueOrDefault("asm");

    /// <summary>The expected r0 from <c>-- result</c>, or null.</summary>
    public ulong? Result
    {
        get
        {
            if (!Sections.TryGetValue("result", out var text)) return null;
            return ParseU64(text.Trim());
        }
    }

    /// <summary>The expected error text from <c>-- error</c>, or null.</summary>
    public string? Error => Sections.TryGetValue("error", out var e) ? e.Trim() : null;

    /// <summary>The memory bytes from <c>-- mem</c> (empty when absent).</summary>
    public byte[] Memory => Sections.TryGetValue("mem", out var text) ? ParseHexBytes(text) : [];

    /// <summary>The raw instruction words from <c>-- raw</c> as bytes (little-endian), or null when absent.</summary>
    public byte[]? Raw
    {
        get
        {
            if (!Sections.TryGetValue("raw", out var text)) return null;
            var bytes = new List<byte>();
            foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                ulong word = ParseU64(line);
                for (int i = 0; i < 8; i++) bytes.Add((byte)(word >> (8 * i)));
            }
            return [.. bytes];
        }
    }

    /// <summary>Parses the text of a data file.</summary>
    public static ConformanceDataFile Parse(string text, string name)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sections = new Dictionary<string, string>(StringComparer.Ordinal);
        string? current = null;
        var body = new System.Text.StringBuilder();
        foreach (var rawLine in text.Split('\n'))
        {
            string line = rawLine.TrimEnd('\r');
            if (line.StartsWith("-- ", StringComparison.Ordinal))
            {
                if (current is not null) sections[current] = body.ToString();
                current = line[3..].Trim();
                body.Clear();
                continue;
            }
            if (current is not null) body.Append(line).Append('\n');
        }
        if (current is not null) sections[current] = body.ToString();
        return new ConformanceDataFile(name, sections);
    }

    /// <summary>Reads and parses a data file.</summary>
    public static ConformanceDataFile Load(string path) =>
        Parse(File.ReadAllText(path), Path.GetFileNameWithoutExtension(path));

    /// <summary>Parses whitespace-separated hex bytes (<c>00 01 ff</c>); throws <see cref="FormatException"/> naming the bad token.</summary>
    public static byte[] ParseHexBytes(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = new List<byte>();
        int index = 0;
        foreach (var token in text.Split([' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            string t = token.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? token[2..] : token;
            if (t.Length is 0 or > 2 || !byte.TryParse(t, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
                throw new FormatException($"invalid hex byte '{token}' at byte {index}");
            bytes.Add(b);
            index++;
        }
        return [.. bytes];
    }

    private static ulong ParseU64(string text)
    {
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok) throw new FormatException($"invalid number '{text}'");
        return v;
    }
}
