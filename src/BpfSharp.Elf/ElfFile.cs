using System.Text;

namespace BpfSharp.Elf;

/// <summary>
/// A parsed ELF64 relocatable object: header, section headers, the symbol table and relocation sections.
/// Either byte order. Every offset and size read from the file is checked against the file length before use,
/// so a malformed file yields a <see cref="BpfObjectException"/> and never an oversized allocation.
/// </summary>
public sealed class ElfFile
{
    /// <summary>ELF machine number of eBPF (<c>EM_BPF</c>).</summary>
    public const ushort MachineBpf = 247;

    /// <summary>Longest section or symbol name accepted; longer names are rejected as malformed.</summary>
    public const int MaxNameLength = 4096;

    private const int HeaderSize = 64;
    private const int SectionHeaderSize = 64;
    private const int SymbolSize = 24;

    private readonly byte[] _data;
    private readonly EndianReader _r;
    private readonly Dictionary<(int, uint), string> _stringCache = new();
    private readonly ElfSection[] _sections;
    private readonly ElfSymbol[] _symbols;
    private readonly List<ElfRelocationSection> _relocationSections = new();

    private ElfFile(byte[] data, bool bigEndian)
    {
        _data = data;
        _r = new EndianReader(bigEndian);
        IsBigEndian = bigEndian;
        _sections = ReadSections(out var type, out var machine);
        FileType = type;
        Machine = machine;
        _symbols = ReadSymbols();
        ReadRelocationSections();
    }

    /// <summary>True for a big-endian object (<c>bpfeb</c>), false for little-endian (<c>bpfel</c>).</summary>
    public bool IsBigEndian { get; }

    /// <summary>The <c>e_type</c> field (1 = relocatable).</summary>
    public ushort FileType { get; }

    /// <summary>The <c>e_machine</c> field (247 = BPF).</summary>
    public ushort Machine { get; }

    /// <summary>The whole file.</summary>
    public ReadOnlyMemory<byte> Bytes => _data;

    /// <summary>All section headers, in file order; index 0 is the null section.</summary>
    public IReadOnlyList<ElfSection> Sections => _sections;

    /// <summary>The symbol table entries (index 0 is the null symbol); empty when the object has no symbol table.</summary>
    public IReadOnlyList<ElfSymbol> Symbols => _symbols;

    /// <summary>Every REL and RELA section with its decoded entries.</summary>
    public IReadOnlyList<ElfRelocationSection> RelocationSections => _relocationSections;

    /// <summary>Parses an ELF64 image.</summary>
    /// <exception cref="BpfObjectException">The image is not a well-formed ELF64 object.</exception>
    public static ElfFile Parse(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length < HeaderSize)
            throw new BpfObjectException($"file is {data.Length} bytes, shorter than the 64-byte ELF64 header");
        if (data[0] != 0x7f || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F')
            throw new BpfObjectException("not an ELF file (bad magic)", null, 0);
        if (data[4] != 2)
            throw new BpfObjectException($"unsupported ELF class {data[4]} (only ELF64 is supported)", null, 4);
        bool bigEndian = data[5] switch
        {
            1 => false,
            2 => true,
            _ => throw new BpfObjectException($"invalid ELF data encoding {data[5]}", null, 5),
        };
        if (data[6] != 1)
            throw new BpfObjectException($"unsupported ELF version {data[6]}", null, 6);
        return new ElfFile(data, bigEndian);
    }

    /// <summary>The first section with this name, or null.</summary>
    public ElfSection? FindSection(string name)
    {
        foreach (var s in _sections)
            if (s.Name == name) return s;
        return null;
    }

    /// <summary>The bytes of a section (empty for <c>SHT_NOBITS</c>); bounds were checked at parse time.</summary>
    public ReadOnlySpan<byte> GetData(ElfSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return section.Type == ElfSectionType.NoBits ? default : _data.AsSpan((int)section.Offset, (int)section.Size);
    }

    /// <summary>Reads a NUL-terminated string at <paramref name="offset"/> of the string table section <paramref name="tableIndex"/>.</summary>
    /// <exception cref="BpfObjectException">The table or the offset is invalid or the string is unterminated.</exception>
    public string ReadString(int tableIndex, uint offset)
    {
        if (tableIndex <= 0 || tableIndex >= _sections.Length)
            throw new BpfObjectException($"string table index {tableIndex} is out of range (0..{_sections.Length - 1})");
        if (_stringCache.TryGetValue((tableIndex, offset), out var cached)) return cached;
        var table = _sections[tableIndex];
        if (table.Type != ElfSectionType.StrTab)
            throw new BpfObjectException($"section {tableIndex} used as a string table has type {table.Type}", table.Name, null);
        var s = ReadCString(GetData(table), offset, table.Name ?? $"#{tableIndex}");
        _stringCache[(tableIndex, offset)] = s;
        return s;
    }

