using BpfSharp.Verifier.Domains;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace BpfSharp.Verifier.Tests.Domains;

/// <summary>Soundness of every tnum operation on random tnums and members, 10,000 cases each.</summary>
public sealed class TnumPropertyTests
{
    private static void Invariant(Tnum t, string context)
    {
        if ((t.Value & t.Mask) != 0)
            throw new Xunit.Sdk.XunitException($"{context}: tnum invariant broken in {t}");
    }

    private static void Member(Tnum t, ulong x, string context)
    {
        Invariant(t, context);
        if (!t.Contains(x))
            throw new Xunit.Sdk.XunitException($"{context}: 0x{x:x} not in {t}");
    }

    public static TheoryData<string> BinaryOps() => new() { "add", "sub", "mul", "and", "or", "xor", "union" };

    [Theory]
    [MemberData(nameof(BinaryOps))]
    public void Binary_operations_contain_every_concrete_result(string op)
    {
        PropertyRunner.Run(DomainGenerators.TnumPairs, pair =>
        {
            var (a, b) = pair;
            Tnum result = op switch
            {
                "add" => Tnum.Add(a.Value, b.Value),
                "sub" => Tnum.Subtract(a.Value, b.Value),
                "mul" => Tnum.Multiply(a.Value, b.Value),
                "and" => Tnum.And(a.Value, b.Value),
                "or" => Tnum.Or(a.Value, b.Value),
                "xor" => Tnum.Xor(a.Value, b.Value),
                _ => Tnum.Union(a.Value, b.Value),
            };
            foreach (ulong x in a.Members)
            {
                foreach (ulong y in b.Members)
                {
                    ulong concrete = op switch
                    {
                        "add" => unchecked(x + y),
                        "sub" => unchecked(x - y),
                        "mul" => unchecked(x * y),
                        "and" => x & y,
                        "or" => x | y,
                        "xor" => x ^ y,
                        _ => x,
                    };
                    Member(result, concrete, $"{a} {op} {b} = {result} for 0x{x:x}, 0x{y:x}");
                    if (op == "union")
                        Member(result, y, $"{a} union {b}");
                }
            }
            if (op == "union" && (!a.Value.IsSubsetOf(result) || !b.Value.IsSubsetOf(result)))
                throw new Xunit.Sdk.XunitException($"union {result} does not cover {a} and {b}");
            return true;
        });
    }

    private static readonly Arbitrary<(TnumSample, int)> TnumAndShift =
        (from t in DomainGenerators.TnumSamples from s in Gen.Choose(0, 63) select (t, s)).ToArbitrary();

    [Fact]
    public void Shifts_negation_and_extensions_contain_every_concrete_result()
    {
        PropertyRunner.Run(TnumAndShift, input =>
        {
            var (t, s) = input;
            int s32 = s & 31;
            foreach (ulong x in t.Members)
            {
                Member(Tnum.LeftShift(t.Value, s), x << s, $"{t} << {s}");
                Member(Tnum.RightShift(t.Value, s), x >> s, $"{t} >> {s}");
                Member(Tnum.ArithmeticRightShift(t.Value, s, 64), (ulong)((long)x >> s), $"{t} s>> {s}");
                Member(Tnum.ArithmeticRightShift(t.Value.Subreg, s32, 32), (uint)((int)(uint)x >> s32), $"{t} s>>32 {s32}");
                Member(Tnum.Negate(t.Value), unchecked(0 - x), $"-{t}");
                Member(t.Value.Subreg, (uint)x, $"subreg {t}");
                Member(t.Value.Truncate(16), (ushort)x, $"trunc16 {t}");
                Member(t.Value.ClearSubreg, x & 0xFFFF_FFFF_0000_0000, $"clear_subreg {t}");
                Member(t.Value.SignExtend(8), (ulong)(long)(sbyte)(byte)x, $"sext8 {t}");
                Member(t.Value.SignExtend(32), (ulong)(long)(int)(uint)x, $"sext32 {t}");
                Member(t.Value.ByteSwap(8), System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(x), $"bswap64 {t}");
                Member(t.Value.ByteSwap(2), System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((ushort)x), $"bswap16 {t}");
                foreach (ulong y in t.Members)
                    Member(t.Value.WithSubreg(Tnum.Const(y)), (x & 0xFFFF_FFFF_0000_0000) | (uint)y, $"with_subreg {t}");
            }
            return true;
        });
    }

    [Fact]
    public void Intersection_keeps_common_members_and_fails_only_when_there_are_none()
    {
        // Half the pairs are forced to share a member, so both outcomes are exercised.
        var pairs = (from a in DomainGenerators.TnumSamples
                     from b in DomainGenerators.TnumSamples
                     from share in Gen.Elements(true, false)
                     select (a, share ? new TnumSample(Tnum.Union(b.Value, Tnum.Const(a.Members[0])), b.Members.Append(a.Members[0]).ToArray()) : b))
                    .ToArbitrary();
        PropertyRunner.Run(pairs, pair =>
        {
            var (a, b) = pair;
            bool ok = Tnum.TryIntersect(a.Value, b.Value, out Tnum meet);
            foreach (ulong x in a.Members.Concat(b.Members))
            {
                if (a.Value.Contains(x) && b.Value.Contains(x))
                {
                    if (!ok)
                        throw new Xunit.Sdk.XunitException($"{a} meet {b} failed but 0x{x:x} is in both");
                    Member(meet, x, $"{a} meet {b}");
                }
            }
            if (ok && (!meet.IsSubsetOf(a.Value) || !meet.IsSubsetOf(b.Value)))
                throw new Xunit.Sdk.XunitException($"meet {meet} of {a}, {b} is not inside both");
            return true;
        });
    }

