using System.Runtime.InteropServices;

namespace BpfSharp.Isa;

/// <summary>
/// One 8-byte eBPF instruction slot exactly as it is laid out in memory (RFC 9669 §3, little-endian host).
/// </summary>
/// <remarks>
/// <code>
///  byte 0     byte 1            bytes 2-3      bytes 4-7
/// +--------+--------+--------+----------------+--------------------------------+
/// | opcode | src:4  | dst:4  | offset (s16)   | imm (s32)                      |
/// +--------+--------+--------+----------------+--------------------------------+
/// </code>
/// A wide instruction (<c>lddw</c>) occupies two slots; the second slot carries the upper 32 bits in its imm.
/// </remarks>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 8)]
public readonly struct RawInstruction : IEquatable<RawInstruction>
{
    /// <summary>The wire opcode byte.</summary>
    public readonly byte Opcode;
    private readonly byte _regs;
    /// <summary>The signed 16-bit offset field.</summary>
    public readonly short Offset;
    /// <summary>The signed 32-bit immediate field.</summary>
    public readonly int Imm;

    /// <summary>Builds a slot from its fields; registers are masked to 4 bits.</summary>
    public RawInstruction(byte opcode, byte dst, byte src, short offset, int imm)
    {
        Opcode = opcode;
        _regs = (byte)((dst & 0xF) | ((src & 0xF) << 4));
        Offset = offset;
        Imm = imm;
    }

    /// <summary>Destination register field (low nibble of byte 1).</summary>
    public byte Dst => (byte)(_regs & 0xF);

    /// <summary>Source register field (high nibble of byte 1).</summary>
    public byte Src => (byte)(_regs >> 4);

    /// <summary>The instruction class (low 3 bits of the opcode).</summary>
    public OpClass Class => (OpClass)(Opcode & 0x07);

    /// <summary>Size in bytes of one slot.</summary>
    public const int Size = 8;

    /// <summary>Reads slots from little-endian bytes without copying; the length must be a multiple of 8.</summary>
    public static ReadOnlySpan<RawInstruction> FromBytes(ReadOnlySpan<byte> bytes) =>
        MemoryMarshal.Cast<byte, RawInstruction>(bytes[..(bytes.Length / Size * Size)]);

    /// <summary>Views slots as their bytes.</summary>
    public static ReadOnlySpan<byte> ToBytes(ReadOnlySpan<RawInstruction> slots) => MemoryMarshal.AsBytes(slots);

    /// <inheritdoc/>
    public bool Equals(RawInstruction other) =>
        Opcode == other.Opcode && _regs == other._regs && Offset == other.Offset && Imm == other.Imm;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is RawInstruction r && Equals(r);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Opcode, _regs, Offset, Imm);

    /// <summary>Equality of all fields.</summary>
    public static bool operator ==(RawInstruction a, RawInstruction b) => a.Equals(b);

    /// <summary>Inequality of any field.</summary>
    public static bool operator !=(RawInstruction a, RawInstruction b) => !a.Equals(b);

    /// <inheritdoc/>
    public override string ToString() => $"{{op=0x{Opcode:x2} dst=r{Dst} src=r{Src} off={Offset} imm={Imm}}}";
}

/// <summary>The 3-bit instruction class of an opcode (RFC 9669 §3.1).</summary>
public enum OpClass : byte
{
    /// <summary>Legacy loads (lddw, packet access).</summary>
    Ld = 0,
    /// <summary>Load into register.</summary>
    Ldx = 1,
    /// <summary>Store immediate.</summary>
    St = 2,
    /// <summary>Store register (and atomics).</summary>
    Stx = 3,
    /// <summary>32-bit arithmetic.</summary>
    Alu = 4,
    /// <summary>64-bit jumps, calls and exit.</summary>
    Jmp = 5,
    /// <summary>32-bit jumps.</summary>
    Jmp32 = 6,
    /// <summary>64-bit arithmetic.</summary>
    Alu64 = 7,
}
