using System.Buffers.Binary;
using System.Text;
using BpfSharp.Elf;

namespace BpfSharp.Linux;

/// <summary>
/// Clang leaves the sizes of DATASEC types (".data", ".rodata", ".maps", "license") and their variables' offsets
/// as 0 for the loader to fill in, and the kernel rejects such BTF ("DATASEC ... size == 0"). This fills them from
/// the ELF section sizes and symbol values, the same fix-up libbpf performs before BPF_BTF_LOAD.
/// </summary>
internal static class ObjectBtfFixup
{
    private const int KindDatasec = 15;
    private const int KindVar = 14;

    /// <summary>Returns a fixed-up copy of the object's raw little-endian <c>.BTF</c>, or null when it cannot be walked.</summary>
    public static byte[]? Apply(BpfObject obj, ReadOnlySpan<byte> raw)
    {
        if (obj.IsBigEndian || raw.Length < 24) return null;
        var btf = raw.ToArray();
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan(4));
        uint typeOffset = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan(8));
        uint typeLength = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan(12));
        uint stringOffset = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan(16));
        uint stringLength = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan(20));
        long typesStart = headerLength + (long)typeOffset, typesEnd = typesStart + typeLength;
        long stringsStart = headerLength + (long)stringOffset;
        if (typesEnd > btf.Length || stringsStart + stringLength > btf.Length) return null;

        string Str(uint off)
        {
            if (off >= stringLength) return "";
            var s = btf.AsSpan((int)(stringsStart + off), (int)(stringLength - off));
            int nul = s.IndexOf((byte)0);
            return Encoding.UTF8.GetString(nul < 0 ? s : s[..nul]);
        }

        // First pass: where each type starts (ids from 1), so DATASEC entries can find their VAR names.
        var starts = new List<long> { 0 };
        long pos = typesStart;
        while (pos + 12 <= typesEnd)
        {
            starts.Add(pos);
            uint info = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan((int)pos + 4));
            int kind = (int)((info >> 24) & 0x1f), vlen = (int)(info & 0xffff);
            long extra = kind switch
            {
                1 or 14 or 17 => 4,
                3 => 12,
                4 or 5 or 15 or 19 => vlen * 12L,
                6 or 13 => vlen * 8L,
                _ => 0,
            };
            pos += 12 + extra;
        }
        if (pos != typesEnd) return null;

        for (int id = 1; id < starts.Count; id++)
        {
            long at = starts[id];
            uint info = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan((int)at + 4));
            if ((int)((info >> 24) & 0x1f) != KindDatasec) continue;
            string name = Str(BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan((int)at)));
            var section = obj.Elf.FindSection(name);
            if (section is null) continue;
            if (BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan((int)at + 8)) == 0)
                BinaryPrimitives.WriteUInt32LittleEndian(btf.AsSpan((int)at + 8), (uint)section.Size);
            int vlen = (int)(info & 0xffff);
            for (int k = 0; k < vlen; k++)
            {
                int entry = (int)at + 12 + k * 12;
                uint varId = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan(entry));
                if (varId == 0 || varId >= starts.Count) continue;
                long varAt = starts[(int)varId];
                uint varInfo = BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan((int)varAt + 4));
                if ((int)((varInfo >> 24) & 0x1f) != KindVar) continue;
                string varName = Str(BinaryPrimitives.ReadUInt32LittleEndian(btf.AsSpan((int)varAt)));
                foreach (var sym in obj.Elf.Symbols)
                {
                    if (sym.SectionIndex == section.Index && sym.Name == varName)
                    {
                        BinaryPrimitives.WriteUInt32LittleEndian(btf.AsSpan(entry + 4), (uint)sym.Value);
                        break;
                    }
                }
            }
        }
        return btf;
    }
}
