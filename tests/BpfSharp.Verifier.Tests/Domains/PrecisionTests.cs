using BpfSharp.Verifier.Domains;
using Xunit;

namespace BpfSharp.Verifier.Tests.Domains;

/// <summary>
/// Precision with hand-computed expectations: soundness alone would accept "unknown" for everything, so these pin
/// down that the domain keeps what the kernel verifier keeps (constants fold, masks bound, comparisons refine).
/// </summary>
public sealed class PrecisionTests
{
    private const AluWidth W64 = AluWidth.Bits64;
    private const AluWidth W32 = AluWidth.Bits32;

    private static Scalar U(ulong min, ulong max) => Scalar.FromUnsignedRange(min, max);
    private static Scalar S(long min, long max) => Scalar.FromSignedRange(min, max);
    private static Scalar C(ulong v) => Scalar.Const(v);
    private static Scalar C(long v) => Scalar.Const(v);

    private static void Bounds(Scalar s, ulong umin, ulong umax)
    {
        Assert.Equal(umin, s.UMin);
        Assert.Equal(umax, s.UMax);
    }

    private static void Signed(Scalar s, long smin, long smax)
    {
        Assert.Equal(smin, s.SMin);
        Assert.Equal(smax, s.SMax);
    }

    public static TheoryData<ScalarBinaryOp, AluWidth, ulong, ulong, ulong> ConstantFolds() => new()
    {
        { ScalarBinaryOp.Add, W64, 3, 4, 7 },
        { ScalarBinaryOp.Add, W32, 0xFFFF_FFFF, 1, 0 },                       // wraps in 32 bits, zero-extended
        { ScalarBinaryOp.Add, W64, 0xFFFF_FFFF, 1, 0x1_0000_0000 },
        { ScalarBinaryOp.Sub, W64, 0, 1, ulong.MaxValue },
        { ScalarBinaryOp.Sub, W32, 0, 1, 0xFFFF_FFFF },
        { ScalarBinaryOp.Mul, W64, 6, 7, 42 },
        { ScalarBinaryOp.Mul, W32, 0x1_0000_0003, 5, 15 },                  // only the low halves take part
        { ScalarBinaryOp.Div, W64, 100, 7, 14 },
        { ScalarBinaryOp.Div, W64, 100, 0, 0 },                              // x / 0 = 0
        { ScalarBinaryOp.Mod, W64, 100, 7, 2 },
        { ScalarBinaryOp.Mod, W64, 100, 0, 100 },                            // x % 0 = x
        { ScalarBinaryOp.Mod, W32, 0xFFFF_FFFF_0000_0064, 0, 100 },          // 32-bit: upper half cleared
        { ScalarBinaryOp.SDiv, W64, unchecked((ulong)-7L), 2, unchecked((ulong)-3L) },   // truncates toward zero
        { ScalarBinaryOp.SDiv, W64, 0x8000_0000_0000_0000, ulong.MaxValue, 0x8000_0000_0000_0000 }, // MIN / -1 = MIN
        { ScalarBinaryOp.SDiv, W32, 0x8000_0000, 0xFFFF_FFFF, 0x8000_0000 },
        { ScalarBinaryOp.SMod, W64, unchecked((ulong)-7L), 2, unchecked((ulong)-1L) },    // sign of the dividend
        { ScalarBinaryOp.SMod, W32, 13, unchecked((ulong)-3L), 1 },          // conformance smod32-pos-by-neg-imm
        { ScalarBinaryOp.SMod, W64, 0x8000_0000_0000_0000, ulong.MaxValue, 0 }, // MIN % -1 = 0
        { ScalarBinaryOp.SMod, W32, unchecked((ulong)-10L), 0, 0xFFFF_FFF6 }, // conformance smod32-neg-by-zero-reg
        { ScalarBinaryOp.Lsh, W64, 1, 65, 2 },                               // amount masked to 63
        { ScalarBinaryOp.Lsh, W32, 1, 33, 2 },                               // amount masked to 31
        { ScalarBinaryOp.Rsh, W32, 0xFFFF_FFFF_8000_0000, 31, 1 },
        { ScalarBinaryOp.Arsh, W32, 0x8000_0000, 31, 0xFFFF_FFFF },          // sign of bit 31, zero-extended
        { ScalarBinaryOp.Arsh, W64, 0x8000_0000_0000_0000, 63, ulong.MaxValue },
        { ScalarBinaryOp.Xor, W64, 0xF0, 0xFF, 0x0F },
    };

