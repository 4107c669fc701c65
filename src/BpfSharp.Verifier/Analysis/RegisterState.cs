using System.Globalization;
using BpfSharp.Verifier.Domains;

namespace BpfSharp.Verifier.Analysis;

/// <summary>What a register holds, as the Linux verifier's <c>enum bpf_reg_type</c> (the kernel's log names in the docs).</summary>
public enum RegType : byte
{
    /// <summary>Never written, or clobbered by a call: reading it is an error (<c>!read_ok</c>).</summary>
    NotInit,
    /// <summary>A number (<c>scalar</c>).</summary>
    Scalar,
    /// <summary>The program's context (<c>ctx</c>).</summary>
    Ctx,
    /// <summary>Pointer into the current frame's stack (<c>fp</c>).</summary>
    Stack,
    /// <summary>A map, from lddw with a map fd (<c>map_ptr</c>).</summary>
    MapPtr,
    /// <summary>Pointer to a map value (<c>map_value</c>).</summary>
    MapValue,
    /// <summary>Map value pointer that may be NULL: must be checked before use (<c>map_value_or_null</c>).</summary>
    MapValueOrNull,
    /// <summary>Start of packet data (<c>pkt</c>).</summary>
    Packet,
    /// <summary>End of packet data (<c>pkt_end</c>).</summary>
    PacketEnd,
    /// <summary>Start of packet metadata (<c>pkt_meta</c>).</summary>
    PacketMeta,
    /// <summary>Memory reserved in a ring buffer (<c>mem</c> from bpf_ringbuf_reserve).</summary>
    RingbufMem,
    /// <summary>Ring buffer reservation that may be NULL (<c>mem_or_null</c>).</summary>
    RingbufMemOrNull,
}

/// <summary>
/// The abstract value of one register. Pointers are <c>base + Off + VarOff</c>: a fixed offset plus a scalar
/// variable offset, as in the kernel; for scalars <see cref="Value"/> is the number.
/// </summary>
/// <param name="Type">What the register holds.</param>
/// <param name="Value">Scalar value, or a pointer's variable offset.</param>
/// <param name="Off">A pointer's fixed offset.</param>
/// <param name="Id">Links copies of one nullable pointer or packet pointer, so a check on one refines all.</param>
/// <param name="MapIndex">Which map a map pointer or map value pointer refers to.</param>
/// <param name="Range">Packet pointers: bytes from the packet start known to be inside the packet.
/// Ring buffer memory: its size.</param>
/// <param name="FrameNo">Stack pointers: the call depth of the frame whose stack they point into.</param>
public readonly record struct RegisterState(RegType Type, Scalar Value, int Off = 0, int Id = 0, int MapIndex = -1, int Range = 0, int FrameNo = 0)
{
    /// <summary>An unreadable register.</summary>
    public static RegisterState NotInit => new(RegType.NotInit, Scalar.Unknown);

    /// <summary>An unknown number.</summary>
    public static RegisterState UnknownScalar => new(RegType.Scalar, Scalar.Unknown);

    /// <summary>A number with the given abstract value.</summary>
    public static RegisterState Number(Scalar value) => new(RegType.Scalar, value);

    /// <summary>A pointer of the given type at a fixed offset.</summary>
    public static RegisterState Pointer(RegType type, int off = 0, int id = 0, int mapIndex = -1, int range = 0) =>
        new(type, Scalar.Const(0UL), off, id, mapIndex, range);

    /// <summary>True for every pointer type.</summary>
    public bool IsPointer => Type is not (RegType.NotInit or RegType.Scalar);

    /// <summary>True for the packet pointers that carry a range.</summary>
    public bool IsPacket => Type is RegType.Packet or RegType.PacketMeta;

    /// <summary>True for pointers that may be NULL.</summary>
    public bool MaybeNull => Type is RegType.MapValueOrNull or RegType.RingbufMemOrNull;

    /// <summary>
    /// True when every concrete state this register can stand for is also described by <paramref name="other"/>
    /// (used to prune a path that reaches an instruction in a state already proven safe).
    /// </summary>
    public bool IsSubsetOf(RegisterState other)
    {
        if (other.Type == RegType.NotInit)
            return true; // the safe path never read it
        if (Type != other.Type)
            return false;
        if (Type == RegType.Scalar)
            return Value.IsSubsetOf(other.Value) && (other.Id == 0 || Id == other.Id); // a link the other state relied on must hold here too
        return Off == other.Off && MapIndex == other.MapIndex && FrameNo == other.FrameNo && Value.IsSubsetOf(other.Value) && Range >= other.Range &&
            (Id == other.Id || !MaybeNull && !IsPacket && Type != RegType.RingbufMem);
    }

    /// <summary>Kernel log notation, e.g. <c>scalar(umax=255,var_off=(0x0; 0xff))</c>, <c>fp-8</c>, <c>map_value(map=0,off=4)</c>.</summary>
    public override string ToString()
    {
        RegisterState self = this;
        string Offsets()
        {
            var parts = new List<string>();
            if (self.Id != 0) parts.Add("id=" + self.Id.ToString(CultureInfo.InvariantCulture));
            if (self.MapIndex >= 0) parts.Add("map=" + self.MapIndex.ToString(CultureInfo.InvariantCulture));
            if (self.Off != 0) parts.Add("off=" + self.Off.ToString(CultureInfo.InvariantCulture));
            if (self.IsPacket || self.Type is RegType.RingbufMem or RegType.RingbufMemOrNull) parts.Add("r=" + self.Range.ToString(CultureInfo.InvariantCulture));
            if (!self.Value.IsConst || self.Value.ConstValue != 0)
                parts.Add("var_off=" + self.Value.Bits + (self.Value.UMax != self.Value.Bits.UnsignedMax ? ",umax=" + self.Value.UMax.ToString(CultureInfo.InvariantCulture) : ""));
            return "(" + string.Join(",", parts) + ")";
        }
        return Type switch
        {
            RegType.NotInit => "?",
            RegType.Scalar => Value.ToString(),
            RegType.Stack when Value.IsConst && Value.ConstValue == 0 => "fp" + Off.ToString("+0;-0", CultureInfo.InvariantCulture),
            RegType.Stack => "fp" + Offsets(),
            RegType.Ctx => "ctx" + Offsets(),
            RegType.MapPtr => "map_ptr" + Offsets(),
            RegType.MapValue => "map_value" + Offsets(),
            RegType.MapValueOrNull => "map_value_or_null" + Offsets(),
            RegType.Packet => "pkt" + Offsets(),
            RegType.PacketEnd => "pkt_end" + Offsets(),
            RegType.PacketMeta => "pkt_meta" + Offsets(),
            RegType.RingbufMem => "mem" + Offsets(),
            _ => "mem_or_null" + Offsets(),
        };
    }
}
