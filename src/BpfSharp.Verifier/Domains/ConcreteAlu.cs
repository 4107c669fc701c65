namespace BpfSharp.Verifier.Domains;

/// <summary>Concrete ALU semantics (RFC 9669 §4.1) on the low <c>width</c> bits, used to fold constants.</summary>
internal static class ConcreteAlu
{
    /// <summary>Result of <c>x op y</c> at a width of 32 or 64 bits, zero-extended.</summary>
    public static ulong Evaluate(ScalarBinaryOp op, ulong x, ulong y, int width)
    {
        ulong mask = IntervalMath.MaxUnsigned(width);
        x &= mask;
        y &= mask;
        long sx = IntervalMath.SignExtend(x, width), sy = IntervalMath.SignExtend(y, width);
        int shift = (int)(y & (ulong)(width - 1));
        ulong result = op switch
        {
            ScalarBinaryOp.Add => x + y,
            ScalarBinaryOp.Sub => x - y,
            ScalarBinaryOp.Mul => x * y,
            ScalarBinaryOp.Div => y == 0 ? 0 : x / y,
            ScalarBinaryOp.Mod => y == 0 ? x : x % y,
            ScalarBinaryOp.SDiv => sy == 0 ? 0 : sy == -1 ? (ulong)(0 - sx) : (ulong)(sx / sy),
            ScalarBinaryOp.SMod => sy == 0 ? x : sy == -1 ? 0 : (ulong)(sx % sy),
            ScalarBinaryOp.And => x & y,
            ScalarBinaryOp.Or => x | y,
            ScalarBinaryOp.Xor => x ^ y,
            ScalarBinaryOp.Lsh => x << shift,
            ScalarBinaryOp.Rsh => x >> shift,
            ScalarBinaryOp.Arsh => (ulong)(sx >> shift),
            _ => throw new ArgumentOutOfRangeException(nameof(op), op, "unknown binary operation"),
        };
        return result & mask;
    }
}