    [Theory]
    [MemberData(nameof(ConstantFolds))]
    public void Constant_operands_fold_to_the_constant_result(ScalarBinaryOp op, AluWidth width, ulong a, ulong b, ulong expected)
    {
        Scalar result = ScalarAlu.Binary(op, C(a), C(b), width);
        Assert.True(result.IsConst, result.ToString());
        Assert.Equal(expected, result.ConstValue);
    }

    [Fact]
    public void And_with_a_mask_bounds_the_result()
    {
        // [0, 7] & 3: bits 0-1 unknown, the rest known 0, so [0, 3].
        Scalar r = ScalarAlu.And(U(0, 7), C(3UL));
        Bounds(r, 0, 3);
        Assert.Equal(Tnum.Create(0, 3), r.Bits);
        // unknown & 0xFF: the kernel's var_off=(0x0; 0xff), umax=255.
        Scalar byteMask = ScalarAlu.And(Scalar.Unknown, C(0xFFUL));
        Bounds(byteMask, 0, 255);
        Signed(byteMask, 0, 255);
        Assert.Equal("scalar(smin=0,smax=255,umax=255,smin32=0,smax32=255,umax32=255,var_off=(0x0; 0xff))", byteMask.ToString());
    }

    [Fact]
    public void Ranges_add_and_wrap()
    {
        Bounds(ScalarAlu.Add(U(10, 20), U(1, 2)), 11, 22);
        // [0, 0xFFFFFFFF] + 1 in 64 bits does not wrap.
        Bounds(ScalarAlu.Add(U(0, 0xFFFF_FFFF), C(1UL)), 1, 0x1_0000_0000);
        // [0xFFFFFFF0, 0xFFFFFFFF] + 0x10 in 32 bits wraps as a whole to [0, 0xF].
        Bounds(ScalarAlu.Add(U(0xFFFF_FFF0, 0xFFFF_FFFF), C(0x10UL), W32), 0, 0xF);
        // Signed [-5, 5] - 10 = [-15, -5].
        Signed(ScalarAlu.Sub(S(-5, 5), C(10L)), -15, -5);
    }

    [Fact]
    public void Shifts_and_multiplication_keep_ranges()
    {
        Scalar shifted = ScalarAlu.Binary(ScalarBinaryOp.Lsh, U(0, 255), C(8UL), W64);
        Bounds(shifted, 0, 0xFF00);
        Assert.Equal(Tnum.Create(0, 0xFF00), shifted.Bits);
        Bounds(ScalarAlu.Binary(ScalarBinaryOp.Rsh, Scalar.Unknown, C(60UL), W64), 0, 15);
        Signed(ScalarAlu.Binary(ScalarBinaryOp.Arsh, S(-16, 15), C(2UL), W64), -4, 3);
        Bounds(ScalarAlu.Binary(ScalarBinaryOp.Mul, U(2, 3), U(10, 20), W64), 20, 60);
        // A shift by an amount in [1, 2]: the join of shifting by 1 and by 2.
        Bounds(ScalarAlu.Binary(ScalarBinaryOp.Lsh, U(1, 3), U(1, 2), W64), 2, 12);
    }

    [Fact]
    public void Division_and_modulo_ranges()
    {
        Bounds(ScalarAlu.Binary(ScalarBinaryOp.Div, U(100, 200), U(2, 4), W64), 25, 100);
        Bounds(ScalarAlu.Binary(ScalarBinaryOp.Div, U(100, 200), U(0, 4), W64), 0, 200);
        Scalar mod16 = ScalarAlu.Binary(ScalarBinaryOp.Mod, U(0, 1000), C(16UL), W64);
        Bounds(mod16, 0, 15);
        Assert.Equal(Tnum.Create(0, 0xF), mod16.Bits);
        Bounds(ScalarAlu.Binary(ScalarBinaryOp.Mod, U(3, 5), U(10, 20), W64), 3, 5); // dividend below every divisor
        Signed(ScalarAlu.Binary(ScalarBinaryOp.SDiv, S(-100, 100), C(3L), W64), -33, 33);
        Signed(ScalarAlu.Binary(ScalarBinaryOp.SDiv, S(10, 20), S(-5, -2), W64), -10, -2);
        Signed(ScalarAlu.Binary(ScalarBinaryOp.SMod, S(-100, 100), C(7L), W64), -6, 6);
        Signed(ScalarAlu.Binary(ScalarBinaryOp.SMod, S(0, 100), C(-7L), W64), 0, 6);
    }

