using System.Globalization;
using System.Text;

namespace BpfSharp.Verifier.Domains;

/// <summary>
/// The abstract value of a scalar register: a <see cref="Tnum"/> plus unsigned and signed bounds of the full
/// 64-bit value and of its low 32 bits, as in the Linux verifier's <c>bpf_reg_state</c>. A concrete 64-bit value
/// is a member when it satisfies all nine views.
/// </summary>
/// <remarks>
/// Every instance is normalised: the views have been made mutually consistent (each bound is tight with respect
/// to the others and to the tnum as far as the synchronisation rules reach) and the set is known to be non-empty.
/// Instances are only created through <see cref="TryCreate"/> and the named constructors, which run
/// the single normalisation step; there is no way to build an unsynchronised scalar.
/// </remarks>
public readonly struct Scalar : IEquatable<Scalar>
{
    private const ulong SignBit64 = 1UL << 63;
    private const ulong SignBit32 = 1UL << 31;
    private const int MaxNormalisationRounds = 64;

    /// <summary>Known bits (the kernel's <c>var_off</c>).</summary>
    public Tnum Bits { get; }

    /// <summary>Smallest value as unsigned 64-bit.</summary>
    public ulong UMin { get; }

    /// <summary>Largest value as unsigned 64-bit.</summary>
    public ulong UMax { get; }

    /// <summary>Smallest value as signed 64-bit.</summary>
    public long SMin { get; }

    /// <summary>Largest value as signed 64-bit.</summary>
    public long SMax { get; }

    /// <summary>Smallest low 32 bits as unsigned.</summary>
    public uint U32Min { get; }

    /// <summary>Largest low 32 bits as unsigned.</summary>
    public uint U32Max { get; }

    /// <summary>Smallest low 32 bits as signed.</summary>
    public int S32Min { get; }

    /// <summary>Largest low 32 bits as signed.</summary>
    public int S32Max { get; }

    private Scalar(Tnum bits, ulong umin, ulong umax, long smin, long smax, uint u32min, uint u32max, int s32min, int s32max)
    {
        Bits = bits;
        UMin = umin;
        UMax = umax;
        SMin = smin;
        SMax = smax;
        U32Min = u32min;
        U32Max = u32max;
        S32Min = s32min;
        S32Max = s32max;
    }

    /// <summary>Any 64-bit value.</summary>
    public static Scalar Unknown { get; } = new(Tnum.Unknown, 0, ulong.MaxValue, long.MinValue, long.MaxValue,
        0, uint.MaxValue, int.MinValue, int.MaxValue);

    /// <summary>Exactly <paramref name="value"/>.</summary>
    public static Scalar Const(ulong value) => new(Tnum.Const(value), value, value, (long)value, (long)value,
        (uint)value, (uint)value, (int)(uint)value, (int)(uint)value);

    /// <summary>Exactly <paramref name="value"/> (two's complement).</summary>
    public static Scalar Const(long value) => Const((ulong)value);

    /// <summary>Every value in the unsigned interval [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Scalar FromUnsignedRange(ulong min, ulong max)
    {
        if (min > max)
            throw new ArgumentException($"empty unsigned range [{min}, {max}]", nameof(min));
        return Build(Tnum.Unknown, min, max, long.MinValue, long.MaxValue, 0, uint.MaxValue, int.MinValue, int.MaxValue);
    }

    /// <summary>Every value in the signed interval [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Scalar FromSignedRange(long min, long max)
    {
        if (min > max)
            throw new ArgumentException($"empty signed range [{min}, {max}]", nameof(min));
        return Build(Tnum.Unknown, 0, ulong.MaxValue, min, max, 0, uint.MaxValue, int.MinValue, int.MaxValue);
    }

    /// <summary>Every member of <paramref name="bits"/>.</summary>
    public static Scalar FromTnum(Tnum bits) =>
        Build(bits, 0, ulong.MaxValue, long.MinValue, long.MaxValue, 0, uint.MaxValue, int.MinValue, int.MaxValue);

    /// <summary>
    /// Builds the scalar whose members satisfy all the given views, normalised. False when no 64-bit value
    /// satisfies them all (including when a minimum exceeds its maximum).
    /// </summary>
    public static bool TryCreate(Tnum bits, ulong umin, ulong umax, long smin, long smax,
        uint u32min, uint u32max, int s32min, int s32max, out Scalar result)
    {
        Int128 ulo = umin, uhi = umax, slo = smin, shi = smax;
        Int128 u32lo = u32min, u32hi = u32max, s32lo = s32min, s32hi = s32max;
        if (!Normalise(ref bits, ref ulo, ref uhi, ref slo, ref shi, ref u32lo, ref u32hi, ref s32lo, ref s32hi))
        {
            result = default;
            return false;
        }
        result = new Scalar(bits, (ulong)ulo, (ulong)uhi, (long)slo, (long)shi,
            (uint)u32lo, (uint)u32hi, (int)s32lo, (int)s32hi);
        return true;
    }

    /// <summary>Like <see cref="TryCreate"/> for views that are known to describe a non-empty set.</summary>
    internal static Scalar Build(Tnum bits, ulong umin, ulong umax, long smin, long smax,
        uint u32min, uint u32max, int s32min, int s32max)
    {
        if (!TryCreate(bits, umin, umax, smin, smax, u32min, u32max, s32min, s32max, out Scalar result))
            throw new VerifierInternalException(
                $"abstract value became empty: var_off={bits} u=[{umin},{umax}] s=[{smin},{smax}] u32=[{u32min},{u32max}] s32=[{s32min},{s32max}]");
        return result;
    }

    /// <summary>True when exactly one value is a member.</summary>
    public bool IsConst => Bits.IsConst;

    /// <summary>True when every 64-bit value is a member.</summary>
    public bool IsUnknown => Bits.IsUnknown && UMin == 0 && UMax == ulong.MaxValue && SMin == long.MinValue &&
        SMax == long.MaxValue && U32Min == 0 && U32Max == uint.MaxValue && S32Min == int.MinValue && S32Max == int.MaxValue;

    /// <summary>True when the low 32 bits are a single known value.</summary>
    public bool IsConst32 => Bits.Subreg.IsConst;

    /// <summary>The value of a constant scalar.</summary>
    /// <exception cref="InvalidOperationException">The scalar is not constant.</exception>
    public ulong ConstValue => IsConst ? Bits.Value : throw new InvalidOperationException($"{this} is not a constant");

    /// <summary>True when <paramref name="value"/> satisfies every view.</summary>
    public bool Contains(ulong value)
    {
        long signed = (long)value;
        uint low = (uint)value;
        int lowSigned = (int)low;
        return Bits.Contains(value) && value >= UMin && value <= UMax && signed >= SMin && signed <= SMax &&
            low >= U32Min && low <= U32Max && lowSigned >= S32Min && lowSigned <= S32Max;
    }

    /// <summary>
    /// True when every member of this scalar satisfies every view of <paramref name="other"/> (so it is a member
    /// there too). Used for state pruning: a state already proven safe covers a narrower one.
    /// </summary>
    public bool IsSubsetOf(Scalar other) =>
        Bits.IsSubsetOf(other.Bits) && UMin >= other.UMin && UMax <= other.UMax && SMin >= other.SMin &&
        SMax <= other.SMax && U32Min >= other.U32Min && U32Max <= other.U32Max && S32Min >= other.S32Min &&
        S32Max <= other.S32Max;

    /// <summary>The smallest scalar containing the members of both (the join at control-flow merges).</summary>
    public static Scalar Join(Scalar a, Scalar b) => Build(Tnum.Union(a.Bits, b.Bits),
        Math.Min(a.UMin, b.UMin), Math.Max(a.UMax, b.UMax), Math.Min(a.SMin, b.SMin), Math.Max(a.SMax, b.SMax),
        Math.Min(a.U32Min, b.U32Min), Math.Max(a.U32Max, b.U32Max),
        Math.Min(a.S32Min, b.S32Min), Math.Max(a.S32Max, b.S32Max));

    /// <summary>The values that are members of both; false when there are none.</summary>
    public static bool TryMeet(Scalar a, Scalar b, out Scalar result)
    {
        if (!Tnum.TryIntersect(a.Bits, b.Bits, out Tnum bits))
        {
            result = default;
            return false;
        }
        return TryCreate(bits,
            Math.Max(a.UMin, b.UMin), Math.Min(a.UMax, b.UMax), Math.Max(a.SMin, b.SMin), Math.Min(a.SMax, b.SMax),
            Math.Max(a.U32Min, b.U32Min), Math.Min(a.U32Max, b.U32Max),
            Math.Max(a.S32Min, b.S32Min), Math.Min(a.S32Max, b.S32Max), out result);
    }

    /// <summary>
    /// Runs the normalisation again on this scalar's views. Normalisation is idempotent, so this returns an equal
    /// scalar; tests use it to check that property.
    /// </summary>
    public Scalar Renormalise() => Build(Bits, UMin, UMax, SMin, SMax, U32Min, U32Max, S32Min, S32Max);

    // The single normalisation step, in the spirit of the kernel's reg_bounds_sync(): bounds from the tnum,
    // signed <-> unsigned in each width, 64-bit <-> 32-bit, then the tnum from the bounds, repeated until nothing
    // changes. Every rule only removes values that cannot be members, so the result describes the same set.
    private static bool Normalise(ref Tnum bits, ref Int128 ulo, ref Int128 uhi, ref Int128 slo, ref Int128 shi,
        ref Int128 u32lo, ref Int128 u32hi, ref Int128 s32lo, ref Int128 s32hi)
    {
        if (ulo > uhi || slo > shi || u32lo > u32hi || s32lo > s32hi)
            return false;
        for (int round = 0; round < MaxNormalisationRounds; round++)
        {
            Tnum bitsBefore = bits;
            Int128 ulo0 = ulo, uhi0 = uhi, slo0 = slo, shi0 = shi, u32lo0 = u32lo, u32hi0 = u32hi, s32lo0 = s32lo, s32hi0 = s32hi;

            // Bounds from the tnum: move every endpoint onto the nearest member of the tnum.
            if (!TightenToMembers(bits, 0, ref ulo, ref uhi) ||
                !TightenToMembers(bits, SignBit64, ref slo, ref shi, signedWidth: 64) ||
                !TightenToMembers(bits.Subreg, 0, ref u32lo, ref u32hi) ||
                !TightenToMembers(bits.Subreg, SignBit32, ref s32lo, ref s32hi, signedWidth: 32))
                return false;

            // Signed and unsigned views of one width describe the same bit patterns.
            if (!IntervalMath.SyncSignedUnsigned(ref ulo, ref uhi, ref slo, ref shi, 64) ||
                !IntervalMath.SyncSignedUnsigned(ref u32lo, ref u32hi, ref s32lo, ref s32hi, 32))
                return false;

            // 64 -> 32: a short 64-bit interval determines an interval of its low halves.
            if (!NarrowLowHalf(ulo, uhi, ref u32lo, ref u32hi, ref s32lo, ref s32hi) ||
                !NarrowLowHalf(slo, shi, ref u32lo, ref u32hi, ref s32lo, ref s32hi))
                return false;

            // 32 -> 64: endpoints whose low half is out of range move to the nearest value whose low half fits.
            if (!IntervalMath.TightenByLow32(ref ulo, ref uhi, u32lo, u32hi, lowSigned: false) ||
                !IntervalMath.TightenByLow32(ref ulo, ref uhi, s32lo, s32hi, lowSigned: true) ||
                !IntervalMath.TightenByLow32(ref slo, ref shi, u32lo, u32hi, lowSigned: false) ||
                !IntervalMath.TightenByLow32(ref slo, ref shi, s32lo, s32hi, lowSigned: true))
                return false;

            // Tnum from the bounds: the common high bits of the unsigned bounds are known.
            if (!Tnum.TryIntersect(bits, Tnum.Range((ulong)ulo, (ulong)uhi), out bits) ||
                !Tnum.TryIntersect(bits.Subreg, Tnum.Range((ulong)u32lo, (ulong)u32hi), out Tnum low))
                return false;
            bits = bits.WithSubreg(low);

            if (bits == bitsBefore && ulo == ulo0 && uhi == uhi0 && slo == slo0 && shi == shi0 &&
                u32lo == u32lo0 && u32hi == u32hi0 && s32lo == s32lo0 && s32hi == s32hi0)
                return true;
        }
        return true;
    }

    // Moves [lo, hi] inward to the nearest members of the tnum. For a signed view (signBit != 0), flipping the sign
    // bit maps signed order onto unsigned order, where the tnum's member search works.
    private static bool TightenToMembers(Tnum bits, ulong signBit, ref Int128 lo, ref Int128 hi, int signedWidth = 0)
    {
        Tnum ordered = signBit == 0 ? bits : Tnum.Create(bits.Value ^ (signBit & ~bits.Mask), bits.Mask);
        ulong mask = signedWidth == 32 ? uint.MaxValue : ulong.MaxValue;
        ulong loKey = ((ulong)lo & mask) ^ signBit;
        ulong hiKey = ((ulong)hi & mask) ^ signBit;
        if (!ordered.TryGetMemberAtLeast(loKey, out ulong newLo) || !ordered.TryGetMemberAtMost(hiKey, out ulong newHi))
            return false;
        newLo ^= signBit;
        newHi ^= signBit;
        if (signedWidth == 64)
        {
            lo = (long)newLo;
            hi = (long)newHi;
        }
        else if (signedWidth == 32)
        {
            lo = (int)(uint)newLo;
            hi = (int)(uint)newHi;
        }
        else
        {
            lo = newLo;
            hi = newHi;
        }
        return lo <= hi;
    }

    private static bool NarrowLowHalf(Int128 lo, Int128 hi, ref Int128 u32lo, ref Int128 u32hi, ref Int128 s32lo, ref Int128 s32hi)
    {
        IntervalMath.ProjectArc(lo, hi, 32, out bool unsignedValid, out ulong umin, out ulong umax,
            out bool signedValid, out long smin, out long smax);
        if (unsignedValid)
        {
            u32lo = Int128.Max(u32lo, umin);
            u32hi = Int128.Min(u32hi, umax);
        }
        if (signedValid)
        {
            s32lo = Int128.Max(s32lo, smin);
            s32hi = Int128.Min(s32hi, smax);
        }
        return u32lo <= u32hi && s32lo <= s32hi;
    }

    /// <inheritdoc/>
    public bool Equals(Scalar other) => Bits == other.Bits && UMin == other.UMin && UMax == other.UMax &&
        SMin == other.SMin && SMax == other.SMax && U32Min == other.U32Min && U32Max == other.U32Max &&
        S32Min == other.S32Min && S32Max == other.S32Max;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Scalar s && Equals(s);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Bits, UMin, UMax, SMin, SMax,
        HashCode.Combine(U32Min, U32Max, S32Min, S32Max));

    /// <summary>Same set description.</summary>
    public static bool operator ==(Scalar a, Scalar b) => a.Equals(b);

    /// <summary>Different set description.</summary>
    public static bool operator !=(Scalar a, Scalar b) => !a.Equals(b);

    /// <summary>
    /// Kernel log notation: a constant prints as its signed value; otherwise <c>scalar(...)</c> lists the bounds that
    /// say something and the tnum when some bit is known.
    /// </summary>
    public override string ToString()
    {
        if (IsConst)
            return ((long)Bits.Value).ToString(CultureInfo.InvariantCulture);
        var text = new StringBuilder("scalar(");
        int count = 0;
        void Field(string name, string value)
        {
            if (count++ > 0)
                text.Append(',');
            text.Append(name).Append('=').Append(value);
        }
        if (SMin != long.MinValue) Field("smin", SMin.ToString(CultureInfo.InvariantCulture));
        if (SMax != long.MaxValue) Field("smax", SMax.ToString(CultureInfo.InvariantCulture));
        if (UMin != 0) Field("umin", UMin.ToString(CultureInfo.InvariantCulture));
        if (UMax != ulong.MaxValue) Field("umax", UMax.ToString(CultureInfo.InvariantCulture));
        if (S32Min != int.MinValue) Field("smin32", S32Min.ToString(CultureInfo.InvariantCulture));
        if (S32Max != int.MaxValue) Field("smax32", S32Max.ToString(CultureInfo.InvariantCulture));
        if (U32Min != 0) Field("umin32", U32Min.ToString(CultureInfo.InvariantCulture));
        if (U32Max != uint.MaxValue) Field("umax32", U32Max.ToString(CultureInfo.InvariantCulture));
        if (!Bits.IsUnknown) Field("var_off", Bits.ToString());
        return text.Append(')').ToString();
    }
}
