using System.Globalization;
using System.Text.RegularExpressions;

namespace BpfSharp.Elf.Tests;

/// <summary>
/// The type graph as <c>bpftool btf dump file F format raw</c> prints it: an independent reading of a BTF file to
/// compare the relocator's results with (bpftool is libbpf's own BTF parser).
/// </summary>
internal sealed partial class BpftoolRawBtf
{
    public sealed record Member(string Name, int TypeId, long BitOffset, int BitfieldSize);

    public sealed class RawType
    {
        public int Id;
        public string Kind = "";
        public string Name = "";
        public long Size;
        public int TypeId;
        public long Elements;
        public List<Member> Members = new();
        public List<(string Name, long Value)> Values = new();
    }

    public Dictionary<int, RawType> Types { get; } = new();

    [GeneratedRegex(@"^\[(\d+)\] (\w+) '([^']*)'(.*)$")]
    private static partial Regex HeaderLine();

    [GeneratedRegex(@"(\w+)=(-?\d+)")]
    private static partial Regex KeyValue();

    [GeneratedRegex(@"^\t'([^']*)'(.*)$")]
    private static partial Regex MemberLine();

    public static BpftoolRawBtf Dump(string bpftool, string file)
    {
        var result = new BpftoolRawBtf();
        RawType? current = null;
        foreach (var line in TestSupport.Run(bpftool, "btf", "dump", "file", file, "format", "raw").Split('\n'))
        {
            var h = HeaderLine().Match(line);
            if (h.Success)
            {
                current = new RawType { Id = int.Parse(h.Groups[1].Value, CultureInfo.InvariantCulture), Kind = h.Groups[2].Value, Name = h.Groups[3].Value };
                var kv = Pairs(h.Groups[4].Value);
                current.Size = kv.GetValueOrDefault("size");
                current.TypeId = (int)kv.GetValueOrDefault("type_id");
                current.Elements = kv.GetValueOrDefault("nr_elems");
                if (current.Kind == "ARRAY") current.TypeId = (int)kv.GetValueOrDefault("type_id");
                result.Types[current.Id] = current;
                continue;
            }
            var m = MemberLine().Match(line);
            if (m.Success && current is not null)
            {
                var kv = Pairs(m.Groups[2].Value);
                if (kv.TryGetValue("val", out var v)) current.Values.Add((m.Groups[1].Value, v));
                else if (kv.TryGetValue("bits_offset", out var bo))
                    current.Members.Add(new Member(m.Groups[1].Value, (int)kv["type_id"], bo, (int)kv.GetValueOrDefault("bitfield_size")));
            }
        }
        return result;
    }

    private static Dictionary<string, long> Pairs(string s)
    {
        var d = new Dictionary<string, long>();
        foreach (Match kv in KeyValue().Matches(s))
            d[kv.Groups[1].Value] = long.TryParse(kv.Groups[2].Value, CultureInfo.InvariantCulture, out var v)
                ? v : unchecked((long)ulong.Parse(kv.Groups[2].Value, CultureInfo.InvariantCulture)); // enum64 values above long.MaxValue
        return d;
    }

    public RawType Named(string kind, string name) =>
        Types.Values.Where(t => t.Kind == kind && t.Name == name).OrderBy(t => t.Id).First();

    public bool Has(string kind, string name) => Types.Values.Any(t => t.Kind == kind && t.Name == name);

    public RawType Resolve(int id)
    {
        var t = Types[id];
        while (t.Kind is "TYPEDEF" or "CONST" or "VOLATILE" or "RESTRICT" or "TYPE_TAG") t = Types[t.TypeId];
        return t;
    }

    public long SizeOf(int id)
    {
        var t = Resolve(id);
        return t.Kind switch { "PTR" => 8, "ARRAY" => t.Elements * SizeOf(t.TypeId), _ => t.Size };
    }

    /// <summary>Finds a member by name, descending into anonymous members like C does; the bit offset is from the outer struct.</summary>
    public (Member Member, long BitOffset)? FindMember(RawType composite, string name)
    {
        foreach (var m in composite.Members)
        {
            if (m.Name == name) return (m, m.BitOffset);
            if (m.Name == "(anon)")
            {
                var inner = Resolve(m.TypeId);
                if (inner.Kind is "STRUCT" or "UNION" && FindMember(inner, name) is { } found)
                    return (found.Member, m.BitOffset + found.BitOffset);
            }
        }
        return null;
    }
}