    [Fact]
    public void Sign_extension_and_byte_order()
    {
        Signed(ScalarAlu.Unary(ScalarUnaryOp.MovSx8, U(0, 255), W64), -128, 127);
        Assert.Equal(0xFFFF_FF80UL, ScalarAlu.Unary(ScalarUnaryOp.MovSx8, C(0x80UL), W32).ConstValue);
        Assert.Equal(0xFFFF_FFFF_FFFF_8000UL, ScalarAlu.Unary(ScalarUnaryOp.MovSx16, C(0x8000UL), W64).ConstValue);
        Assert.Equal(0xFFFF_FFFF_8000_0000UL, ScalarAlu.Unary(ScalarUnaryOp.MovSx32, C(0x8000_0000UL), W64).ConstValue);
        Assert.Equal(0x3412UL, ScalarAlu.Unary(ScalarUnaryOp.Bswap16, C(0xFFFF_1234UL), W64).ConstValue);
        Assert.Equal(0x5678UL, ScalarAlu.Unary(ScalarUnaryOp.ToLe16, C(0x1234_5678UL), W64).ConstValue);
        Assert.Equal(0x4433_2211UL, ScalarAlu.Unary(ScalarUnaryOp.ToBe32, C(0x1122_3344UL), W64).ConstValue);
        Assert.Equal(0x0807_0605_0403_0201UL, ScalarAlu.Unary(ScalarUnaryOp.Bswap64, C(0x0102_0304_0506_0708UL), W64).ConstValue);
        Assert.Equal(5UL, ScalarAlu.Unary(ScalarUnaryOp.Mov, C(0xFFFF_FFFF_0000_0005UL), W32).ConstValue);
        Assert.Equal(0xFFFF_FFFFUL, ScalarAlu.Unary(ScalarUnaryOp.Neg, C(1UL), W32).ConstValue);
        // le16 of any value is at most 0xFFFF; be16 of [0, 0xFF] moves the byte up: var_off (0x0; 0xff00).
        Bounds(ScalarAlu.Unary(ScalarUnaryOp.ToLe16, Scalar.Unknown, W64), 0, 0xFFFF);
        Assert.Equal(Tnum.Create(0, 0xFF00), ScalarAlu.Unary(ScalarUnaryOp.ToBe16, U(0, 255), W64).Bits);
    }

    [Fact]
    public void Comparisons_refine_both_successors()
    {
        // if x < 10: taken umax 9, fall-through umin 10.
        BranchOutcome lt = ScalarBranch.Refine(BranchCondition.Lt, Scalar.Unknown, C(10UL), W64);
        Bounds(lt.Taken.Left, 0, 9);
        Bounds(lt.NotTaken.Left, 10, ulong.MaxValue);
        // x in [0, 5]: x > 10 is never true.
        BranchOutcome gt = ScalarBranch.Refine(BranchCondition.Gt, U(0, 5), C(10UL), W64);
        Assert.True(gt.NeverTaken);
        // x == 5 makes x constant; x != 5 on [5, 10] starts at 6.
        BranchOutcome eq = ScalarBranch.Refine(BranchCondition.Eq, U(5, 10), C(5UL), W64);
        Assert.Equal(5UL, eq.Taken.Left.ConstValue);
        Bounds(eq.NotTaken.Left, 6, 10);
        // Signed: x s>= 0 on a signed-unknown value gives [0, S64_MAX], also as unsigned.
        BranchOutcome sge = ScalarBranch.Refine(BranchCondition.SGe, Scalar.Unknown, C(0UL), W64);
        Bounds(sge.Taken.Left, 0, long.MaxValue);
        Signed(sge.NotTaken.Left, long.MinValue, -1);
        // Register against register: a < b with a in [5, 10], b in [0, 7] gives a in [5, 6], b in [6, 7].
        BranchOutcome rr = ScalarBranch.Refine(BranchCondition.Lt, U(5, 10), U(0, 7), W64);
        Bounds(rr.Taken.Left, 5, 6);
        Bounds(rr.Taken.Right, 6, 7);
        // jset with a single bit: the bit is known 1 on the taken edge, known 0 on the other.
        BranchOutcome set = ScalarBranch.Refine(BranchCondition.Set, U(0, 255), C(8UL), W64);
        Assert.Equal(Tnum.Create(8, 0xF7), set.Taken.Left.Bits);
        Assert.Equal(Tnum.Create(0, 0xF7), set.NotTaken.Left.Bits);
        // x & 0x10 with x in [0, 15]: never taken.
        Assert.True(ScalarBranch.Refine(BranchCondition.Set, U(0, 15), C(0x10UL), W64).NeverTaken);
    }

