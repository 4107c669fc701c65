using System.Numerics;

namespace BpfSharp.Verifier.Domains;

/// <summary>Operand width of an ALU instruction: the ALU class works on 32 bits and zero-extends, ALU64 on 64.</summary>
public enum AluWidth
{
    /// <summary>BPF_ALU: operate on the low 32 bits, zero-extend the result to 64 bits.</summary>
    Bits32 = 32,

    /// <summary>BPF_ALU64: operate on all 64 bits.</summary>
    Bits64 = 64,
}

/// <summary>Two-operand ALU operations (RFC 9669 §4.1) as seen by the scalar domain.</summary>
public enum ScalarBinaryOp
{
    /// <summary>dst + src, wrapping.</summary>
    Add,
    /// <summary>dst - src, wrapping.</summary>
    Sub,
    /// <summary>dst * src, wrapping.</summary>
    Mul,
    /// <summary>Unsigned dst / src; division by zero yields 0.</summary>
    Div,
    /// <summary>Unsigned dst % src; modulo by zero leaves dst.</summary>
    Mod,
    /// <summary>Signed dst / src truncating toward zero; by zero yields 0; MIN / -1 yields MIN.</summary>
    SDiv,
    /// <summary>Signed remainder with the dividend's sign; by zero leaves dst; MIN % -1 yields 0.</summary>
    SMod,
    /// <summary>Bitwise and.</summary>
    And,
    /// <summary>Bitwise or.</summary>
    Or,
    /// <summary>Bitwise exclusive or.</summary>
    Xor,
    /// <summary>Left shift; the amount is masked to the width (63 or 31).</summary>
    Lsh,
    /// <summary>Logical right shift; the amount is masked.</summary>
    Rsh,
    /// <summary>Arithmetic right shift; the amount is masked.</summary>
    Arsh,
}

/// <summary>One-operand ALU operations and moves (RFC 9669 §4.1-4.2).</summary>
public enum ScalarUnaryOp
{
    /// <summary>Two's complement negation (width from the instruction class).</summary>
    Neg,
    /// <summary>Copy; the 32-bit form zero-extends the low half.</summary>
    Mov,
    /// <summary>Sign-extend the low 8 bits (to 64, or to 32 then zero-extend).</summary>
    MovSx8,
    /// <summary>Sign-extend the low 16 bits.</summary>
    MovSx16,
    /// <summary>Sign-extend the low 32 bits to 64 (ALU64 only).</summary>
    MovSx32,
    /// <summary>Unconditional byte swap of the low 16 bits, zero-extended (ALU64 END).</summary>
    Bswap16,
    /// <summary>Unconditional byte swap of the low 32 bits, zero-extended.</summary>
    Bswap32,
    /// <summary>Unconditional byte swap of all 64 bits.</summary>
    Bswap64,
    /// <summary>To little-endian 16: on a little-endian host, truncation to 16 bits.</summary>
    ToLe16,
    /// <summary>To little-endian 32: truncation to 32 bits.</summary>
    ToLe32,
    /// <summary>To little-endian 64: no change.</summary>
    ToLe64,
    /// <summary>To big-endian 16: byte swap of the low 16 bits.</summary>
    ToBe16,
    /// <summary>To big-endian 32: byte swap of the low 32 bits.</summary>
    ToBe32,
    /// <summary>To big-endian 64: byte swap.</summary>
    ToBe64,
}

/// <summary>
/// Transfer functions of the scalar domain: for abstract operands, an abstract result containing the concrete
/// result for every pair of concrete members (RFC 9669 semantics, including x/0 = 0, x%0 = x, masked shift
/// amounts and 32-bit zero extension).
/// </summary>
public static class ScalarAlu
{
    /// <summary>The abstract result of <c>dst = dst op src</c>.</summary>
    public static Scalar Binary(ScalarBinaryOp op, Scalar dst, Scalar src, AluWidth width)
    {
        int bits = (int)width;
        Lane a = Lane.Of(dst, bits), b = Lane.Of(src, bits);
        Scalar result = Compute(op, a, b).ZeroExtend();
        if (width == AluWidth.Bits64 && LowHalfDependsOnlyOnLowHalves(op))
            result = ConstrainLow32(result, Compute(op, Lane.Of(dst, 32), Lane.Of(src, 32)));
        if (a.IsConst && b.IsConst)
            result = MeetChecked(result, Scalar.Const(ConcreteAlu.Evaluate(op, a.ConstValue, b.ConstValue, bits)), op);
        return result;
    }

