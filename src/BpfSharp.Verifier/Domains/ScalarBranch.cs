using System.Numerics;

namespace BpfSharp.Verifier.Domains;

/// <summary>Conditions of the conditional jumps (RFC 9669 §4.3); unsigned unless the name says signed.</summary>
public enum BranchCondition
{
    /// <summary>JEQ: left == right.</summary>
    Eq,
    /// <summary>JNE: left != right.</summary>
    Ne,
    /// <summary>JGT: left &gt; right, unsigned.</summary>
    Gt,
    /// <summary>JGE: left &gt;= right, unsigned.</summary>
    Ge,
    /// <summary>JLT: left &lt; right, unsigned.</summary>
    Lt,
    /// <summary>JLE: left &lt;= right, unsigned.</summary>
    Le,
    /// <summary>JSGT: left &gt; right, signed.</summary>
    SGt,
    /// <summary>JSGE: left &gt;= right, signed.</summary>
    SGe,
    /// <summary>JSLT: left &lt; right, signed.</summary>
    SLt,
    /// <summary>JSLE: left &lt;= right, signed.</summary>
    SLe,
    /// <summary>JSET: (left &amp; right) != 0.</summary>
    Set,
}

/// <summary>One successor of a conditional jump: whether it can be reached, and the operands refined on it.</summary>
public readonly struct BranchEdge
{
    /// <summary>Creates an edge.</summary>
    public BranchEdge(bool isFeasible, Scalar left, Scalar right)
    {
        IsFeasible = isFeasible;
        Left = left;
        Right = right;
    }

    /// <summary>An edge no pair of members can take.</summary>
    public static BranchEdge Infeasible => default;

    /// <summary>False when no pair of concrete members takes this edge.</summary>
    public bool IsFeasible { get; }

    /// <summary>The left operand (the jump's dst register) on this edge; meaningless when infeasible.</summary>
    public Scalar Left { get; }

    /// <summary>The right operand (src register or immediate) on this edge; meaningless when infeasible.</summary>
    public Scalar Right { get; }

    /// <inheritdoc/>
    public override string ToString() => IsFeasible ? $"feasible({Left}, {Right})" : "infeasible";
}

/// <summary>Both successors of a conditional jump.</summary>
public readonly struct BranchOutcome
{
    /// <summary>Creates an outcome.</summary>
    public BranchOutcome(BranchEdge taken, BranchEdge notTaken)
    {
        Taken = taken;
        NotTaken = notTaken;
    }

    /// <summary>The jump target's successor (condition true).</summary>
    public BranchEdge Taken { get; }

    /// <summary>The fall-through successor (condition false).</summary>
    public BranchEdge NotTaken { get; }

    /// <summary>The condition holds for every pair of members (the kernel's <c>is_branch_taken</c> == 1).</summary>
    public bool AlwaysTaken => Taken.IsFeasible && !NotTaken.IsFeasible;

    /// <summary>The condition holds for no pair of members (<c>is_branch_taken</c> == 0).</summary>
    public bool NeverTaken => !Taken.IsFeasible && NotTaken.IsFeasible;
}

/// <summary>
/// Branch refinement (the kernel's <c>reg_set_min_max</c> / <c>is_branch_taken</c>): the operand values on each
/// successor of a conditional jump, as 64-bit or 32-bit (JMP32) comparisons.
/// </summary>
public static class ScalarBranch
{
    private enum Relation { Eq, Ne, ULt, ULe, UGt, UGe, SLt, SLe, SGt, SGe, Set, NotSet }

    /// <summary>Refines <paramref name="left"/> and <paramref name="right"/> for both successors of
    /// <c>if left cond right goto</c>. For a comparison with an immediate pass the immediate as a constant
    /// scalar (sign-extended to 64 bits, as the instruction does).</summary>
    public static BranchOutcome Refine(BranchCondition condition, Scalar left, Scalar right, AluWidth width)
    {
        Relation holds = condition switch
        {
            BranchCondition.Eq => Relation.Eq,
            BranchCondition.Ne => Relation.Ne,
            BranchCondition.Gt => Relation.UGt,
            BranchCondition.Ge => Relation.UGe,
            BranchCondition.Lt => Relation.ULt,
            BranchCondition.Le => Relation.ULe,
            BranchCondition.SGt => Relation.SGt,
            BranchCondition.SGe => Relation.SGe,
            BranchCondition.SLt => Relation.SLt,
            BranchCondition.SLe => Relation.SLe,
            BranchCondition.Set => Relation.Set,
            _ => throw new ArgumentOutOfRangeException(nameof(condition), condition, "unknown branch condition"),
        };
        return new BranchOutcome(Assume(holds, left, right, width), Assume(Negate(holds), left, right, width));
    }

