using BpfSharp.Verifier.Domains;
using FsCheck;
using FsCheck.Fluent;

namespace BpfSharp.Verifier.Tests.Domains;

/// <summary>Runs FsCheck properties with a fixed case count and checks abstract values for well-formedness.</summary>
internal static class PropertyRunner
{
    public const int CasesPerProperty = 10_000;

    private static long _concreteChecks;

    /// <summary>Concrete membership checks made so far in this process (reported by the tests).</summary>
    public static long ConcreteChecks => Interlocked.Read(ref _concreteChecks);

    public static void CountCheck() => Interlocked.Increment(ref _concreteChecks);

    /// <summary>Runs <paramref name="property"/> on <see cref="CasesPerProperty"/> generated values; throws on the first failure.</summary>
    public static void Run<T>(Arbitrary<T> arbitrary, Func<T, bool> property, int cases = CasesPerProperty) =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(cases).WithQuietOnSuccess(true), Prop.ForAll(arbitrary, property));

    /// <summary>
    /// Well-formedness of a scalar: every minimum at most its maximum, the tnum invariant, the 64-bit endpoints
    /// members of the whole scalar (the views agree on them), the 32-bit endpoints admitted by the tnum and by the
    /// other 32-bit view, and normalisation idempotent.
    /// </summary>
    public static string? WellFormednessError(Scalar s)
    {
        if (s.UMin > s.UMax) return "umin > umax";
        if (s.SMin > s.SMax) return "smin > smax";
        if (s.U32Min > s.U32Max) return "u32min > u32max";
        if (s.S32Min > s.S32Max) return "s32min > s32max";
        if ((s.Bits.Value & s.Bits.Mask) != 0) return "tnum value & mask != 0";
        foreach (ulong end in (ReadOnlySpan<ulong>)[s.UMin, s.UMax, (ulong)s.SMin, (ulong)s.SMax])
        {
            if (!s.Contains(end))
                return $"64-bit endpoint 0x{end:x} is not a member";
        }
        foreach (uint low in (ReadOnlySpan<uint>)[s.U32Min, s.U32Max, (uint)s.S32Min, (uint)s.S32Max])
        {
            if (!s.Bits.Subreg.Contains(low) || low < s.U32Min || low > s.U32Max || (int)low < s.S32Min || (int)low > s.S32Max)
                return $"32-bit endpoint 0x{low:x} is not admitted by the other 32-bit views";
        }
        if (s.IsConst && (s.UMin != s.UMax || s.SMin != s.SMax || s.U32Min != s.U32Max || s.S32Min != s.S32Max))
            return "constant tnum with non-singleton bounds";
        Scalar again = s.Renormalise();
        if (again != s)
            return $"normalisation not idempotent: {again}";
        return null;
    }

    public static void AssertWellFormed(Scalar s, string context)
    {
        string? error = WellFormednessError(s);
        if (error != null)
            throw new Xunit.Sdk.XunitException($"{context}: ill-formed {s}: {error}");
    }
}
