using System.Buffers.Binary;
using System.Text;

namespace BpfSharp.Linux;

/// <summary>
/// Finds the file offset of a function symbol in an ELF64 little-endian binary or shared library (for uprobes,
/// which attach at file offsets). Reads .symtab and .dynsym; converts the symbol's virtual address through the
/// PT_LOAD segment containing it.
/// </summary>
public static class ElfSymbols
{
    /// <summary>Returns the file offset of <paramref name="symbol"/> in <paramref name="path"/>.</summary>
    public static ulong FileOffsetOf(string path, string symbol)
    {
        byte[] elf = File.ReadAllBytes(path);
        ReadOnlySpan<byte> d = elf;
        if (d.Length < 64 || d[0] != 0x7F || d[1] != (byte)'E' || d[2] != (byte)'L' || d[3] != (byte)'F')
            throw new InvalidDataException($"{path}: not an ELF file (bad magic at offset 0).");
        if (d[4] != 2 || d[5] != 1)
            throw new InvalidDataException($"{path}: only ELF64 little-endian is supported (class {d[4]}, data {d[5]}).");
        ulong phoff = U64(d, 32), shoff = U64(d, 40);
        int phentsize = U16(d, 54), phnum = U16(d, 56), shentsize = U16(d, 58), shnum = U16(d, 60);
        ulong? vaddr = null;
        for (int i = 0; i < shnum && vaddr is null; i++)
        {
            int sh = Check(d, shoff + (ulong)(i * shentsize), 64, path, $"section header {i}");
            uint type = U32(d, sh + 4);
            if (type != 2 && type != 11)   // SHT_SYMTAB, SHT_DYNSYM
                continue;
            ulong symOff = U64(d, sh + 24), symSize = U64(d, sh + 32);
            int link = (int)U32(d, sh + 40);
            int strSh = Check(d, shoff + (ulong)(link * shentsize), 64, path, $"section header {link}");
            ulong strOff = U64(d, strSh + 24), strSize = U64(d, strSh + 32);
            Check(d, strOff, (int)strSize, path, "string table");
            Check(d, symOff, (int)symSize, path, "symbol table");
            byte[] want = Encoding.ASCII.GetBytes(symbol);
            for (ulong s = symOff; s + 24 <= symOff + symSize; s += 24)
            {
                int so = (int)s;
                uint nameOff = U32(d, so);
                byte info = d[so + 4];
                ulong value = U64(d, so + 8);
                if ((info & 0xF) != 2 || value == 0 || nameOff >= strSize)   // STT_FUNC, defined
                    continue;
                var name = d[(int)(strOff + nameOff)..(int)(strOff + strSize)];
                int nul = name.IndexOf((byte)0);
                if (nul >= 0 && name[..nul].SequenceEqual(want))
                {
                    vaddr = value;
                    break;
                }
            }
        }
        if (vaddr is null)
            throw new KeyNotFoundException($"{path}: no defined function symbol '{symbol}' in .symtab/.dynsym.");
        for (int i = 0; i < phnum; i++)
        {
            int ph = Check(d, phoff + (ulong)(i * phentsize), 56, path, $"program header {i}");
            if (U32(d, ph) != 1)   // PT_LOAD
                continue;
            ulong off = U64(d, ph + 8), va = U64(d, ph + 16), filesz = U64(d, ph + 32);
            if (vaddr >= va && vaddr < va + filesz)
                return vaddr.Value - va + off;
        }
        throw new InvalidDataException($"{path}: symbol '{symbol}' at 0x{vaddr:x} is not inside any PT_LOAD segment.");
    }

    /// <summary>The path of the C library mapped into this process (from /proc/self/maps).</summary>
    public static string LibcPath()
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0 && (line.EndsWith("/libc.so.6", StringComparison.Ordinal) || line.Contains("/libc-", StringComparison.Ordinal)))
                return line[slash..];
        }
        throw new FileNotFoundException("libc is not mapped into this process.");
    }

    private static int Check(ReadOnlySpan<byte> d, ulong offset, int length, string path, string what)
    {
        if (offset + (ulong)length > (ulong)d.Length)
            throw new InvalidDataException($"{path}: {what} at offset {offset} (+{length}) is beyond the end of the {d.Length}-byte file.");
        return (int)offset;
    }

    private static ushort U16(ReadOnlySpan<byte> d, int o) => BinaryPrimitives.ReadUInt16LittleEndian(d[o..]);
    private static uint U32(ReadOnlySpan<byte> d, int o) => BinaryPrimitives.ReadUInt32LittleEndian(d[o..]);
    private static ulong U64(ReadOnlySpan<byte> d, int o) => BinaryPrimitives.ReadUInt64LittleEndian(d[o..]);
    private static ulong U64(ReadOnlySpan<byte> d, ulong o) => BinaryPrimitives.ReadUInt64LittleEndian(d[(int)o..]);
}