    /// <summary>The abstract result of a one-operand operation or move. <paramref name="width"/> selects the
    /// ALU or ALU64 form for <see cref="ScalarUnaryOp.Neg"/>, <see cref="ScalarUnaryOp.Mov"/> and the
    /// <c>MovSx</c> forms; the byte-order operations carry their width in the operation.</summary>
    public static Scalar Unary(ScalarUnaryOp op, Scalar value, AluWidth width)
    {
        int bits = (int)width;
        switch (op)
        {
            case ScalarUnaryOp.Neg:
                return Binary(ScalarBinaryOp.Sub, Scalar.Const(0UL), value, width);
            case ScalarUnaryOp.Mov:
                return width == AluWidth.Bits64 ? value : Lane.Of(value, 32).ZeroExtend();
            case ScalarUnaryOp.MovSx8:
                return Lane.Of(value, 8).SignExtend(bits);
            case ScalarUnaryOp.MovSx16:
                return Lane.Of(value, 16).SignExtend(bits);
            case ScalarUnaryOp.MovSx32:
                if (width != AluWidth.Bits64)
                    throw new ArgumentException("movsx from 32 bits exists only in the ALU64 class", nameof(width));
                return Lane.Of(value, 32).SignExtend(64);
            case ScalarUnaryOp.Bswap16:
            case ScalarUnaryOp.ToBe16:
                return Swap(value, 16);
            case ScalarUnaryOp.Bswap32:
            case ScalarUnaryOp.ToBe32:
                return Swap(value, 32);
            case ScalarUnaryOp.Bswap64:
            case ScalarUnaryOp.ToBe64:
                return Swap(value, 64);
            case ScalarUnaryOp.ToLe16:
                return Lane.Of(value, 16).ZeroExtend();
            case ScalarUnaryOp.ToLe32:
                return Lane.Of(value, 32).ZeroExtend();
            case ScalarUnaryOp.ToLe64:
                return value;
            default:
                throw new ArgumentOutOfRangeException(nameof(op), op, "unknown unary operation");
        }
    }

    /// <summary>Abstract <c>dst + src</c>.</summary>
    public static Scalar Add(Scalar dst, Scalar src, AluWidth width = AluWidth.Bits64) => Binary(ScalarBinaryOp.Add, dst, src, width);

    /// <summary>Abstract <c>dst - src</c>.</summary>
    public static Scalar Sub(Scalar dst, Scalar src, AluWidth width = AluWidth.Bits64) => Binary(ScalarBinaryOp.Sub, dst, src, width);

    /// <summary>Abstract <c>dst &amp; src</c>.</summary>
    public static Scalar And(Scalar dst, Scalar src, AluWidth width = AluWidth.Bits64) => Binary(ScalarBinaryOp.And, dst, src, width);

    private static bool LowHalfDependsOnlyOnLowHalves(ScalarBinaryOp op) => op is ScalarBinaryOp.Add or ScalarBinaryOp.Sub
        or ScalarBinaryOp.Mul or ScalarBinaryOp.And or ScalarBinaryOp.Or or ScalarBinaryOp.Xor;

    private static Scalar ConstrainLow32(Scalar s, Lane low)
    {
        if (!Tnum.TryIntersect(s.Bits.Subreg, low.Bits, out Tnum lowBits))
            throw new VerifierInternalException($"low-half tnum {low.Bits} contradicts {s}");
        return Scalar.Build(s.Bits.WithSubreg(lowBits), s.UMin, s.UMax, s.SMin, s.SMax,
            Math.Max(s.U32Min, (uint)low.UMin), Math.Min(s.U32Max, (uint)low.UMax),
            Math.Max(s.S32Min, (int)low.SMin), Math.Min(s.S32Max, (int)low.SMax));
    }

