using System.Text;
using BpfSharp.Verifier.Domains;
using FsCheck;
using FsCheck.Fluent;

namespace BpfSharp.Verifier.Tests.Domains;

/// <summary>An abstract scalar together with concrete values known to be its members.</summary>
public sealed class ScalarSample
{
    public ScalarSample(Scalar value, ulong[] members, string origin)
    {
        Value = value;
        Members = members;
        Origin = origin;
    }

    public Scalar Value { get; }
    public ulong[] Members { get; }
    public string Origin { get; }

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(Origin).Append(": ").Append(Value)
            .Append($" [u={Value.UMin:x},{Value.UMax:x} s={Value.SMin},{Value.SMax} u32={Value.U32Min:x},{Value.U32Max:x} s32={Value.S32Min},{Value.S32Max} t={Value.Bits}]")
            .Append(" members {");
        text.AppendJoin(", ", Members.Select(m => "0x" + m.ToString("x")));
        return text.Append('}').ToString();
    }
}

/// <summary>A pair of samples: the two operands of a binary operation or comparison.</summary>
public sealed record SamplePair(ScalarSample Left, ScalarSample Right);

/// <summary>A tnum with some of its members.</summary>
public sealed record TnumSample(Tnum Value, ulong[] Members)
{
    public override string ToString() => $"{Value} members {{{string.Join(", ", Members.Select(m => "0x" + m.ToString("x")))}}}";
}

/// <summary>
/// FsCheck generators of abstract values built from random concrete sets, so every generated abstract value comes
/// with concrete members: edge values (0, 1, -1, INT_MIN/MAX, U32 boundaries...), clusters, bit patterns,
/// and abstractions of them of every kind (constants, unsigned/signed/32-bit hulls, tnums, tight products).
/// </summary>
public static class DomainGenerators
{
    private static readonly ulong[] Edges =
    [
        0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000,
        0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x1_0000_0001, 0x1_7FFF_FFFF, 0x1_8000_0000,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x8000_0000_0000_0001, 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFE,
        0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_7FFF_FFFF, 0xFFFF_FFFF_0000_0000, 0xFFFF_FFFE_FFFF_FFFF, 0xFFFF_FF00,
    ];

    private static readonly Gen<ulong> Random64 =
        Gen.Choose(int.MinValue, int.MaxValue).Two().Select(t => ((ulong)(uint)t.Item1 << 32) | (uint)t.Item2);

    /// <summary>Values that exercise overflow and sign boundaries, mixed with random ones.</summary>
    public static readonly Gen<ulong> Interesting = Gen.Frequency(
        (4, Gen.Elements(Edges)),
        (3, from e in Gen.Elements(Edges) from d in Gen.Choose(-8, 8) select unchecked(e + (ulong)(long)d)),
        (3, Random64),
        (2, Gen.Choose(0, 300).Select(i => (ulong)i)),
        (1, Gen.Choose(-300, 0).Select(i => (ulong)(long)i)),
        (1, Gen.Choose(int.MinValue, int.MaxValue).Select(i => (ulong)(uint)i)),
        (1, Gen.Choose(int.MinValue, int.MaxValue).Select(i => (ulong)(long)i)));

    // Sets of concrete values that an abstract value will be made to contain.
    private static readonly Gen<ulong[]> Witnesses = Gen.Frequency(
        (3, Gen.Choose(1, 4).SelectMany(n => Interesting.ArrayOf(n))),
        (3, from center in Interesting
            from spreadBits in Gen.Choose(0, 40)
            from n in Gen.Choose(1, 4)
            from offsets in Random64.ArrayOf(n)
            select offsets.Select(o => unchecked(center + (o & ((1UL << spreadBits) - 1)) - ((1UL << spreadBits) >> 1))).Append(center).ToArray()),
        (2, from baseValue in Interesting
            from mask in Gen.OneOf(Random64, Gen.Choose(0, 63).Select(b => (1UL << b) - 1), Random64.Select(r => r & (r >> 7) & (r >> 13)))
            from n in Gen.Choose(1, 4)
            from picks in Random64.ArrayOf(n)
            select picks.Select(p => (baseValue & ~mask) | (p & mask)).Append(baseValue).ToArray()));