    internal static string ReadCString(ReadOnlySpan<byte> table, uint offset, string tableName)
    {
        if (offset >= (uint)table.Length)
            throw new BpfObjectException($"string offset {offset} is outside the string table of {table.Length} bytes", tableName, null);
        var rest = table[(int)offset..];
        int window = Math.Min(rest.Length, MaxNameLength + 1);
        int nul = rest[..window].IndexOf((byte)0);
        if (nul < 0)
            throw new BpfObjectException(rest.Length > MaxNameLength
                ? $"string at offset {offset} is longer than {MaxNameLength} bytes"
                : $"string at offset {offset} is not NUL-terminated", tableName, null);
        return Encoding.UTF8.GetString(rest[..nul]);
    }

    private ElfSection[] ReadSections(out ushort type, out ushort machine)
    {
        var h = _data.AsSpan(0, HeaderSize);
        type = _r.U16(h, 16);
        machine = _r.U16(h, 18);
        ulong shoff = _r.U64(h, 40);
        ushort shentsize = _r.U16(h, 58);
        uint shnum = _r.U16(h, 60);
        uint shstrndx = _r.U16(h, 62);
        if (shoff == 0)
        {
            if (shnum != 0) throw new BpfObjectException($"e_shnum is {shnum} but e_shoff is 0", null, 40);
            return [];
        }
        if (shentsize != SectionHeaderSize)
            throw new BpfObjectException($"e_shentsize is {shentsize}, expected {SectionHeaderSize}", null, 58);
        CheckRange(shoff, SectionHeaderSize, "section header table", null);
        var first = _data.AsSpan((int)shoff, SectionHeaderSize);
        // Extended numbering: the real counts live in the null section header.
        if (shnum == 0) shnum = (uint)Math.Min(_r.U64(first, 32), uint.MaxValue);
        if (shstrndx == 0xffff) shstrndx = _r.U32(first, 40);
        ulong tableBytes = (ulong)shnum * SectionHeaderSize;
        CheckRange(shoff, tableBytes, $"section header table of {shnum} entries", null);

        var sections = new ElfSection[shnum];
        for (int i = 0; i < shnum; i++)
        {
            long at = (long)shoff + (long)i * SectionHeaderSize;
            var s = _data.AsSpan((int)at, SectionHeaderSize);
            var sec = new ElfSection(
                index: i,
                nameOffset: _r.U32(s, 0),
                type: (ElfSectionType)_r.U32(s, 4),
                flags: (ElfSectionFlags)_r.U64(s, 8),
                address: _r.U64(s, 16),
                offset: _r.U64(s, 24),
                size: _r.U64(s, 32),
                link: _r.U32(s, 40),
                info: _r.U32(s, 44),
                alignment: _r.U64(s, 48),
                entrySize: _r.U64(s, 56));
            if (i != 0 && sec.Type != ElfSectionType.NoBits && sec.Type != ElfSectionType.Null)
                CheckRange(sec.Offset, sec.Size, $"section {i} data", null, at);
            sections[i] = sec;
        }

        if (shnum > 0)
        {
            if (shstrndx >= shnum)
                throw new BpfObjectException($"section name table index {shstrndx} is out of range (0..{shnum - 1})", null, 62);
            if (shstrndx == 0)
                throw new BpfObjectException("object has no section name table (e_shstrndx is 0)", null, 62);
            var names = sections[shstrndx];
            if (names.Type != ElfSectionType.StrTab)
                throw new BpfObjectException($"section name table (section {shstrndx}) has type {names.Type}, expected STRTAB");
            var nameData = names.Type == ElfSectionType.NoBits ? default : _data.AsSpan((int)names.Offset, (int)names.Size);
            for (int i = 1; i < sections.Length; i++)
            {
                try
                {
                    sections[i].Name = ReadCString(nameData, sections[i].NameOffset, ".shstrtab");
                }
                catch (BpfObjectException e)
                {
                    throw new BpfObjectException($"section {i}: bad name: {e.Message}", e);
                }
            }
            sections[0].Name = "";
        }
        return sections;
    }

