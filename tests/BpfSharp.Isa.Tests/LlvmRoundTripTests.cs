using BpfSharp.Asm;
using BpfSharp.Isa;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Isa.Tests;

/// <summary>
/// Property: for random valid programs (rows from the opcode table, random legal field values), disassembling and
/// assembling again gives the same bytes.
/// </summary>
public sealed class LlvmRoundTripTests(ITestOutputHelper output)
{
    private const int Programs = 1000;
    private const int InstructionsPerProgram = 100;

    public static TheoryData<bool, bool, bool> Modes() => new()
    {
        { true, false, false }, { true, true, false }, { false, false, false }, { false, true, false }, { true, false, true },
    };

    [Theory]
    [MemberData(nameof(Modes))]
    public void Disassemble_then_assemble_gives_the_same_bytes(bool lossless, bool alu32, bool labels)
    {
        var rng = new Random(lossless ? 1234 : 4321);
        var options = new LlvmDisassemblyOptions { Lossless = lossless, Alu32Registers = alu32, LabelTargets = labels };
        int checkedInstructions = 0;
        for (int p = 0; p < Programs; p++)
        {
            var program = BpfProgram.FromInstructions(RandomPrograms.Generate(rng, InstructionsPerProgram));
            string text = LlvmDisassembler.Disassemble(program, options);
            BpfProgram back;
            try
            {
                back = LlvmAssembler.Assemble(text);
            }
            catch (AsmException e)
            {
                var lines = text.Split('\n');
                throw new Xunit.Sdk.XunitException($"{e.Message}\n  source line: {(e.Line > 0 ? lines[e.Line - 1] : "?")}");
            }
            // The default (llvm-objdump) spelling drops what llvm-objdump drops; lossless mode drops nothing.
            byte[] expected = lossless ? program.ToBytes() : ObjdumpLoss.ApplyToBytes(program.ToBytes());
            if (!expected.AsSpan().SequenceEqual(back.ToBytes()))
            {
                for (int pc = 0; pc < program.Count; pc++)
                {
                    var want = lossless ? program[pc] : ObjdumpLoss.Apply(program[pc]);
                    Assert.True(want == back[pc], $"slot {pc}: {want} printed as '{LlvmDisassembler.Format(program[pc], pc, options)}' assembled to {back[pc]}");
                }
            }
            checkedInstructions += InstructionsPerProgram;
        }
        Assert.True(checkedInstructions >= 100_000);
        output.WriteLine($"{checkedInstructions} random instructions round-tripped (lossless={lossless}, alu32={alu32}, labels={labels})");
    }

    [Fact]
    public void Kernel_log_style_round_trips_except_what_the_log_cannot_tell()
    {
        var rng = new Random(2468);
        var options = new LlvmDisassemblyOptions { KernelLogStyle = true };
        int total = 0;
        for (int p = 0; p < Programs; p++)
        {
            var program = BpfProgram.FromInstructions(RandomPrograms.Generate(rng, InstructionsPerProgram));
            string text = LlvmDisassembler.Disassemble(program, options);
            var back = LlvmAssembler.Assemble(text);
            for (int pc = 0; pc < program.Count; pc++)
            {
                var ins = program[pc];
                // The log prints a kfunc call like a helper call and a pseudo lddw as its 64-bit value.
                var want = ins.Op switch
                {
                    Op.CallKfunc => new Instruction(Op.Call, 0, 0, 0, ins.Imm32),
                    _ when ins.Info.Kind == InstructionKind.LoadImm64 => ins with { Op = Op.Lddw },
                    _ => ins,
                };
                Assert.True(want == back[pc], $"slot {pc}: {ins} printed as '{LlvmDisassembler.Format(ins, pc, options)}' assembled to {back[pc]}");
            }
            total += InstructionsPerProgram;
        }
        output.WriteLine($"{total} random instructions round-tripped through the kernel verifier log spelling");
    }

    [Fact]
    public void Single_instruction_round_trip_as_an_FsCheck_property()
    {
        // Every row, any legal fields; a jump targets slot 0 or itself so that a one-instruction program is valid.
        var rows = RandomPrograms.ExecutableRows;
        var gen = from index in Gen.Choose(0, rows.Length - 1)
                  from seed in Gen.Choose(int.MinValue, int.MaxValue)
                  select (rows[index], seed);
        var options = new LlvmDisassemblyOptions { Lossless = true, ShowAddresses = false };
        var property = Prop.ForAll(Arb.From(gen), pair =>
        {
            var (row, seed) = pair;
            var rng = new Random(seed);
            var ins = RandomPrograms.Fill(row, rng, 0, 0);
            var program = BpfProgram.FromInstructions([ins]);
            string line = LlvmDisassembler.Format(program[0], 0, options);
            var back = LlvmAssembler.Assemble(line);
            return back.ToBytes().AsSpan().SequenceEqual(program.ToBytes());
        });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20_000), property);
    }
}
