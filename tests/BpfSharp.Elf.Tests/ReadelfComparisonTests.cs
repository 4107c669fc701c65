using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>Section, symbol and relocation facts of our ELF reader against <c>llvm-readelf-19 -S -s -r</c>.</summary>
public sealed partial class ReadelfComparisonTests(ITestOutputHelper output)
{
    public sealed record Section(int Index, string Name, string Type, ulong Offset, ulong Size, uint Link, uint Info);
    public sealed record Symbol(int Index, ulong Value, ulong Size, string Type, string Bind, string Ndx, string Name);
    public sealed record Reloc(string SectionName, ulong Offset, uint Type, int SymbolIndex);

    [GeneratedRegex(@"^\s*\[\s*(\d+)\]\s(.*?)\s+(NULL|PROGBITS|NOBITS|STRTAB|SYMTAB|REL|RELA|LLVM_ADDRSIG|\S+)\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([A-Za-z]*)\s*(\d+)\s+(\d+)\s+(\d+)\s*$")]
    private static partial Regex SectionLine();

    [GeneratedRegex(@"^\s*(\d+):\s+([0-9a-f]{16})\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")]
    private static partial Regex SymbolLine();

    [GeneratedRegex(@"^Relocation section '(.*)' at offset")]
    private static partial Regex RelocHeader();

    [GeneratedRegex(@"^([0-9a-f]{16})\s+([0-9a-f]{16})\s+\S+")]
    private static partial Regex RelocLine();

    internal static (List<Section>, List<Symbol>, List<Reloc>) ParseReadelf(string text)
    {
        var sections = new List<Section>();
        var symbols = new List<Symbol>();
        var relocs = new List<Reloc>();
        string? relSection = null;
        bool inSymtab = false;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd();
            Match m;
            if (line.StartsWith("Symbol table '", StringComparison.Ordinal)) { inSymtab = true; relSection = null; continue; }
            if ((m = RelocHeader().Match(line)).Success) { relSection = m.Groups[1].Value; inSymtab = false; continue; }
            if (relSection is null && !inSymtab && (m = SectionLine().Match(line)).Success)
            {
                sections.Add(new Section(int.Parse(m.Groups[1].Value), m.Groups[2].Value.Trim(), m.Groups[3].Value,
                    Hex(m.Groups[5].Value), Hex(m.Groups[6].Value), uint.Parse(m.Groups[9].Value), uint.Parse(m.Groups[10].Value)));
                continue;
            }
            if (inSymtab && (m = SymbolLine().Match(line)).Success)
            {
                symbols.Add(new Symbol(int.Parse(m.Groups[1].Value), Hex(m.Groups[2].Value), ulong.Parse(m.Groups[3].Value),
                    m.Groups[4].Value, m.Groups[5].Value, m.Groups[7].Value, m.Groups[8].Value.Trim()));
                continue;
            }
            if (relSection is not null && (m = RelocLine().Match(line)).Success)
            {
                ulong info = Hex(m.Groups[2].Value);
                relocs.Add(new Reloc(relSection, Hex(m.Groups[1].Value), (uint)info, (int)(info >> 32)));
            }
        }
        return (sections, symbols, relocs);
    }

    private static ulong Hex(string s) => ulong.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    public static IEnumerable<object[]> Objects()
    {
        foreach (var n in TestSupport.BenchNames) yield return ["bench", n];
        yield return ["data", "endian/sample-bpfel"];
        yield return ["data", "endian/sample-bpfeb"];
        yield return ["data", "btf/kinds"];
        yield return ["data", "btf/features"];
    }

    private static string? PathOf(string where, string name) => where == "bench"
        ? (TestSupport.BenchObjs is { } d ? Path.Combine(d, name + ".o") : null)
        : Path.Combine(TestSupport.DataDir, name + ".o");

    [Theory]
    [MemberData(nameof(Objects))]
    public void Sections_symbols_and_relocations_match_llvm_readelf(string where, string name)
    {
        var path = PathOf(where, name);
        if (path is null) { output.WriteLine("SKIPPED: shared bench objects are absent"); return; }
        var readelf = TestSupport.FindTool("llvm-readelf-19");
        if (readelf is null) { output.WriteLine("SKIPPED: llvm-readelf-19 not installed (apt-get install llvm-19)"); return; }

        var (sections, symbols, relocs) = ParseReadelf(TestSupport.Run(readelf, "-S", "-s", "-r", "--wide", path));
        var elf = ElfFile.Parse(File.ReadAllBytes(path));

        Assert.NotEmpty(sections);
        Assert.Equal(sections.Count, elf.Sections.Count);
        foreach (var s in sections)
        {
            var ours = elf.Sections[s.Index];
            Assert.Equal(s.Name, ours.Name);
            Assert.Equal(s.Offset, ours.Offset);
            Assert.Equal(s.Size, ours.Size);
            Assert.Equal(s.Link, ours.Link);
            Assert.Equal(s.Info, ours.Info);
            string type = ours.Type switch
            {
                ElfSectionType.Null => "NULL", ElfSectionType.ProgBits => "PROGBITS", ElfSectionType.NoBits => "NOBITS",
                ElfSectionType.StrTab => "STRTAB", ElfSectionType.SymTab => "SYMTAB", ElfSectionType.Rel => "REL",
                ElfSectionType.Rela => "RELA", ElfSectionType.LlvmAddrsig => "LLVM_ADDRSIG", _ => ours.Type.ToString(),
            };
            Assert.Equal(s.Type, type);
        }

        Assert.NotEmpty(symbols);
        Assert.Equal(symbols.Count, elf.Symbols.Count);
        foreach (var s in symbols)
        {
            var ours = elf.Symbols[s.Index];
            Assert.Equal(s.Value, ours.Value);
            Assert.Equal(s.Size, ours.Size);
            Assert.Equal(s.Type, ours.Type.ToString().ToUpperInvariant() switch { "NOTYPE" => "NOTYPE", "OBJECT" => "OBJECT", var t => t });
            Assert.Equal(s.Bind, ours.Binding.ToString().ToUpperInvariant());
            string ndx = ours.SectionIndex switch { 0 => "UND", 0xfff1 => "ABS", 0xfff2 => "COM", var i => i.ToString() };
            Assert.Equal(s.Ndx, ndx);
            // readelf prints a section symbol's name as its section's name.
            string expectedName = ours.Type == ElfSymbolType.Section && ours.Name.Length == 0 ? elf.Sections[ours.SectionIndex].Name : ours.Name;
            Assert.Equal(s.Name, expectedName);
        }

        var ourRelocs = elf.RelocationSections.SelectMany(rs => rs.Entries.Select(e => new Reloc(rs.Section.Name, e.Offset, e.Type, e.SymbolIndex))).ToList();
        Assert.Equal(relocs, ourRelocs);
        output.WriteLine($"{name}: {sections.Count} sections, {symbols.Count} symbols, {relocs.Count} relocations agree");
    }
}
