using System.Buffers.Binary;

namespace BpfSharp.Elf;

/// <summary>Reads fixed-width integers in the object's byte order from a span whose bounds were already checked.</summary>
internal readonly struct EndianReader(bool bigEndian)
{
    public bool BigEndian { get; } = bigEndian;

    public ushort U16(ReadOnlySpan<byte> s, int at) =>
        BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(s[at..]) : BinaryPrimitives.ReadUInt16LittleEndian(s[at..]);

    public uint U32(ReadOnlySpan<byte> s, int at) =>
        BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(s[at..]) : BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);

    public int I32(ReadOnlySpan<byte> s, int at) => unchecked((int)U32(s, at));

    public ulong U64(ReadOnlySpan<byte> s, int at) =>
        BigEndian ? BinaryPrimitives.ReadUInt64BigEndian(s[at..]) : BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);

    public long I64(ReadOnlySpan<byte> s, int at) => unchecked((long)U64(s, at));
}
