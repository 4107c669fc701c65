using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace BpfSharp.Runtime;

/// <summary>
/// The eBPF arithmetic rules that are more than one machine operation (RFC 9669 §4.1): division by zero gives 0,
/// modulo by zero leaves the dividend, signed overflow wraps, 32-bit results are zero-extended. Shared by the
/// interpreter and the JIT so both have one definition.
/// </summary>
public static class AluSemantics
{
    /// <summary>Unsigned 64-bit division; x / 0 = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Div64(ulong a, ulong b) => b == 0 ? 0 : a / b;

    /// <summary>Unsigned 32-bit division, zero-extended; x / 0 = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Div32(ulong a, ulong b) => (uint)b == 0 ? 0 : (uint)a / (uint)b;

    /// <summary>Unsigned 64-bit modulo; x % 0 = x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mod64(ulong a, ulong b) => b == 0 ? a : a % b;

    /// <summary>Unsigned 32-bit modulo, zero-extended; x % 0 = (u32)x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mod32(ulong a, ulong b) => (uint)b == 0 ? (uint)a : (uint)a % (uint)b;

    /// <summary>Signed 64-bit division; x / 0 = 0, LLONG_MIN / -1 = LLONG_MIN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SDiv64(ulong a, ulong b)
    {
        long x = (long)a, y = (long)b;
        if (y == 0) return 0;
        if (y == -1) return unchecked((ulong)-x);
        return (ulong)(x / y);
    }

    /// <summary>Signed 32-bit division, zero-extended; x / 0 = 0, INT_MIN / -1 = INT_MIN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SDiv32(ulong a, ulong b)
    {
        int x = (int)a, y = (int)b;
        if (y == 0) return 0;
        if (y == -1) return (uint)unchecked(-x);
        return (uint)(x / y);
    }

    /// <summary>Signed 64-bit modulo (sign of the dividend); x % 0 = x, LLONG_MIN % -1 = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SMod64(ulong a, ulong b)
    {
        long x = (long)a, y = (long)b;
        if (y == 0) return a;
        if (y == -1) return 0;
        return (ulong)(x % y);
    }

    /// <summary>Signed 32-bit modulo, zero-extended; x % 0 = (u32)x, INT_MIN % -1 = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SMod32(ulong a, ulong b)
    {
        int x = (int)a, y = (int)b;
        if (y == 0) return (uint)x;
        if (y == -1) return 0;
        return (uint)(x % y);
    }

    /// <summary>64-bit arithmetic right shift, amount masked to 63.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Arsh64(ulong a, ulong b) => (ulong)((long)a >> (int)(b & 63));

    /// <summary>32-bit arithmetic right shift, amount masked to 31, zero-extended.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Arsh32(ulong a, ulong b) => (uint)((int)a >> (int)(b & 31));

    /// <summary>Conversion to little-endian of the low <paramref name="bits"/> bits (truncation on a little-endian host).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ToLe(ulong a, int bits) => bits switch { 16 => (ushort)a, 32 => (uint)a, _ => a };

    /// <summary>Byte swap of the low <paramref name="bits"/> bits, zero-extended (be on a little-endian host, and bswap).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Swap(ulong a, int bits) => bits switch
    {
        16 => BinaryPrimitives.ReverseEndianness((ushort)a),
        32 => BinaryPrimitives.ReverseEndianness((uint)a),
        _ => BinaryPrimitives.ReverseEndianness(a),
    };
}