    private ElfSymbol[] ReadSymbols()
    {
        ElfSection? symtab = null;
        foreach (var s in _sections)
        {
            if (s.Type != ElfSectionType.SymTab) continue;
            if (symtab is not null) throw new BpfObjectException("object has more than one symbol table", s.Name, null);
            symtab = s;
        }
        if (symtab is null) return [];
        if (symtab.EntrySize != SymbolSize && symtab.EntrySize != 0)
            throw new BpfObjectException($"symbol entry size is {symtab.EntrySize}, expected {SymbolSize}", symtab.Name, null);
        if (symtab.Size % SymbolSize != 0)
            throw new BpfObjectException($"size {symtab.Size} is not a multiple of the {SymbolSize}-byte symbol entry", symtab.Name, null);
        if (symtab.Link == 0 || symtab.Link >= _sections.Length)
            throw new BpfObjectException($"sh_link {symtab.Link} does not name a string table", symtab.Name, null);
        var data = GetData(symtab);
        int count = data.Length / SymbolSize;
        var symbols = new ElfSymbol[count];
        for (int i = 0; i < count; i++)
        {
            var e = data.Slice(i * SymbolSize, SymbolSize);
            uint nameOff = _r.U32(e, 0);
            byte info = e[4];
            ushort shndx = _r.U16(e, 6);
            string name;
            try
            {
                name = nameOff == 0 ? "" : ReadString((int)symtab.Link, nameOff);
            }
            catch (BpfObjectException ex)
            {
                throw new BpfObjectException($"symbol {i}: bad name: {ex.Message}", ex);
            }
            if (shndx == 0xffff)
                throw new BpfObjectException($"symbol {i} '{name}' uses extended section indexes (SHN_XINDEX), which are not supported", symtab.Name, null);
            symbols[i] = new ElfSymbol(i, name, _r.U64(e, 8), _r.U64(e, 16), (ElfSymbolType)(info & 0xf),
                (ElfSymbolBinding)(info >> 4), (byte)(e[5] & 3), shndx);
        }
        return symbols;
    }

    private void ReadRelocationSections()
    {
        foreach (var s in _sections)
        {
            bool rela = s.Type == ElfSectionType.Rela;
            if (!rela && s.Type != ElfSectionType.Rel) continue;
            int entry = rela ? 24 : 16;
            if (s.EntrySize != 0 && s.EntrySize != (ulong)entry)
                throw new BpfObjectException($"relocation entry size is {s.EntrySize}, expected {entry}", s.Name, null);
            if (s.Size % (ulong)entry != 0)
                throw new BpfObjectException($"size {s.Size} is not a multiple of the {entry}-byte relocation entry", s.Name, null);
            if (s.Info == 0 || s.Info >= _sections.Length)
                throw new BpfObjectException($"relocation target section index {s.Info} is out of range", s.Name, null);
            var data = GetData(s);
            int n = data.Length / entry;
            var list = new ElfRelocation[n];
            for (int i = 0; i < n; i++)
            {
                var e = data.Slice(i * entry, entry);
                ulong info = _r.U64(e, 8);
                uint sym = (uint)(info >> 32);
                if (sym >= _symbols.Length)
                    throw new BpfObjectException($"relocation {i} refers to symbol {sym}, but the symbol table has {_symbols.Length} entries",
                        s.Name, (long)s.Offset + (long)i * entry);
                list[i] = new ElfRelocation(_r.U64(e, 0), (uint)info, (int)sym, rela ? _r.I64(e, 16) : null);
            }
            _relocationSections.Add(new ElfRelocationSection(s, _sections[s.Info], list));
        }
    }

    private void CheckRange(ulong offset, ulong size, string what, string? section, long? headerAt = null)
    {
        ulong len = (ulong)_data.Length;
        if (offset > len || size > len - offset)
            throw new BpfObjectException(
                $"{what} at offset 0x{offset:x} with size 0x{size:x} extends past the end of the {len}-byte file", section, headerAt);
    }
}

/// <summary>ELF section types that matter to eBPF objects (<c>sh_type</c>).</summary>
public enum ElfSectionType : uint
{
    /// <summary>Unused header.</summary>
    Null = 0,
    /// <summary>Program-defined contents (code, data).</summary>
    ProgBits = 1,
    /// <summary>Symbol table.</summary>
    SymTab = 2,
    /// <summary>String table.</summary>
    StrTab = 3,
    /// <summary>Relocations with explicit addends.</summary>
    Rela = 4,
    /// <summary>Occupies no file space (<c>.bss</c>).</summary>
    NoBits = 8,
    /// <summary>Relocations without addends.</summary>
    Rel = 9,
    /// <summary>LLVM address-significance table.</summary>
    LlvmAddrsig = 0x6fff4c03,
}

/// <summary>Section flags (<c>sh_flags</c>).</summary>
[Flags]
public enum ElfSectionFlags : ulong
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>Writable at run time.</summary>
    Write = 1,
    /// <summary>Occupies memory at run time.</summary>
    Alloc = 2,
    /// <summary>Contains instructions.</summary>
    ExecInstr = 4,
    /// <summary>Mergeable contents.</summary>
    Merge = 0x10,
    /// <summary>NUL-terminated strings.</summary>
    Strings = 0x20,
}