    private enum Kind { Const, Join, UnsignedHull, SignedHull, TnumOnly, Tight, Low32Unsigned, Low32Signed, Mixed, Unknown }

    /// <summary>Random abstract scalars with members.</summary>
    public static readonly Gen<ScalarSample> Samples = SamplesFrom(Witnesses);

    /// <summary>Random abstract scalars that contain <paramref name="value"/> among other members.</summary>
    public static Gen<ScalarSample> SamplesContaining(ulong value) => SamplesFrom(Witnesses.Select(w => w.Prepend(value).ToArray()));

    private static Gen<ScalarSample> SamplesFrom(Gen<ulong[]> witnessSets) =>
        from witnesses in witnessSets
        from kind in Gen.Frequency(
            (2, Gen.Constant(Kind.Const)), (3, Gen.Constant(Kind.Join)), (2, Gen.Constant(Kind.UnsignedHull)),
            (2, Gen.Constant(Kind.SignedHull)), (2, Gen.Constant(Kind.TnumOnly)), (3, Gen.Constant(Kind.Tight)),
            (1, Gen.Constant(Kind.Low32Unsigned)), (1, Gen.Constant(Kind.Low32Signed)), (2, Gen.Constant(Kind.Mixed)),
            (1, Gen.Constant(Kind.Unknown)))
        from seed in Gen.Choose(int.MinValue, int.MaxValue)
        select Build(witnesses, kind, seed);

    /// <summary>A constant operand as an instruction's 32-bit immediate makes it (sign-extended to 64 bits).</summary>
    public static readonly Gen<ScalarSample> Immediates =
        from imm in Gen.Frequency(
            (3, Interesting.Select(v => (int)(uint)v)),
            (2, Gen.Choose(-70, 70)),
            (1, Gen.Choose(int.MinValue, int.MaxValue)))
        let value = (ulong)(long)imm
        select new ScalarSample(Scalar.Const(value), [value], $"imm {imm}");

    /// <summary>Operand pairs; a third of them share a member so that equality comparisons can hold.</summary>
    public static Arbitrary<SamplePair> RegisterPairs { get; } = Gen.Frequency(
        (2, from a in Samples from b in Samples select new SamplePair(a, b)),
        (1, from a in Samples
            from shared in Gen.Elements(a.Members)
            from b in SamplesContaining(shared)
            select new SamplePair(a, b))).ToArbitrary();

    public static Arbitrary<SamplePair> ImmediatePairs { get; } =
        (from a in Samples from b in Immediates select new SamplePair(a, b)).ToArbitrary();

    public static Arbitrary<ScalarSample> Singles { get; } = Samples.ToArbitrary();

    /// <summary>Random tnums with members.</summary>
    public static readonly Gen<TnumSample> TnumSamples =
        from value in Interesting
        from mask in Gen.Frequency(
            (2, Random64),
            (2, Gen.Choose(0, 64).Select(b => b == 64 ? ulong.MaxValue : (1UL << b) - 1)),
            (2, Random64.Select(r => r & (r >> 5) & (r >> 11))),
            (1, Gen.Constant(0UL)),
            (1, Gen.Choose(0, 63).Select(b => 1UL << b)))
        from picks in Random64.ArrayOf(3)
        let t = Tnum.Create(value, mask)
        select new TnumSample(t, picks.Select(p => t.Value | (p & t.Mask)).Append(t.Value).Append(t.Value | t.Mask).ToArray());

    public static Arbitrary<(TnumSample, TnumSample)> TnumPairs { get; } =
        (from a in TnumSamples from b in TnumSamples select (a, b)).ToArbitrary();