    [Fact]
    public void Jmp32_comparisons_refine_the_low_half()
    {
        // w1 < 10 on an unknown register: low half in [0, 9], upper half still unknown, so the largest 64-bit
        // value is 0xFFFFFFFF_00000009.
        BranchOutcome lt = ScalarBranch.Refine(BranchCondition.Lt, Scalar.Unknown, C(10UL), W32);
        Assert.Equal(0u, lt.Taken.Left.U32Min);
        Assert.Equal(9u, lt.Taken.Left.U32Max);
        Assert.Equal(0xFFFF_FFFF_0000_0009UL, lt.Taken.Left.UMax);
        // For a value known to fit in 32 bits the 64-bit bounds follow.
        BranchOutcome small = ScalarBranch.Refine(BranchCondition.Lt, U(0, 0xFFFF_FFFF), C(10UL), W32);
        Bounds(small.Taken.Left, 0, 9);
        // w1 == -1 (imm sign-extended, compared in 32 bits) on a zero-extended value: low half 0xFFFFFFFF.
        BranchOutcome eq = ScalarBranch.Refine(BranchCondition.Eq, U(0, 0xFFFF_FFFF), C(-1L), W32);
        Assert.Equal(0xFFFF_FFFFUL, eq.Taken.Left.ConstValue);
    }

    [Fact]
    public void Normalisation_carries_information_between_views()
    {
        // Unsigned [0, 0xFFFFFFFF]: signed the same, tnum keeps the upper half zero.
        Scalar low = U(0, 0xFFFF_FFFF);
        Signed(low, 0, 0xFFFF_FFFF);
        Assert.Equal(Tnum.Create(0, 0xFFFF_FFFF), low.Bits);
        // Signed [-1, 1]: the low halves are {-1, 0, 1} as signed 32-bit.
        Scalar small = S(-1, 1);
        Assert.Equal(-1, small.S32Min);
        Assert.Equal(1, small.S32Max);
        Assert.Equal(0UL, small.UMin);
        Assert.Equal(ulong.MaxValue, small.UMax);
        // 64-bit [0x1_0000_0000, 0x2_FFFF_FFFF] whose low half is exactly 5.
        Assert.True(Scalar.TryCreate(Tnum.Unknown, 0x1_0000_0000, 0x2_FFFF_FFFF, long.MinValue, long.MaxValue, 5, 5,
            int.MinValue, int.MaxValue, out Scalar pinned));
        Bounds(pinned, 0x1_0000_0005, 0x2_0000_0005);
        Assert.Equal(Tnum.Create(0x5, 0x3_0000_0000), pinned.Bits);
        // Tnum (0x4; 0x3) = {4..7}: bounds follow.
        Bounds(Scalar.FromTnum(Tnum.Create(4, 3)), 4, 7);
        Assert.Equal(Tnum.Create(4, 3), Tnum.Range(5, 7));
        Assert.True(Tnum.Range(0, ulong.MaxValue).IsUnknown);
    }

    [Fact]
    public void Tnum_examples()
    {
        // {1, 3} + 1 = {2, 4}: bit 1 and the carry into bit 2 are unknown.
        Assert.Equal(Tnum.Create(0, 6), Tnum.Add(Tnum.Create(1, 2), Tnum.Const(1)));
        Assert.Equal(Tnum.Const(15), Tnum.Multiply(Tnum.Const(3), Tnum.Const(5)));
        // {0, 1} * 4 = {0, 4}.
        Assert.Equal(Tnum.Create(0, 4), Tnum.Multiply(Tnum.Create(0, 1), Tnum.Const(4)));
        Assert.Equal(Tnum.Const(0xF0F0), Tnum.And(Tnum.Const(0xFFFF), Tnum.Const(0xF0F0)));
        Assert.Equal(Tnum.Create(0xF800_0000, 0xF), Tnum.ArithmeticRightShift(Tnum.Create(0x8000_0000, 0xFF), 4, 32));
        Assert.Equal(Tnum.Create(0xFFFF_FFFF_FFFF_FF80, 0x7F), Tnum.Create(0x80, 0x7F).SignExtend(8)); // bit 7 known 1
        Assert.Equal(Tnum.Create(0, ulong.MaxValue << 7 | 0x7F), Tnum.Create(0, 0xFF).SignExtend(8));     // bit 7 unknown
        Assert.Equal("(0x8; 0xf7)", Tnum.Create(8, 0xF7).ToString());
    }
}