/// <summary>Symbol types (low nibble of <c>st_info</c>).</summary>
public enum ElfSymbolType : byte
{
    /// <summary>Unspecified.</summary>
    NoType = 0,
    /// <summary>A data object.</summary>
    Object = 1,
    /// <summary>A function.</summary>
    Func = 2,
    /// <summary>A section.</summary>
    Section = 3,
    /// <summary>A source file name.</summary>
    File = 4,
}

/// <summary>Symbol bindings (high nibble of <c>st_info</c>).</summary>
public enum ElfSymbolBinding : byte
{
    /// <summary>Local to the object.</summary>
    Local = 0,
    /// <summary>Visible to other objects.</summary>
    Global = 1,
    /// <summary>Global with lower precedence.</summary>
    Weak = 2,
}

/// <summary>One section header.</summary>
public sealed class ElfSection
{
    internal ElfSection(int index, uint nameOffset, ElfSectionType type, ElfSectionFlags flags, ulong address, ulong offset,
        ulong size, uint link, uint info, ulong alignment, ulong entrySize)
    {
        Index = index; NameOffset = nameOffset; Type = type; Flags = flags; Address = address; Offset = offset;
        Size = size; Link = link; Info = info; Alignment = alignment; EntrySize = entrySize;
    }

    /// <summary>Index in the section header table.</summary>
    public int Index { get; }
    /// <summary>Name from the section name table.</summary>
    public string Name { get; internal set; } = "";
    /// <summary>Offset of the name in the section name table.</summary>
    public uint NameOffset { get; }
    /// <summary>Section type.</summary>
    public ElfSectionType Type { get; }
    /// <summary>Section flags.</summary>
    public ElfSectionFlags Flags { get; }
    /// <summary>Load address (0 in relocatable objects).</summary>
    public ulong Address { get; }
    /// <summary>File offset of the contents.</summary>
    public ulong Offset { get; }
    /// <summary>Size of the contents in bytes.</summary>
    public ulong Size { get; }
    /// <summary>Section index this one links to (meaning depends on the type).</summary>
    public uint Link { get; }
    /// <summary>Extra information (for relocation sections, the section they apply to).</summary>
    public uint Info { get; }
    /// <summary>Required alignment.</summary>
    public ulong Alignment { get; }
    /// <summary>Size of one entry for table sections.</summary>
    public ulong EntrySize { get; }
    /// <summary>True when the section holds instructions.</summary>
    public bool IsExecutable => (Flags & ElfSectionFlags.ExecInstr) != 0;

    /// <inheritdoc/>
    public override string ToString() => $"[{Index}] {Name} {Type} size={Size}";
}

/// <summary>One symbol table entry.</summary>
/// <param name="Index">Index in the symbol table.</param>
/// <param name="Name">Name from the linked string table ("" when unnamed).</param>
/// <param name="Value">Value: for symbols in a section of a relocatable object, the byte offset in that section.</param>
/// <param name="Size">Size in bytes (0 when unknown).</param>
/// <param name="Type">Symbol type.</param>
/// <param name="Binding">Symbol binding.</param>
/// <param name="Visibility">Visibility (low 2 bits of <c>st_other</c>).</param>
/// <param name="SectionIndex">Section index (0 = undefined, 0xfff1 = absolute, 0xfff2 = common).</param>
public sealed record ElfSymbol(int Index, string Name, ulong Value, ulong Size, ElfSymbolType Type, ElfSymbolBinding Binding,
    byte Visibility, ushort SectionIndex)
{
    /// <summary>True for an undefined (extern) symbol.</summary>
    public bool IsUndefined => SectionIndex == 0;
}

/// <summary>One relocation entry.</summary>
/// <param name="Offset">Byte offset in the target section.</param>
/// <param name="Type">Relocation type (for eBPF: 1 = R_BPF_64_64, 2 = R_BPF_64_ABS64, 3 = R_BPF_64_ABS32, 4 = R_BPF_64_NODYLD32, 10 = R_BPF_64_32).</param>
/// <param name="SymbolIndex">Index of the symbol in the symbol table.</param>
/// <param name="Addend">Explicit addend for RELA entries; null for REL entries (the addend is in the patched field).</param>
public readonly record struct ElfRelocation(ulong Offset, uint Type, int SymbolIndex, long? Addend);

/// <summary>A REL or RELA section with its decoded entries.</summary>
/// <param name="Section">The relocation section itself.</param>
/// <param name="Target">The section the relocations apply to.</param>
/// <param name="Entries">The relocation entries in file order.</param>
public sealed record ElfRelocationSection(ElfSection Section, ElfSection Target, IReadOnlyList<ElfRelocation> Entries);