    // Constant operands are also computed concretely; the general result must contain that value, which makes
    // any unsound general rule fail loudly instead of silently.
    private static Scalar MeetChecked(Scalar general, Scalar exact, ScalarBinaryOp op)
    {
        if (!Scalar.TryMeet(general, exact, out Scalar met))
            throw new VerifierInternalException($"{op}: constant result {exact} is outside the computed {general}");
        return met;
    }

    private static Scalar Swap(Scalar value, int bits)
    {
        Lane lane = Lane.Of(value, bits);
        return Lane.FromBits(bits, lane.Bits.ByteSwap(bits / 8)).ZeroExtend();
    }

    private static Lane Compute(ScalarBinaryOp op, Lane a, Lane b) => op switch
    {
        ScalarBinaryOp.Add => Add(a, b),
        ScalarBinaryOp.Sub => Sub(a, b),
        ScalarBinaryOp.Mul => Mul(a, b),
        ScalarBinaryOp.Div => Div(a, b),
        ScalarBinaryOp.Mod => Mod(a, b),
        ScalarBinaryOp.SDiv => SignedDiv(a, b),
        ScalarBinaryOp.SMod => SignedMod(a, b),
        ScalarBinaryOp.And => And(a, b),
        ScalarBinaryOp.Or => Or(a, b),
        ScalarBinaryOp.Xor => Xor(a, b),
        ScalarBinaryOp.Lsh or ScalarBinaryOp.Rsh or ScalarBinaryOp.Arsh => Shift(op, a, b),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary operation"),
    };

    private static Lane FromExact(int width, Tnum bits, Int128 ulo, Int128 uhi, Int128 slo, Int128 shi)
    {
        IntervalMath.WrapUnsigned(ulo, uhi, width, out ulong umin, out ulong umax);
        IntervalMath.WrapSigned(slo, shi, width, out long smin, out long smax);
        return new Lane(width, bits, umin, umax, smin, smax);
    }

    private static Lane Add(Lane a, Lane b) => FromExact(a.Width, Tnum.Add(a.Bits, b.Bits),
        (Int128)a.UMin + b.UMin, (Int128)a.UMax + b.UMax, (Int128)a.SMin + b.SMin, (Int128)a.SMax + b.SMax);

    private static Lane Sub(Lane a, Lane b) => FromExact(a.Width, Tnum.Subtract(a.Bits, b.Bits),
        (Int128)a.UMin - b.UMax, (Int128)a.UMax - b.UMin, (Int128)a.SMin - b.SMax, (Int128)a.SMax - b.SMin);

    private static Lane Mul(Lane a, Lane b)
    {
        int w = a.Width;
        Tnum bits = Tnum.Multiply(a.Bits, b.Bits);
        ulong umin = 0, umax = a.MaxUnsigned;
        UInt128 productHi = (UInt128)a.UMax * b.UMax;
        if (productHi <= a.MaxUnsigned)
        {
            umin = (ulong)((UInt128)a.UMin * b.UMin);
            umax = (ulong)productHi;
        }
        // Products of two values of at most 64 bits fit in Int128; the extremes are at the corners.
        Int128 p1 = (Int128)a.SMin * b.SMin, p2 = (Int128)a.SMin * b.SMax;
        Int128 p3 = (Int128)a.SMax * b.SMin, p4 = (Int128)a.SMax * b.SMax;
        Int128 lo = Int128.Min(Int128.Min(p1, p2), Int128.Min(p3, p4));
        Int128 hi = Int128.Max(Int128.Max(p1, p2), Int128.Max(p3, p4));
        IntervalMath.WrapSigned(lo, hi, w, out long smin, out long smax);
        return new Lane(w, bits, umin, umax, smin, smax);
    }

