using System.Buffers.Binary;
using System.Text;

namespace BpfSharp.Isa.Tests;

/// <summary>
/// Just enough of an ELF64 little-endian reader for the disassembly golden tests: executable sections' bytes and the
/// named symbols inside them. (The real loader lives in BpfSharp.Elf.) Bounds are checked; bad input throws
/// <see cref="InvalidDataException"/>.
/// </summary>
internal static class MiniElf
{
    public sealed record CodeSection(string Name, byte[] Bytes, SortedDictionary<int, string> SymbolsBySlot);

    private const uint ShtSymtab = 2;
    private const ulong ShfExecInstr = 0x4;

    public static List<CodeSection> ReadCodeSections(byte[] file)
    {
        if (file.Length < 64 || file[0] != 0x7f || file[1] != (byte)'E' || file[2] != (byte)'L' || file[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (file[4] != 2 || file[5] != 1) throw new InvalidDataException("not ELF64 little-endian");
        ulong shoff = U64(file, 0x28);
        int shentsize = U16(file, 0x3a);
        int shnum = U16(file, 0x3c);
        int shstrndx = U16(file, 0x3e);
        if (shentsize < 64) throw new InvalidDataException("section header entry too small");
        var headers = new (uint Name, uint Type, ulong Flags, ulong Offset, ulong Size, uint Link)[shnum];
        for (int i = 0; i < shnum; i++)
        {
            int h = checked((int)shoff + i * shentsize);
            Check(file, h, 64);
            headers[i] = (U32(file, h), U32(file, h + 4), U64(file, h + 8), U64(file, h + 24), U64(file, h + 32), U32(file, h + 40));
        }
        if (shstrndx >= shnum) throw new InvalidDataException($"section name table index {shstrndx} out of range");
        string SectionName(int index) => CString(file, Slice(file, headers[shstrndx].Offset, headers[shstrndx].Size), headers[index].Name);

        var sections = new List<CodeSection>();
        var byIndex = new Dictionary<int, CodeSection>();
        for (int i = 0; i < shnum; i++)
        {
            if ((headers[i].Flags & ShfExecInstr) == 0 || headers[i].Size == 0) continue;
            var (start, length) = Slice(file, headers[i].Offset, headers[i].Size);
            var section = new CodeSection(SectionName(i), file.AsSpan(start, length).ToArray(), []);
            sections.Add(section);
            byIndex[i] = section;
        }
        for (int i = 0; i < shnum; i++)
        {
            if (headers[i].Type != ShtSymtab) continue;
            var (start, length) = Slice(file, headers[i].Offset, headers[i].Size);
            if (headers[i].Link >= shnum) throw new InvalidDataException($"symbol table links to section {headers[i].Link}");
            var strtab = headers[(int)headers[i].Link];
            var strings = Slice(file, strtab.Offset, strtab.Size);
            for (int s = start; s + 24 <= start + length; s += 24)
            {
                uint name = U32(file, s);
                int type = file[s + 4] & 0xf;
                int shndx = U16(file, s + 6);
                ulong value = U64(file, s + 8);
                // Functions and plain labels name code; section and file symbols do not.
                if (name == 0 || type is not (0 or 2) || !byIndex.TryGetValue(shndx, out var section)) continue;
                // llvm-objdump shows one symbol per address: the last of them in symbol table order.
                section.SymbolsBySlot[(int)(value / 8)] = CString(file, strings, name);
            }
        }
        return sections;
    }

    private static (int Start, int Length) Slice(byte[] file, ulong offset, ulong size)
    {
        if (offset > (ulong)file.Length || size > (ulong)file.Length - offset)
            throw new InvalidDataException($"section [{offset}, +{size}) is outside the file");
        return ((int)offset, (int)size);
    }

    private static string CString(byte[] file, (int Start, int Length) table, uint offset)
    {
        if (offset >= table.Length) throw new InvalidDataException($"string offset {offset} outside its table");
        int begin = table.Start + (int)offset;
        int end = Array.IndexOf(file, (byte)0, begin, table.Start + table.Length - begin);
        if (end < 0) throw new InvalidDataException("unterminated string");
        return Encoding.UTF8.GetString(file, begin, end - begin);
    }

    private static void Check(byte[] file, int offset, int length)
    {
        if (offset < 0 || offset + length > file.Length) throw new InvalidDataException($"read of {length} bytes at {offset} is outside the file");
    }

    private static ushort U16(byte[] f, int o) { Check(f, o, 2); return BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan(o)); }
    private static uint U32(byte[] f, int o) { Check(f, o, 4); return BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan(o)); }
    private static ulong U64(byte[] f, int o) { Check(f, o, 8); return BinaryPrimitives.ReadUInt64LittleEndian(f.AsSpan(o)); }
}
