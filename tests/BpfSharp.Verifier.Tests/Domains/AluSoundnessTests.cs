using BpfSharp.Verifier.Domains;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Verifier.Tests.Domains;

/// <summary>
/// For every ALU operation, both widths, register and immediate source: for random abstract operands and their
/// concrete members, the concrete result (independent reference semantics) is a member of the abstract result,
/// and the abstract result is well-formed. 10,000 generated cases per property.
/// </summary>
public sealed class AluSoundnessTests(ITestOutputHelper output)
{
    public enum Source { Register, Immediate }

    public static TheoryData<ScalarBinaryOp, AluWidth, Source> BinaryCases()
    {
        var data = new TheoryData<ScalarBinaryOp, AluWidth, Source>();
        foreach (ScalarBinaryOp op in Enum.GetValues<ScalarBinaryOp>())
            foreach (AluWidth width in new[] { AluWidth.Bits64, AluWidth.Bits32 })
                foreach (Source source in Enum.GetValues<Source>())
                    data.Add(op, width, source);
        return data;
    }

    public static TheoryData<ScalarUnaryOp, AluWidth> UnaryCases()
    {
        var data = new TheoryData<ScalarUnaryOp, AluWidth>();
        foreach (ScalarUnaryOp op in Enum.GetValues<ScalarUnaryOp>())
        {
            data.Add(op, AluWidth.Bits64);
            // The 32-bit (ALU class) forms that exist: neg32, mov32, movsx32 from 8 and 16 bits.
            if (op is ScalarUnaryOp.Neg or ScalarUnaryOp.Mov or ScalarUnaryOp.MovSx8 or ScalarUnaryOp.MovSx16)
                data.Add(op, AluWidth.Bits32);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void Binary_operation_is_sound_and_well_formed(ScalarBinaryOp op, AluWidth width, Source source)
    {
        long checks = 0;
        PropertyRunner.Run(source == Source.Register ? DomainGenerators.RegisterPairs : DomainGenerators.ImmediatePairs, pair =>
        {
            Scalar result = ScalarAlu.Binary(op, pair.Left.Value, pair.Right.Value, width);
            string context = $"{op} {width}: {pair.Left} {op} {pair.Right} = {result}";
            PropertyRunner.AssertWellFormed(result, context);
            foreach (ulong a in pair.Left.Members)
            {
                foreach (ulong b in pair.Right.Members)
                {
                    ulong concrete = ReferenceSemantics.Binary(op, a, b, width);
                    checks++;
                    if (!result.Contains(concrete))
                        throw new Xunit.Sdk.XunitException($"unsound: {context}; concrete 0x{a:x} op 0x{b:x} = 0x{concrete:x} not a member");
                }
            }
            return true;
        });
        output.WriteLine($"{op} {width} {source}: {PropertyRunner.CasesPerProperty} cases, {checks} concrete pairs checked");
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void Unary_operation_is_sound_and_well_formed(ScalarUnaryOp op, AluWidth width)
    {
        long checks = 0;
        PropertyRunner.Run(DomainGenerators.Singles, sample =>
        {
            Scalar result = ScalarAlu.Unary(op, sample.Value, width);
            string context = $"{op} {width}: {sample} -> {result}";
            PropertyRunner.AssertWellFormed(result, context);
            foreach (ulong a in sample.Members)
            {
                ulong concrete = ReferenceSemantics.Unary(op, a, width);
                checks++;
                if (!result.Contains(concrete))
                    throw new Xunit.Sdk.XunitException($"unsound: {context}; concrete 0x{a:x} -> 0x{concrete:x} not a member");
            }
            return true;
        });
        output.WriteLine($"{op} {width}: {PropertyRunner.CasesPerProperty} cases, {checks} concrete values checked");
    }
}
