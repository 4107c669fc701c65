namespace BpfSharp.Verifier.Domains;

/// <summary>
/// Exact interval arithmetic for the bounds domains. Computations happen in <see cref="Int128"/>, where no 64-bit
/// operation on two operands can overflow, and are mapped back to a machine width afterwards.
/// </summary>
internal static class IntervalMath
{
    public static readonly Int128 Two32 = (Int128)1 << 32;

    /// <summary>Largest unsigned value of a width (8..64 bits).</summary>
    public static ulong MaxUnsigned(int width) => width >= 64 ? ulong.MaxValue : (1UL << width) - 1;

    /// <summary>Largest signed value of a width.</summary>
    public static long MaxSigned(int width) => (long)(MaxUnsigned(width) >> 1);

    /// <summary>Smallest signed value of a width.</summary>
    public static long MinSigned(int width) => -MaxSigned(width) - 1;

    /// <summary>Reads the low <paramref name="width"/> bits of <paramref name="x"/> as a signed number.</summary>
    public static long SignExtend(ulong x, int width)
    {
        int shift = 64 - width;
        return (long)(x << shift) >> shift;
    }

    /// <summary>
    /// Maps the exact interval [lo, hi] (every value of the operation's mathematical result lies in it) onto the
    /// wrapping number line whose window of representable values starts at <paramref name="windowBase"/> and is
    /// 2^width long. The result is an interval again only when lo and hi fall in the same window; otherwise false.
    /// </summary>
    public static bool TryWrap(Int128 lo, Int128 hi, Int128 windowBase, int width, out Int128 wrappedLo, out Int128 wrappedHi)
    {
        Int128 loWindow = (lo - windowBase) >> width; // arithmetic shift: floor division by 2^width
        Int128 hiWindow = (hi - windowBase) >> width;
        if (loWindow != hiWindow)
        {
            wrappedLo = wrappedHi = 0;
            return false;
        }
        Int128 shift = loWindow << width;
        wrappedLo = lo - shift;
        wrappedHi = hi - shift;
        return true;
    }

    /// <summary>Unsigned view of an exact interval at a width, or the full unsigned range.</summary>
    public static void WrapUnsigned(Int128 lo, Int128 hi, int width, out ulong min, out ulong max)
    {
        if (TryWrap(lo, hi, 0, width, out Int128 l, out Int128 h))
        {
            min = (ulong)l;
            max = (ulong)h;
        }
        else
        {
            min = 0;
            max = MaxUnsigned(width);
        }
    }

    /// <summary>Signed view of an exact interval at a width, or the full signed range.</summary>
    public static void WrapSigned(Int128 lo, Int128 hi, int width, out long min, out long max)
    {
        if (TryWrap(lo, hi, MinSigned(width), width, out Int128 l, out Int128 h))
        {
            min = (long)l;
            max = (long)h;
        }
        else
        {
            min = MinSigned(width);
            max = MaxSigned(width);
        }
    }

    /// <summary>
    /// Intersects the unsigned interval U with the signed interval S of the same width (both describe one set of
    /// bit patterns) and tightens both to the hull of the intersection. False when the intersection is empty.
    /// </summary>
    /// <remarks>
    /// S, seen as unsigned bit patterns, is one interval when it does not contain both -1 and 0, else two pieces
    /// [0, shi] and [slo + 2^w, 2^w - 1]. Each piece lies inside one sign half, so converting the intersected
    /// pieces back to signed keeps their order.
    /// </remarks>
    public static bool SyncSignedUnsigned(ref Int128 ulo, ref Int128 uhi, ref Int128 slo, ref Int128 shi, int width)
    {
        Int128 span = (Int128)1 << width;
        Int128 half = span >> 1;
        Int128 unsignedLo = ulo, unsignedHi = uhi;
        Int128 newUlo = Int128.MaxValue, newUhi = Int128.MinValue, newSlo = Int128.MaxValue, newShi = Int128.MinValue;
        bool any = false;

        void AddPiece(Int128 pieceLo, Int128 pieceHi)
        {
            Int128 lo = Int128.Max(pieceLo, unsignedLo);
            Int128 hi = Int128.Min(pieceHi, unsignedHi);
            if (lo > hi)
                return;
            any = true;
            newUlo = Int128.Min(newUlo, lo);
            newUhi = Int128.Max(newUhi, hi);
            newSlo = Int128.Min(newSlo, lo >= half ? lo - span : lo);
            newShi = Int128.Max(newShi, hi >= half ? hi - span : hi);
        }

        if (slo >= 0)
        {
            AddPiece(slo, shi);
        }
        else if (shi < 0)
        {
            AddPiece(slo + span, shi + span);
        }
        else
        {
            AddPiece(0, shi);
            AddPiece(slo + span, span - 1);
        }
        if (!any)
            return false;
        ulo = newUlo;
        uhi = newUhi;
        slo = newSlo;
        shi = newShi;
        return true;
    }

    /// <summary>
    /// The low <paramref name="width"/> bits of the values of an arc [a, b] of consecutive integers. When fewer than
    /// 2^width values are in the arc they form a contiguous arc on the circle of the smaller width, which is an
    /// unsigned interval unless it wraps past all-ones and a signed interval unless it wraps past the signed maximum.
    /// </summary>
    public static void ProjectArc(Int128 a, Int128 b, int width,
        out bool unsignedValid, out ulong umin, out ulong umax,
        out bool signedValid, out long smin, out long smax)
    {
        Int128 span = (Int128)1 << width;
        Int128 length = b - a;
        unsignedValid = signedValid = false;
        umin = umax = 0;
        smin = smax = 0;
        if (length >= span - 1)
            return;
        Int128 lowStart = a & (span - 1);
        if (lowStart + length < span)
        {
            unsignedValid = true;
            umin = (ulong)lowStart;
            umax = (ulong)(lowStart + length);
        }
        Int128 signedStart = lowStart >= (span >> 1) ? lowStart - span : lowStart;
        if (signedStart + length < (span >> 1))
        {
            signedValid = true;
            smin = (long)signedStart;
            smax = (long)(signedStart + length);
        }
    }

    /// <summary>
    /// Tightens the 64-bit interval [lo, hi] (unsigned or signed number line) to the values whose low 32 bits, read
    /// unsigned (<paramref name="lowSigned"/> false) or signed, lie in [c1, c2]. False when no value remains.
    /// </summary>
    public static bool TightenByLow32(ref Int128 lo, ref Int128 hi, Int128 c1, Int128 c2, bool lowSigned)
    {
        Int128 low = Low32(lo, lowSigned);
        Int128 baseOfLo = lo - low;
        if (low < c1)
            lo = baseOfLo + c1;
        else if (low > c2)
            lo = baseOfLo + Two32 + c1;

        low = Low32(hi, lowSigned);
        Int128 baseOfHi = hi - low;
        if (low > c2)
            hi = baseOfHi + c2;
        else if (low < c1)
            hi = baseOfHi - Two32 + c2;
        return lo <= hi;
    }

    private static Int128 Low32(Int128 x, bool signed)
    {
        Int128 low = x & (Two32 - 1);
        if (signed && low >= (Two32 >> 1))
            low -= Two32;
        return low;
    }
}