    /// <summary>The negation of a condition: the condition under which the jump falls through.</summary>
    private static Relation Negate(Relation r) => r switch
    {
        Relation.Eq => Relation.Ne,
        Relation.Ne => Relation.Eq,
        Relation.ULt => Relation.UGe,
        Relation.UGe => Relation.ULt,
        Relation.ULe => Relation.UGt,
        Relation.UGt => Relation.ULe,
        Relation.SLt => Relation.SGe,
        Relation.SGe => Relation.SLt,
        Relation.SLe => Relation.SGt,
        Relation.SGt => Relation.SLe,
        Relation.Set => Relation.NotSet,
        _ => Relation.Set,
    };

    // Mutable copy of a lane while constraints are applied.
    private struct Bounds
    {
        public Tnum Bits;
        public ulong UMin, UMax;
        public long SMin, SMax;

        public Bounds(Lane lane)
        {
            Bits = lane.Bits;
            UMin = lane.UMin;
            UMax = lane.UMax;
            SMin = lane.SMin;
            SMax = lane.SMax;
        }

        public readonly bool IsEmpty => UMin > UMax || SMin > SMax;
    }

    private static BranchEdge Assume(Relation relation, Scalar left, Scalar right, AluWidth width)
    {
        int w = (int)width;
        var a = new Bounds(Lane.Of(left, w));
        var b = new Bounds(Lane.Of(right, w));
        if (!Constrain(relation, ref a, ref b, w) || a.IsEmpty || b.IsEmpty)
            return BranchEdge.Infeasible;
        if (!Rebuild(left, a, w, out Scalar newLeft) || !Rebuild(right, b, w, out Scalar newRight))
            return BranchEdge.Infeasible;
        return new BranchEdge(true, newLeft, newRight);
    }

    private static bool Rebuild(Scalar original, Bounds lane, int width, out Scalar result)
    {
        if (width == 64)
        {
            return Scalar.TryCreate(lane.Bits, lane.UMin, lane.UMax, lane.SMin, lane.SMax,
                original.U32Min, original.U32Max, original.S32Min, original.S32Max, out result);
        }
        return Scalar.TryCreate(original.Bits.WithSubreg(lane.Bits), original.UMin, original.UMax, original.SMin, original.SMax,
            (uint)lane.UMin, (uint)lane.UMax, (int)lane.SMin, (int)lane.SMax, out result);
    }

    private static bool Constrain(Relation relation, ref Bounds a, ref Bounds b, int width)
    {
        switch (relation)
        {
            case Relation.Eq:
                return Equal(ref a, ref b);
            case Relation.Ne:
                return NotEqual(ref a, b, width) && NotEqual(ref b, a, width);
            case Relation.ULt:
                return UnsignedLess(ref a, ref b, strict: true);
            case Relation.ULe:
                return UnsignedLess(ref a, ref b, strict: false);
            case Relation.UGt:
                return UnsignedLess(ref b, ref a, strict: true);
            case Relation.UGe:
                return UnsignedLess(ref b, ref a, strict: false);
            case Relation.SLt:
                return SignedLess(ref a, ref b, strict: true, width);
            case Relation.SLe:
                return SignedLess(ref a, ref b, strict: false, width);
            case Relation.SGt:
                return SignedLess(ref b, ref a, strict: true, width);
            case Relation.SGe:
                return SignedLess(ref b, ref a, strict: false, width);
            case Relation.Set:
                return AndNonZero(ref a, ref b, width);
            default:
                return AndZero(ref a, ref b);
        }
    }

