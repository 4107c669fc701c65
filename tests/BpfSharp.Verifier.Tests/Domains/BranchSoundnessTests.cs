using BpfSharp.Verifier.Domains;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Verifier.Tests.Domains;

/// <summary>
/// For every jump condition, 64 and 32-bit, register and immediate: for every pair of concrete members, the edge the
/// reference semantics takes is feasible and its refined operands contain both concrete values; refined operands are
/// well-formed. 10,000 generated cases per property.
/// </summary>
public sealed class BranchSoundnessTests(ITestOutputHelper output)
{
    public static TheoryData<BranchCondition, AluWidth, AluSoundnessTests.Source> Cases()
    {
        var data = new TheoryData<BranchCondition, AluWidth, AluSoundnessTests.Source>();
        foreach (BranchCondition c in Enum.GetValues<BranchCondition>())
            foreach (AluWidth width in new[] { AluWidth.Bits64, AluWidth.Bits32 })
                foreach (AluSoundnessTests.Source source in Enum.GetValues<AluSoundnessTests.Source>())
                    data.Add(c, width, source);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Both_successors_are_sound_and_well_formed(BranchCondition condition, AluWidth width, AluSoundnessTests.Source source)
    {
        long checks = 0, taken = 0, notTaken = 0;
        var arbitrary = source == AluSoundnessTests.Source.Register ? DomainGenerators.RegisterPairs : DomainGenerators.ImmediatePairs;
        PropertyRunner.Run(arbitrary, pair =>
        {
            BranchOutcome outcome = ScalarBranch.Refine(condition, pair.Left.Value, pair.Right.Value, width);
            string context = $"{condition} {width}: {pair.Left} vs {pair.Right} -> taken {outcome.Taken}, not taken {outcome.NotTaken}";
            foreach (BranchEdge edge in new[] { outcome.Taken, outcome.NotTaken })
            {
                if (!edge.IsFeasible)
                    continue;
                PropertyRunner.AssertWellFormed(edge.Left, context);
                PropertyRunner.AssertWellFormed(edge.Right, context);
                // Refinement only ever removes values.
                if (!edge.Left.IsSubsetOf(pair.Left.Value) || !edge.Right.IsSubsetOf(pair.Right.Value))
                    throw new Xunit.Sdk.XunitException($"refinement widened an operand: {context}");
            }
            foreach (ulong a in pair.Left.Members)
            {
                foreach (ulong b in pair.Right.Members)
                {
                    bool jumps = ReferenceSemantics.Jump(condition, a, b, width);
                    BranchEdge edge = jumps ? outcome.Taken : outcome.NotTaken;
                    checks++;
                    if (jumps) taken++; else notTaken++;
                    if (!edge.IsFeasible)
                        throw new Xunit.Sdk.XunitException($"{(jumps ? "taken" : "not-taken")} edge called infeasible but 0x{a:x}, 0x{b:x} take it: {context}");
                    if (!edge.Left.Contains(a) || !edge.Right.Contains(b))
                        throw new Xunit.Sdk.XunitException($"{(jumps ? "taken" : "not-taken")} edge lost 0x{a:x}, 0x{b:x}: {context}");
                }
            }
            return true;
        });
        output.WriteLine($"{condition} {width} {source}: {PropertyRunner.CasesPerProperty} cases, {checks} concrete pairs ({taken} taken, {notTaken} not taken)");
        // The generators must exercise both edges, or the property says little.
        Assert.True(taken > 0 && notTaken > 0, $"only one edge exercised: {taken} taken, {notTaken} not taken");
    }
}
