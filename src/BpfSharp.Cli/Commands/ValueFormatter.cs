using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using BpfSharp.Elf.Btf;

namespace BpfSharp.Cli.Commands;

/// <summary>Formats map keys and values for people: by their BTF type when the object has one, else by size.</summary>
internal static class ValueFormatter
{
    public static string Format(ReadOnlySpan<byte> bytes, Btf? btf, int typeId)
    {
        if (btf is not null && typeId > 0)
        {
            try
            {
                var sb = new StringBuilder();
                Append(sb, bytes, btf, typeId, 0);
                return sb.ToString();
            }
            catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException)
            {
                // Fall back to the untyped form when the BTF does not describe these bytes.
            }
        }
        return bytes.Length switch
        {
            4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes).ToString(CultureInfo.InvariantCulture),
            8 => BinaryPrimitives.ReadUInt64LittleEndian(bytes).ToString(CultureInfo.InvariantCulture),
            _ => Hex(bytes),
        };
    }

    private static void Append(StringBuilder sb, ReadOnlySpan<byte> bytes, Btf btf, int typeId, int depth)
    {
        var type = btf.SkipModifiers(typeId);
        switch (type)
        {
            case BtfInt i when i.Size is 1 or 2 or 4 or 8 && bytes.Length >= i.Size:
                ulong u = i.Size switch
                {
                    1 => bytes[0],
                    2 => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
                    4 => BinaryPrimitives.ReadUInt32LittleEndian(bytes),
                    _ => BinaryPrimitives.ReadUInt64LittleEndian(bytes),
                };
                if (i.IsSigned)
                {
                    long s = i.Size switch { 1 => (sbyte)u, 2 => (short)u, 4 => (int)u, _ => (long)u };
                    sb.Append(s.ToString(CultureInfo.InvariantCulture));
                }
                else sb.Append(u.ToString(CultureInfo.InvariantCulture));
                return;
            case BtfComposite c when depth < 4:
                sb.Append("{ ");
                for (int m = 0; m < c.Members.Count; m++)
                {
                    var member = c.Members[m];
                    if (m > 0) sb.Append(", ");
                    int start = (int)member.ByteOffset;
                    int size = (int)btf.GetSize(member.TypeId);
                    sb.Append(member.Name).Append('=');
                    if (member.BitfieldSize != 0 || start + size > bytes.Length) sb.Append('?');
                    else Append(sb, bytes.Slice(start, size), btf, member.TypeId, depth + 1);
                }
                sb.Append(" }");
                return;
            default:
                sb.Append(Hex(bytes));
                return;
        }
    }

    public static string Hex(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length * 3);
        foreach (byte b in bytes)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(b.ToString("x2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