    private static bool Equal(ref Bounds a, ref Bounds b)
    {
        if (!Tnum.TryIntersect(a.Bits, b.Bits, out Tnum bits))
            return false;
        a.Bits = b.Bits = bits;
        a.UMin = b.UMin = Math.Max(a.UMin, b.UMin);
        a.UMax = b.UMax = Math.Min(a.UMax, b.UMax);
        a.SMin = b.SMin = Math.Max(a.SMin, b.SMin);
        a.SMax = b.SMax = Math.Min(a.SMax, b.SMax);
        return !a.IsEmpty;
    }

    // Removes the other operand's value from this one when the other is a constant at an end of a range.
    private static bool NotEqual(ref Bounds x, Bounds other, int width)
    {
        if (!other.Bits.IsConst)
            return true;
        ulong c = other.Bits.Value;
        long sc = IntervalMath.SignExtend(c, width);
        if (!ExcludeUnsigned(ref x, c) || !ExcludeSigned(ref x, sc))
            return false;
        return !x.IsEmpty;
    }

    private static bool ExcludeUnsigned(ref Bounds x, ulong c)
    {
        if (x.UMin == c && x.UMax == c)
            return false;
        if (x.UMin == c)
            x.UMin++;
        else if (x.UMax == c)
            x.UMax--;
        return true;
    }

    private static bool ExcludeSigned(ref Bounds x, long c)
    {
        if (x.SMin == c && x.SMax == c)
            return false;
        if (x.SMin == c)
            x.SMin++;
        else if (x.SMax == c)
            x.SMax--;
        return true;
    }

    private static bool UnsignedLess(ref Bounds small, ref Bounds large, bool strict)
    {
        if (strict)
        {
            if (large.UMax == 0 || small.UMin == ulong.MaxValue)
                return false;
            small.UMax = Math.Min(small.UMax, large.UMax - 1);
            large.UMin = Math.Max(large.UMin, small.UMin + 1);
        }
        else
        {
            small.UMax = Math.Min(small.UMax, large.UMax);
            large.UMin = Math.Max(large.UMin, small.UMin);
        }
        return !small.IsEmpty && !large.IsEmpty;
    }

    private static bool SignedLess(ref Bounds small, ref Bounds large, bool strict, int width)
    {
        if (strict)
        {
            if (large.SMax == IntervalMath.MinSigned(width) || small.SMin == IntervalMath.MaxSigned(width))
                return false;
            small.SMax = Math.Min(small.SMax, large.SMax - 1);
            large.SMin = Math.Max(large.SMin, small.SMin + 1);
        }
        else
        {
            small.SMax = Math.Min(small.SMax, large.SMax);
            large.SMin = Math.Max(large.SMin, small.SMin);
        }
        return !small.IsEmpty && !large.IsEmpty;
    }

    private static bool AndNonZero(ref Bounds a, ref Bounds b, int width)
    {
        ulong commonMaybeOne = (a.Bits.Value | a.Bits.Mask) & (b.Bits.Value | b.Bits.Mask);
        if (commonMaybeOne == 0)
            return false;
        if (BitOperations.IsPow2(commonMaybeOne))
        {
            // Only one bit can be set in both: it must be set in both.
            var oneBit = Tnum.Create(commonMaybeOne, IntervalMath.MaxUnsigned(width) & ~commonMaybeOne);
            if (!Tnum.TryIntersect(a.Bits, oneBit, out a.Bits) || !Tnum.TryIntersect(b.Bits, oneBit, out b.Bits))
                return false;
        }
        // Neither operand can be zero.
        return ExcludeUnsigned(ref a, 0) && ExcludeSigned(ref a, 0) && ExcludeUnsigned(ref b, 0) && ExcludeSigned(ref b, 0)
            && !a.IsEmpty && !b.IsEmpty;
    }

    private static bool AndZero(ref Bounds a, ref Bounds b)
    {
        // A bit known to be 1 in one operand must be 0 in the other.
        if ((a.Bits.Value & b.Bits.Value) != 0)
            return false;
        ulong knownOnesA = a.Bits.Value, knownOnesB = b.Bits.Value;
        a.Bits = Tnum.Create(a.Bits.Value, a.Bits.Mask & ~knownOnesB);
        b.Bits = Tnum.Create(b.Bits.Value, b.Bits.Mask & ~knownOnesA);
        return true;
    }
}
