using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Isa.Tests;

/// <summary>
/// The round-trip property of <see cref="LlvmRoundTripTests"/> for the conformance (ubpf) syntax. Two encodings the
/// decoder accepts have no spelling there yet (reported to the owner of ConformanceSyntax.cs), and are compared after
/// dropping what the syntax drops: a kfunc call's offset (the kernel's module BTF fd index) and the high imm of the
/// map_fd / btf_id / func / map_idx lddw forms (which the kernel requires to be 0 anyway, so the opcode table could
/// make it a reserved field). Every other instruction must come back exactly.
/// </summary>
public sealed class ConformanceRoundTripTests(ITestOutputHelper output)
{
    [Fact]
    public void Disassemble_then_assemble_gives_the_same_bytes()
    {
        var rng = new Random(5678);
        int checkedInstructions = 0, lossy = 0;
        var failures = new SortedDictionary<Op, string>();
        for (int p = 0; p < 1000; p++)
        {
            var program = BpfProgram.FromInstructions(RandomPrograms.Generate(rng, 100));
            string text = ConformanceDisassembler.Disassemble(program);
            BpfProgram back;
            try
            {
                back = ConformanceAssembler.Assemble(text);
            }
            catch (AsmException e)
            {
                var lines = text.Split('\n');
                throw new Xunit.Sdk.XunitException($"{e.Message}\n  source line: {(e.Line > 0 ? lines[e.Line - 1] : "?")}");
            }
            for (int pc = 0; pc < program.Count; pc++)
                // An lddw's second slot is checked through the lddw's 64-bit Imm.
                if (program[pc].Op != Op.LddwHigh && KnownLoss(program[pc]) != back[pc] && !failures.ContainsKey(program[pc].Op))
                    failures[program[pc].Op] = $"{program[pc]} printed as '{ConformanceDisassembler.Format(program[pc])}' assembled to {back[pc]}";
            checkedInstructions += 100;
            lossy += program.Instructions.ToArray().Count(i => KnownLoss(i) != i);
        }
        foreach (var f in failures.Values) output.WriteLine(f);
        Assert.Empty(failures);
        Assert.True(checkedInstructions >= 100_000);
        output.WriteLine($"{checkedInstructions} random instructions round-tripped through the conformance syntax ({lossy} compared after the known losses)");
    }

    private static Instruction KnownLoss(Instruction ins) => ins.Op switch
    {
        Op.CallKfunc => ins with { Offset = 0 },
        Op.LddwMapFd or Op.LddwBtfId or Op.LddwFunc or Op.LddwMapIndex => ins with { Imm = (uint)ins.Imm32 },
        _ => ins,
    };
}
