using BpfSharp.Verifier.Domains;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace BpfSharp.Verifier.Tests.Domains;

/// <summary>Join, meet, construction and normalisation of scalars on random inputs, 10,000 cases each.</summary>
public sealed class ScalarLatticeTests
{
    [Fact]
    public void Generated_samples_are_well_formed_and_contain_their_members()
    {
        PropertyRunner.Run(DomainGenerators.Singles, sample =>
        {
            PropertyRunner.AssertWellFormed(sample.Value, sample.ToString());
            return sample.Members.Length > 0 && sample.Members.All(sample.Value.Contains);
        });
    }

    [Fact]
    public void Join_contains_both_operands()
    {
        PropertyRunner.Run(DomainGenerators.RegisterPairs, pair =>
        {
            Scalar join = Scalar.Join(pair.Left.Value, pair.Right.Value);
            PropertyRunner.AssertWellFormed(join, $"join of {pair.Left} and {pair.Right}");
            return pair.Left.Members.Concat(pair.Right.Members).All(join.Contains) &&
                pair.Left.Value.IsSubsetOf(join) && pair.Right.Value.IsSubsetOf(join);
        });
    }

    [Fact]
    public void Meet_keeps_common_members_and_fails_only_when_there_are_none()
    {
        PropertyRunner.Run(DomainGenerators.RegisterPairs, pair =>
        {
            Scalar a = pair.Left.Value, b = pair.Right.Value;
            bool ok = Scalar.TryMeet(a, b, out Scalar meet);
            if (ok)
            {
                PropertyRunner.AssertWellFormed(meet, $"meet of {pair.Left} and {pair.Right}");
                if (!meet.IsSubsetOf(a) || !meet.IsSubsetOf(b))
                    return false;
            }
            foreach (ulong x in pair.Left.Members.Concat(pair.Right.Members))
            {
                if (a.Contains(x) && b.Contains(x) && (!ok || !meet.Contains(x)))
                    throw new Xunit.Sdk.XunitException($"meet of {pair.Left} and {pair.Right} lost 0x{x:x} (ok={ok})");
            }
            return true;
        });
    }

    private static readonly Arbitrary<ulong[]> ValueSets =
        Gen.Choose(1, 5).SelectMany(n => DomainGenerators.Interesting.ArrayOf(n)).ToArbitrary();

    [Fact]
    public void Creating_from_the_views_of_a_set_keeps_the_set_and_each_view_is_tight()
    {
        PropertyRunner.Run(ValueSets, values =>
        {
            bool ok = Scalar.TryCreate(values.Select(Tnum.Const).Aggregate(Tnum.Union),
                values.Min(), values.Max(), values.Min(v => (long)v), values.Max(v => (long)v),
                values.Min(v => (uint)v), values.Max(v => (uint)v), values.Min(v => (int)(uint)v), values.Max(v => (int)(uint)v),
                out Scalar s);
            if (!ok)
                return false;
            PropertyRunner.AssertWellFormed(s, string.Join(",", values));
            // Each bound was already attained by a member, so normalisation must leave it unchanged.
            return values.All(s.Contains) && s.UMin == values.Min() && s.UMax == values.Max() &&
                s.SMin == values.Min(v => (long)v) && s.SMax == values.Max(v => (long)v) &&
                s.U32Min == values.Min(v => (uint)v) && s.S32Max == values.Max(v => (int)(uint)v);
        });
    }

    [Fact]
    public void Contradictory_views_are_rejected()
    {
        // Low half known to be 5, but the tnum says the lowest bit is 0.
        Assert.False(Scalar.TryCreate(Tnum.Create(0, ~1UL), 0, ulong.MaxValue, long.MinValue, long.MaxValue, 5, 5, int.MinValue, int.MaxValue, out _));
        // Unsigned [10, 20] but signed negative.
        Assert.False(Scalar.TryCreate(Tnum.Unknown, 10, 20, long.MinValue, -1, 0, uint.MaxValue, int.MinValue, int.MaxValue, out _));
        // 64-bit value in [0x1_0000_0000, 0x1_0000_0003], low half in [4, 9].
        Assert.False(Scalar.TryCreate(Tnum.Unknown, 0x1_0000_0000, 0x1_0000_0003, long.MinValue, long.MaxValue, 4, 9, int.MinValue, int.MaxValue, out _));
        // Tnum members {0, 2} and unsigned range [1, 1].
        Assert.False(Scalar.TryCreate(Tnum.Create(0, 2), 1, 1, long.MinValue, long.MaxValue, 0, uint.MaxValue, int.MinValue, int.MaxValue, out _));
        Assert.False(Scalar.TryMeet(Scalar.Const(1UL), Scalar.Const(2UL), out _));
    }
}
