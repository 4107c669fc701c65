namespace BpfSharp.Verifier.Domains;

/// <summary>
/// The low <see cref="Width"/> bits (8, 16, 32 or 64) of a scalar: tnum and unsigned/signed bounds at that width.
/// Transfer functions compute on lanes so one implementation serves 64-bit and 32-bit instructions; the two bound
/// views of a lane are each sound but not necessarily synchronised with each other.
/// </summary>
internal readonly struct Lane
{
    public readonly int Width;
    public readonly Tnum Bits;
    public readonly ulong UMin, UMax;
    public readonly long SMin, SMax;

    public Lane(int width, Tnum bits, ulong umin, ulong umax, long smin, long smax)
    {
        Width = width;
        Bits = bits.Truncate(width);
        UMin = umin;
        UMax = umax;
        SMin = smin;
        SMax = smax;
    }

    public ulong MaxUnsigned => IntervalMath.MaxUnsigned(Width);
    public long MinSigned => IntervalMath.MinSigned(Width);
    public long MaxSigned => IntervalMath.MaxSigned(Width);
    public bool IsConst => Bits.IsConst;
    public ulong ConstValue => Bits.Value;
    public long ConstSigned => IntervalMath.SignExtend(Bits.Value, Width);

    public static Lane Full(int width) =>
        new(width, Tnum.Unknown, 0, IntervalMath.MaxUnsigned(width), IntervalMath.MinSigned(width), IntervalMath.MaxSigned(width));

    public static Lane Const(int width, ulong value)
    {
        ulong truncated = value & IntervalMath.MaxUnsigned(width);
        long signed = IntervalMath.SignExtend(truncated, width);
        return new Lane(width, Tnum.Const(truncated), truncated, truncated, signed, signed);
    }

    /// <summary>Lane with the given tnum; the bounds are those the tnum implies.</summary>
    public static Lane FromBits(int width, Tnum bits)
    {
        Tnum t = bits.Truncate(width);
        ulong sign = 1UL << (width - 1);
        long smin = IntervalMath.SignExtend(t.Value | (t.Mask & sign), width);
        long smax = IntervalMath.SignExtend(t.Value | (t.Mask & ~sign), width);
        return new Lane(width, t, t.UnsignedMin, t.UnsignedMax, smin, smax);
    }

    /// <summary>The low <paramref name="width"/> bits of <paramref name="s"/>.</summary>
    public static Lane Of(Scalar s, int width)
    {
        switch (width)
        {
            case 64:
                return new Lane(64, s.Bits, s.UMin, s.UMax, s.SMin, s.SMax);
            case 32:
                return new Lane(32, s.Bits, s.U32Min, s.U32Max, s.S32Min, s.S32Max);
            default:
                Lane fromBits = FromBits(width, s.Bits);
                ulong umin = fromBits.UMin, umax = fromBits.UMax;
                long smin = fromBits.SMin, smax = fromBits.SMax;
                // The 32-bit views are arcs; their low bits are arcs of the narrower circle.
                Narrow(s.U32Min, s.U32Max, width, ref umin, ref umax, ref smin, ref smax);
                Narrow(s.S32Min, s.S32Max, width, ref umin, ref umax, ref smin, ref smax);
                return new Lane(width, s.Bits, umin, umax, smin, smax);
        }
    }

    private static void Narrow(Int128 a, Int128 b, int width, ref ulong umin, ref ulong umax, ref long smin, ref long smax)
    {
        IntervalMath.ProjectArc(a, b, width, out bool unsignedValid, out ulong pumin, out ulong pumax,
            out bool signedValid, out long psmin, out long psmax);
        if (unsignedValid)
        {
            umin = Math.Max(umin, pumin);
            umax = Math.Min(umax, pumax);
        }
        if (signedValid)
        {
            smin = Math.Max(smin, psmin);
            smax = Math.Min(smax, psmax);
        }
    }

    public static Lane Join(Lane a, Lane b) => new(a.Width, Tnum.Union(a.Bits, b.Bits),
        Math.Min(a.UMin, b.UMin), Math.Max(a.UMax, b.UMax), Math.Min(a.SMin, b.SMin), Math.Max(a.SMax, b.SMax));

    /// <summary>Same lane with its unsigned and signed views intersected with each other.</summary>
    private void Synchronised(out ulong umin, out ulong umax, out long smin, out long smax)
    {
        Int128 ulo = UMin, uhi = UMax, slo = SMin, shi = SMax;
        if (!IntervalMath.SyncSignedUnsigned(ref ulo, ref uhi, ref slo, ref shi, Width))
            throw new VerifierInternalException($"empty {Width}-bit lane {Bits} u=[{UMin},{UMax}] s=[{SMin},{SMax}]");
        umin = (ulong)ulo;
        umax = (ulong)uhi;
        smin = (long)slo;
        smax = (long)shi;
    }

    /// <summary>The scalar holding this lane's value zero-extended to 64 bits.</summary>
    public Scalar ZeroExtend()
    {
        Synchronised(out ulong umin, out ulong umax, out long smin, out long smax);
        if (Width == 64)
            return Scalar.Build(Bits, umin, umax, smin, smax, 0, uint.MaxValue, int.MinValue, int.MaxValue);
        int s32min = Width == 32 ? (int)smin : (int)umin;
        int s32max = Width == 32 ? (int)smax : (int)umax;
        return Scalar.Build(Bits, umin, umax, (long)umin, (long)umax, (uint)umin, (uint)umax, s32min, s32max);
    }

    /// <summary>
    /// The scalar holding this lane's value sign-extended to <paramref name="toWidth"/> bits (32 or 64); a 32-bit
    /// result is then zero-extended to 64 bits as every 32-bit ALU result is.
    /// </summary>
    public Scalar SignExtend(int toWidth)
    {
        Synchronised(out ulong umin, out ulong umax, out long smin, out long smax);
        Tnum extended = Bits.SignExtend(Width);
        if (toWidth == 64)
        {
            // For a 32-bit lane the low half is unchanged, so its unsigned view carries over too.
            uint u32min = Width == 32 ? (uint)umin : 0;
            uint u32max = Width == 32 ? (uint)umax : uint.MaxValue;
            return Scalar.Build(extended, 0, ulong.MaxValue, smin, smax, u32min, u32max, (int)smin, (int)smax);
        }
        return Scalar.Build(extended.Truncate(32), 0, uint.MaxValue, 0, uint.MaxValue, 0, uint.MaxValue, (int)smin, (int)smax);
    }

    public override string ToString() => $"lane{Width}({Bits} u=[{UMin},{UMax}] s=[{SMin},{SMax}])";
}
