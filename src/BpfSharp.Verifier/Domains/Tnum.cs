using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace BpfSharp.Verifier.Domains;

/// <summary>
/// A "tristate number": per bit, known 0, known 1 or unknown. This is the Linux verifier's <c>var_off</c>
/// (kernel/bpf/tnum.c): a concrete 64-bit value <c>x</c> is a member when <c>(x &amp; ~Mask) == Value</c>.
/// </summary>
/// <remarks>
/// Invariant: <c>(Value &amp; Mask) == 0</c> (an unknown bit is stored as 0 in <see cref="Value"/>).
/// Every operation is a sound over-approximation: for members <c>a</c>, <c>b</c> of the inputs, the concrete
/// result of the operation is a member of the result.
/// </remarks>
public readonly struct Tnum : IEquatable<Tnum>
{
    /// <summary>Bits known to be 1 (unknown bits are 0 here).</summary>
    public readonly ulong Value;

    /// <summary>Bits whose value is unknown.</summary>
    public readonly ulong Mask;

    private Tnum(ulong value, ulong mask)
    {
        Value = value;
        Mask = mask;
    }

    /// <summary>Builds a tnum, clearing unknown bits from <paramref name="value"/> to keep the invariant.</summary>
    public static Tnum Create(ulong value, ulong mask) => new(value & ~mask, mask);

    /// <summary>The fully known constant <paramref name="value"/>.</summary>
    public static Tnum Const(ulong value) => new(value, 0);

    /// <summary>All 64 bits unknown.</summary>
    public static Tnum Unknown => new(0, ulong.MaxValue);

    /// <summary>
    /// The smallest tnum containing every value of the unsigned interval [<paramref name="min"/>, <paramref name="max"/>]:
    /// bits above the highest bit where min and max differ are known, the rest unknown.
    /// </summary>
    public static Tnum Range(ulong min, ulong max)
    {
        ulong differing = min ^ max;
        int bits = 64 - BitOperations.LeadingZeroCount(differing);
        if (bits > 63)
            return Unknown;
        ulong low = (1UL << bits) - 1;
        return new Tnum(min & ~low, low);
    }

    /// <summary>True when all bits are known.</summary>
    public bool IsConst => Mask == 0;

    /// <summary>True when no bit is known.</summary>
    public bool IsUnknown => Mask == ulong.MaxValue;

    /// <summary>Smallest unsigned member.</summary>
    public ulong UnsignedMin => Value;

    /// <summary>Largest unsigned member.</summary>
    public ulong UnsignedMax => Value | Mask;

    /// <summary>Smallest member read as a signed 64-bit number (sign bit set if it may be set).</summary>
    public long SignedMin => (long)(Value | (Mask & (1UL << 63)));

    /// <summary>Largest member read as a signed 64-bit number (sign bit cleared if it may be clear).</summary>
    public long SignedMax => (long)(Value | (Mask & ~(1UL << 63)));

    /// <summary>True when <paramref name="x"/> is a member.</summary>
    public bool Contains(ulong x) => (x & ~Mask) == Value;

    /// <summary>True when every member of this tnum is a member of <paramref name="other"/>.</summary>
    public bool IsSubsetOf(Tnum other) => (Mask & ~other.Mask) == 0 && (Value & ~other.Mask) == other.Value;

    /// <summary>
    /// The smallest member that is unsigned-greater-than-or-equal to <paramref name="x"/>; false when every member is
    /// below <paramref name="x"/>.
    /// </summary>
    public bool TryGetMemberAtLeast(ulong x, out ulong member)
    {
        if (Contains(x))
        {
            member = x;
            return true;
        }
        // The answer agrees with x above some bit p, has 1 at p where x has 0, and is minimal below p. Bits of x
        // that contradict a known bit force p to be at least the highest contradiction.
        ulong conflicts = (x ^ Value) & ~Mask;
        int highestConflict = 63 - BitOperations.LeadingZeroCount(conflicts);
        ulong candidates = ~x & (Value | Mask) & (ulong.MaxValue << highestConflict);
        if (candidates == 0)
        {
            member = 0;
            return false;
        }
        int p = BitOperations.TrailingZeroCount(candidates);
        ulong above = p == 63 ? 0 : x & (ulong.MaxValue << (p + 1));
        ulong below = Value & ((1UL << p) - 1);
        member = above | (1UL << p) | below;
        return true;
    }

    /// <summary>
    /// The largest member that is unsigned-less-than-or-equal to <paramref name="x"/>; false when every member is
    /// above <paramref name="x"/>.
    /// </summary>
    public bool TryGetMemberAtMost(ulong x, out ulong member)
    {
        // Complementing every bit reverses the unsigned order and maps members of this tnum to members of its mirror.
        var mirror = new Tnum(~Value & ~Mask, Mask);
        bool found = mirror.TryGetMemberAtLeast(~x, out ulong mirrored);
        member = ~mirrored;
        return found;
    }

    /// <summary>Sum modulo 2^64; carries out of unknown bits make the bits they can reach unknown.</summary>
    public static Tnum Add(Tnum a, Tnum b)
    {
        ulong maskSum = a.Mask + b.Mask;
        ulong valueSum = a.Value + b.Value;
        // Comparing the smallest sum with the largest sum shows every bit that some carry can flip.
        ulong carries = (maskSum + valueSum) ^ valueSum;
        ulong unknown = carries | a.Mask | b.Mask;
        return new Tnum(valueSum & ~unknown, unknown);
    }

    /// <summary>Difference modulo 2^64.</summary>
    public static Tnum Subtract(Tnum a, Tnum b)
    {
        ulong difference = a.Value - b.Value;
        // Largest minuend minus smallest subtrahend against smallest minuend minus largest subtrahend.
        ulong borrows = (difference + a.Mask) ^ (difference - b.Mask);
        ulong unknown = borrows | a.Mask | b.Mask;
        return new Tnum(difference & ~unknown, unknown);
    }

    /// <summary>Two's complement negation.</summary>
    public static Tnum Negate(Tnum a) => Subtract(Const(0), a);

    /// <summary>Bitwise and.</summary>
    public static Tnum And(Tnum a, Tnum b)
    {
        ulong mayBeOneA = a.Value | a.Mask;
        ulong mayBeOneB = b.Value | b.Mask;
        ulong known = a.Value & b.Value;
        return new Tnum(known, mayBeOneA & mayBeOneB & ~known);
    }

    /// <summary>Bitwise or.</summary>
    public static Tnum Or(Tnum a, Tnum b)
    {
        ulong known = a.Value | b.Value;
        return new Tnum(known, (a.Mask | b.Mask) & ~known);
    }

    /// <summary>Bitwise exclusive or.</summary>
    public static Tnum Xor(Tnum a, Tnum b)
    {
        ulong unknown = a.Mask | b.Mask;
        return new Tnum((a.Value ^ b.Value) & ~unknown, unknown);
    }

    /// <summary>
    /// Product modulo 2^64, by long multiplication: the known product plus, for each bit of <paramref name="a"/>,
    /// the uncertainty that bit contributes (the unknown part of the shifted <paramref name="b"/>, or all of it
    /// when the bit of <paramref name="a"/> itself is unknown).
    /// </summary>
    public static Tnum Multiply(Tnum a, Tnum b)
    {
        ulong knownProduct = a.Value * b.Value;
        Tnum uncertainty = Const(0);
        while (a.Value != 0 || a.Mask != 0)
        {
            if ((a.Value & 1) != 0)
                uncertainty = Add(uncertainty, new Tnum(0, b.Mask));
            else if ((a.Mask & 1) != 0)
                uncertainty = Add(uncertainty, new Tnum(0, b.Value | b.Mask));
            a = RightShift(a, 1);
            b = LeftShift(b, 1);
        }
        return Add(Const(knownProduct), uncertainty);
    }

    /// <summary>Logical left shift by a known amount (0..63).</summary>
    public static Tnum LeftShift(Tnum a, int shift) => new(a.Value << shift, a.Mask << shift);

    /// <summary>Logical right shift by a known amount (0..63).</summary>
    public static Tnum RightShift(Tnum a, int shift) => new(a.Value >> shift, a.Mask >> shift);

    /// <summary>
    /// Arithmetic right shift by a known amount of a <paramref name="width"/>-bit (32 or 64) value; the result is
    /// truncated to <paramref name="width"/> bits. An unknown sign bit makes the shifted-in bits unknown.
    /// </summary>
    public static Tnum ArithmeticRightShift(Tnum a, int shift, int width)
    {
        if (width == 32)
        {
            return new Tnum((uint)((int)(uint)a.Value >> shift), (uint)((int)(uint)a.Mask >> shift));
        }
        return new Tnum((ulong)((long)a.Value >> shift), (ulong)((long)a.Mask >> shift));
    }

    /// <summary>
    /// The meet: members of both. Returns false when the tnums disagree on a known bit (no common member).
    /// </summary>
    public static bool TryIntersect(Tnum a, Tnum b, out Tnum result)
    {
        ulong bothKnown = ~a.Mask & ~b.Mask;
        if (((a.Value ^ b.Value) & bothKnown) != 0)
        {
            result = default;
            return false;
        }
        ulong unknown = a.Mask & b.Mask;
        result = new Tnum((a.Value | b.Value) & ~unknown, unknown);
        return true;
    }

    /// <summary>The join: the smallest tnum containing the members of both.</summary>
    public static Tnum Union(Tnum a, Tnum b)
    {
        ulong unknown = a.Mask | b.Mask | (a.Value ^ b.Value);
        return new Tnum(a.Value & b.Value & ~unknown, unknown);
    }

    /// <summary>Keeps the low <paramref name="bits"/> bits (1..64), zeroing the rest: truncation + zero extension.</summary>
    public Tnum Truncate(int bits)
    {
        ulong keep = bits >= 64 ? ulong.MaxValue : (1UL << bits) - 1;
        return new Tnum(Value & keep, Mask & keep);
    }

    /// <summary>The low 32 bits, zero-extended (the kernel's <c>tnum_subreg</c>).</summary>
    public Tnum Subreg => Truncate(32);

    /// <summary>The high 32 bits with the low 32 bits cleared to known zero (<c>tnum_clear_subreg</c>).</summary>
    public Tnum ClearSubreg => new(Value & 0xFFFF_FFFF_0000_0000, Mask & 0xFFFF_FFFF_0000_0000);

    /// <summary>This tnum's high 32 bits with the low 32 bits taken from <paramref name="low"/> (<c>tnum_with_subreg</c>).</summary>
    public Tnum WithSubreg(Tnum low) => Or(ClearSubreg, low.Subreg);

    /// <summary>
    /// Sign-extends from bit <paramref name="bits"/>-1 to 64 bits; an unknown sign bit makes all higher bits unknown.
    /// </summary>
    public Tnum SignExtend(int bits)
    {
        if (bits >= 64)
            return this;
        int shift = 64 - bits;
        return new Tnum((ulong)((long)(Value << shift) >> shift), (ulong)((long)(Mask << shift) >> shift));
    }

    /// <summary>Reverses the order of the low <paramref name="bytes"/> bytes (2, 4 or 8); the result is zero-extended.</summary>
    public Tnum ByteSwap(int bytes) => new(SwapBytes(Value, bytes), SwapBytes(Mask, bytes));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ulong SwapBytes(ulong x, int bytes) => bytes switch
    {
        2 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((ushort)x),
        4 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)x),
        8 => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(x),
        _ => throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "byte swap width must be 2, 4 or 8"),
    };

    /// <inheritdoc/>
    public bool Equals(Tnum other) => Value == other.Value && Mask == other.Mask;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Tnum t && Equals(t);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Value, Mask);

    /// <summary>Same value and mask.</summary>
    public static bool operator ==(Tnum a, Tnum b) => a.Equals(b);

    /// <summary>Different value or mask.</summary>
    public static bool operator !=(Tnum a, Tnum b) => !a.Equals(b);

    /// <summary>Kernel log notation: <c>(0x0; 0xff)</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"(0x{Value:x}; 0x{Mask:x})");
}