    [Fact]
    public void Subset_test_agrees_with_membership()
    {
        PropertyRunner.Run(DomainGenerators.TnumPairs, pair =>
        {
            Tnum a = pair.Item1.Value, b = Tnum.Union(pair.Item2.Value, pair.Item1.Value);
            // a is inside union(a, b); test both directions.
            if (!a.IsSubsetOf(b))
                throw new Xunit.Sdk.XunitException($"{a} not subset of its union {b}");
            foreach (var (inner, outer) in new[] { (a, pair.Item2.Value), (b, a) })
            {
                if (inner.IsSubsetOf(outer))
                {
                    foreach (ulong x in pair.Item1.Members.Concat(pair.Item2.Members))
                        if (inner.Contains(x) && !outer.Contains(x))
                            throw new Xunit.Sdk.XunitException($"{inner} subset of {outer} but 0x{x:x}");
                }
                else
                {
                    // A witness outside: inner's known value, with every bit outer knows and inner does not set
                    // opposite to outer's value.
                    ulong freeInInner = inner.Mask & ~outer.Mask;
                    ulong witness = inner.Value | (~outer.Value & freeInInner);
                    if (!inner.Contains(witness) || outer.Contains(witness))
                        throw new Xunit.Sdk.XunitException($"{inner} not subset of {outer} but no witness (0x{witness:x})");
                }
            }
            return true;
        });
    }

    private static readonly Arbitrary<(ulong, ulong, ulong)> RangeInputs =
        (from a in DomainGenerators.Interesting from b in DomainGenerators.Interesting from r in DomainGenerators.Interesting
         select (Math.Min(a, b), Math.Max(a, b), r)).ToArbitrary();

    [Fact]
    public void Range_contains_every_value_between_its_bounds()
    {
        PropertyRunner.Run(RangeInputs, input =>
        {
            var (min, max, r) = input;
            Tnum t = Tnum.Range(min, max);
            ulong inside = max == min ? min : min + r % (max - min);
            Member(t, min, $"range({min:x},{max:x})");
            Member(t, max, $"range({min:x},{max:x})");
            Member(t, inside, $"range({min:x},{max:x})");
            // Smallest such tnum: the unknown bits are exactly those at and below the highest differing bit.
            int differing = 64 - System.Numerics.BitOperations.LeadingZeroCount(min ^ max);
            ulong expectedMask = differing == 64 ? ulong.MaxValue : (1UL << differing) - 1;
            return t.Mask == expectedMask;
        });
    }

    private static readonly Arbitrary<(int, int, int)> SmallTnums =
        (from v in Gen.Choose(0, 1023) from m in Gen.Choose(0, 1023) from x in Gen.Choose(0, 1100) select (v, m, x)).ToArbitrary();

    [Fact]
    public void Member_search_finds_the_nearest_member_exhaustively_on_10_bit_tnums()
    {
        PropertyRunner.Run(SmallTnums, input =>
        {
            var t = Tnum.Create((ulong)input.Item1, (ulong)input.Item2);
            ulong x = (ulong)input.Item3;
            ulong? expectedUp = null, expectedDown = null;
            for (ulong y = 0; y < 1024; y++)
            {
                if (!t.Contains(y)) continue;
                if (y >= x && expectedUp == null) expectedUp = y;
                if (y <= x) expectedDown = y;
            }
            bool up = t.TryGetMemberAtLeast(x, out ulong foundUp);
            bool down = t.TryGetMemberAtMost(x, out ulong foundDown);
            return up == expectedUp.HasValue && (!up || foundUp == expectedUp) &&
                   down == expectedDown.HasValue && (!down || foundDown == expectedDown);
        });
    }

    [Fact]
    public void Member_search_on_wide_tnums_returns_adjacent_members()
    {
        var inputs = (from t in DomainGenerators.TnumSamples from x in DomainGenerators.Interesting select (t, x)).ToArbitrary();
        PropertyRunner.Run(inputs, input =>
        {
            var (sample, x) = input;
            Tnum t = sample.Value;
            if (t.TryGetMemberAtLeast(x, out ulong up))
            {
                Member(t, up, "at least");
                // Nothing between x and up: the largest member below up is below x.
                if (up < x || (up > x && t.TryGetMemberAtMost(up - 1, out ulong before) && before >= x))
                    return false;
            }
            else if (t.UnsignedMax >= x)
            {
                return false;
            }
            if (t.TryGetMemberAtMost(x, out ulong down))
            {
                Member(t, down, "at most");
                if (down > x || (down < x && t.TryGetMemberAtLeast(down + 1, out ulong after) && after <= x))
                    return false;
            }
            else if (t.UnsignedMin <= x)
            {
                return false;
            }
            return true;
        });
    }
}