    private static Lane Div(Lane a, Lane b)
    {
        int w = a.Width;
        if (b.UMax == 0)
            return Lane.Const(w, 0);
        ulong smallestNonZero = Math.Max(b.UMin, 1);
        ulong qmin = b.UMin == 0 ? 0 : a.UMin / b.UMax;
        ulong qmax = a.UMax / smallestNonZero;
        Tnum bits = Tnum.Unknown;
        if (b.IsConst && BitOperations.IsPow2(b.ConstValue))
            bits = Tnum.RightShift(a.Bits, BitOperations.TrailingZeroCount(b.ConstValue));
        return new Lane(w, bits, qmin, qmax, a.MinSigned, a.MaxSigned);
    }

    private static Lane Mod(Lane a, Lane b)
    {
        int w = a.Width;
        if (b.UMax == 0)
            return a;
        ulong smallestNonZero = Math.Max(b.UMin, 1);
        if (a.UMax < smallestNonZero)
            return a; // every dividend is below every non-zero divisor, and x % 0 == x
        ulong rmax = Math.Min(a.UMax, b.UMax - 1);
        if (b.UMin == 0)
            rmax = a.UMax; // a zero divisor leaves the dividend
        Tnum bits = Tnum.Unknown;
        if (b.IsConst && BitOperations.IsPow2(b.ConstValue))
            bits = Tnum.And(a.Bits, Tnum.Const(b.ConstValue - 1));
        return new Lane(w, bits, 0, rmax, a.MinSigned, a.MaxSigned);
    }

    private static Lane SignedDiv(Lane a, Lane b)
    {
        int w = a.Width;
        if (b.SMin == 0 && b.SMax == 0)
            return Lane.Const(w, 0);
        Int128 lo = Int128.MaxValue, hi = Int128.MinValue;
        // On each sign-constant piece of the divisor, truncating division is monotone in each operand separately,
        // so the extremes are at the corners.
        void Piece(long dlo, long dhi)
        {
            if (dlo > dhi)
                return;
            foreach (Int128 n in (ReadOnlySpan<Int128>)[a.SMin, a.SMax])
            {
                foreach (Int128 d in (ReadOnlySpan<Int128>)[dlo, dhi])
                {
                    Int128 q = n / d;
                    lo = Int128.Min(lo, q);
                    hi = Int128.Max(hi, q);
                }
            }
        }
        Piece(b.SMin, Math.Min(b.SMax, -1));
        Piece(Math.Max(b.SMin, 1), b.SMax);
        if (b.SMin <= 0 && b.SMax >= 0)
        {
            lo = Int128.Min(lo, 0);
            hi = Int128.Max(hi, 0);
        }
        if (hi > a.MaxSigned)
        {
            // Only MIN / -1 exceeds the range; it wraps to MIN.
            lo = a.MinSigned;
            hi = a.MaxSigned;
        }
        return new Lane(w, Tnum.Unknown, 0, a.MaxUnsigned, (long)lo, (long)hi);
    }

    private static Lane SignedMod(Lane a, Lane b)
    {
        int w = a.Width;
        if (b.SMin == 0 && b.SMax == 0)
            return a;
        bool hasNegative = b.SMin < 0, hasPositive = b.SMax > 0;
        // Magnitudes of the non-zero divisors.
        Int128 largest = Int128.Max(hasNegative ? -(Int128)b.SMin : 0, hasPositive ? b.SMax : 0);
        Int128 smallest = Int128.Min(hasNegative ? -(Int128)Math.Min(b.SMax, -1) : Int128.MaxValue,
            hasPositive ? Math.Max(b.SMin, 1) : Int128.MaxValue);
        if (a.SMin > -smallest && a.SMax < smallest)
            return a; // |dividend| below every |divisor|: the remainder is the dividend
        Int128 bound = largest - 1;
        // The remainder takes the dividend's sign and is smaller in magnitude than both operands.
        Int128 lo = a.SMin >= 0 ? 0 : Int128.Max(a.SMin, -bound);
        Int128 hi = a.SMax <= 0 ? 0 : Int128.Min(a.SMax, bound);
        if (b.SMin <= 0 && b.SMax >= 0)
        {
            // A zero divisor leaves the dividend.
            lo = Int128.Min(lo, a.SMin);
            hi = Int128.Max(hi, a.SMax);
        }
        return new Lane(w, Tnum.Unknown, 0, a.MaxUnsigned, (long)lo, (long)hi);
    }