    private static ScalarSample Build(ulong[] witnesses, Kind kind, int seed)
    {
        Scalar value = kind switch
        {
            Kind.Const => Scalar.Const(witnesses[0]),
            Kind.Join => witnesses.Select(Scalar.Const).Aggregate(Scalar.Join),
            Kind.UnsignedHull => Scalar.FromUnsignedRange(witnesses.Min(), witnesses.Max()),
            Kind.SignedHull => Scalar.FromSignedRange(witnesses.Min(w => (long)w), witnesses.Max(w => (long)w)),
            Kind.TnumOnly => Scalar.FromTnum(witnesses.Select(Tnum.Const).Aggregate(Tnum.Union)),
            Kind.Tight => Create(witnesses, true, true, true, true, true),
            Kind.Low32Unsigned => Create(witnesses, false, false, false, true, false),
            Kind.Low32Signed => Create(witnesses, false, false, false, false, true),
            Kind.Mixed => Create(witnesses, (seed & 1) != 0, (seed & 2) != 0, (seed & 4) != 0, (seed & 8) != 0, (seed & 16) != 0),
            _ => Scalar.Unknown,
        };
        if (kind == Kind.Const)
            witnesses = [witnesses[0]];
        return new ScalarSample(value, PickMembers(value, witnesses, seed), kind.ToString());
    }

    // Hulls of the witnesses in the chosen views, everything else unconstrained.
    private static Scalar Create(ulong[] w, bool tnum, bool unsigned64, bool signed64, bool unsigned32, bool signed32)
    {
        bool ok = Scalar.TryCreate(
            tnum ? w.Select(Tnum.Const).Aggregate(Tnum.Union) : Tnum.Unknown,
            unsigned64 ? w.Min() : 0, unsigned64 ? w.Max() : ulong.MaxValue,
            signed64 ? w.Min(x => (long)x) : long.MinValue, signed64 ? w.Max(x => (long)x) : long.MaxValue,
            unsigned32 ? w.Min(x => (uint)x) : 0, unsigned32 ? w.Max(x => (uint)x) : uint.MaxValue,
            signed32 ? w.Min(x => (int)(uint)x) : int.MinValue, signed32 ? w.Max(x => (int)(uint)x) : int.MaxValue,
            out Scalar result);
        if (!ok)
            throw new InvalidOperationException("TryCreate rejected views that contain the witnesses " + string.Join(",", w));
        return result;
    }

    // The witnesses plus members found near the edges of every view and at random inside the tnum.
    private static ulong[] PickMembers(Scalar s, ulong[] witnesses, int seed)
    {
        var random = new Random(seed);
        ulong Next() => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40);
        var members = new List<ulong>(witnesses.Distinct().Take(4));
        ulong[] candidates =
        [
            s.UMin, s.UMax, (ulong)s.SMin, (ulong)s.SMax,
            s.Bits.UnsignedMin, s.Bits.UnsignedMax,
            (s.UMin & 0xFFFF_FFFF_0000_0000) | s.U32Min, (s.UMax & 0xFFFF_FFFF_0000_0000) | s.U32Max,
            ((ulong)s.SMin & 0xFFFF_FFFF_0000_0000) | (uint)s.S32Min, ((ulong)s.SMax & 0xFFFF_FFFF_0000_0000) | (uint)s.S32Max,
            s.Bits.Value | (Next() & s.Bits.Mask), s.Bits.Value | (Next() & s.Bits.Mask),
            s.UMax == s.UMin ? s.UMin : s.UMin + Next() % (s.UMax - s.UMin),
            unchecked(s.UMin + 1), unchecked(s.UMax - 1),
        ];
        foreach (ulong c in candidates)
        {
            if (members.Count >= 7)
                break;
            if (s.Contains(c) && !members.Contains(c))
                members.Add(c);
        }
        return members.ToArray();
    }
}