    private static Lane And(Lane a, Lane b)
    {
        int w = a.Width;
        long smin = a.MinSigned, smax = a.MaxSigned;
        if (a.SMin >= 0 || b.SMin >= 0)
        {
            // A non-negative operand bounds the result from above and keeps its sign bit clear.
            smin = 0;
            smax = Math.Min(a.SMin >= 0 ? a.SMax : long.MaxValue, b.SMin >= 0 ? b.SMax : long.MaxValue);
        }
        else if (a.SMax < 0 && b.SMax < 0)
        {
            // Both negative: the result is negative and, as a pattern in the upper half, below both.
            smax = Math.Min(a.SMax, b.SMax);
        }
        return new Lane(w, Tnum.And(a.Bits, b.Bits), 0, Math.Min(a.UMax, b.UMax), smin, smax);
    }

    private static Lane Or(Lane a, Lane b)
    {
        int w = a.Width;
        long smin = a.MinSigned, smax = a.MaxSigned;
        if (a.SMin >= 0 && b.SMin >= 0)
        {
            smin = Math.Max(a.SMin, b.SMin);
        }
        else if (a.SMax < 0 || b.SMax < 0)
        {
            // A negative operand makes the result negative and not below it.
            smax = -1;
            smin = Math.Max(a.SMax < 0 ? a.SMin : long.MinValue, b.SMax < 0 ? b.SMin : long.MinValue);
        }
        return new Lane(w, Tnum.Or(a.Bits, b.Bits), Math.Max(a.UMin, b.UMin), a.MaxUnsigned, smin, smax);
    }

    private static Lane Xor(Lane a, Lane b)
    {
        int w = a.Width;
        long smin = a.MinSigned, smax = a.MaxSigned;
        bool aKnownSign = a.SMin >= 0 || a.SMax < 0, bKnownSign = b.SMin >= 0 || b.SMax < 0;
        if (aKnownSign && bKnownSign)
        {
            if ((a.SMin >= 0) == (b.SMin >= 0))
                smin = 0;
            else
                smax = -1;
        }
        return new Lane(w, Tnum.Xor(a.Bits, b.Bits), 0, a.MaxUnsigned, smin, smax);
    }

    private static Lane Shift(ScalarBinaryOp op, Lane a, Lane b)
    {
        int w = a.Width;
        int amountBits = w == 64 ? 6 : 5;
        // The run-time amount is the low bits of the source: collect every amount the source allows.
        Lane amounts = Lane.Of(b.ZeroExtend(), amountBits);
        Lane result = default;
        bool any = false;
        for (int s = (int)amounts.UMin; s <= (int)amounts.UMax; s++)
        {
            if (!amounts.Bits.Contains((ulong)s))
                continue;
            long signedAmount = IntervalMath.SignExtend((ulong)s, amountBits);
            if (signedAmount < amounts.SMin || signedAmount > amounts.SMax)
                continue;
            Lane shifted = ShiftBy(op, a, s);
            result = any ? Lane.Join(result, shifted) : shifted;
            any = true;
        }
        if (!any)
            throw new VerifierInternalException($"no possible shift amount in {b}");
        return result;
    }

    private static Lane ShiftBy(ScalarBinaryOp op, Lane a, int s)
    {
        int w = a.Width;
        switch (op)
        {
            case ScalarBinaryOp.Lsh:
                return FromExact(w, Tnum.LeftShift(a.Bits, s), (Int128)a.UMin << s, (Int128)a.UMax << s,
                    (Int128)a.SMin << s, (Int128)a.SMax << s);
            case ScalarBinaryOp.Rsh:
                return s == 0 ? a : new Lane(w, Tnum.RightShift(a.Bits, s), a.UMin >> s, a.UMax >> s, 0, (long)(a.MaxUnsigned >> s));
            default:
                return new Lane(w, Tnum.ArithmeticRightShift(a.Bits, s, w), s == 0 ? a.UMin : 0, s == 0 ? a.UMax : a.MaxUnsigned,
                    a.SMin >> s, a.SMax >> s);
        }
    }
}
