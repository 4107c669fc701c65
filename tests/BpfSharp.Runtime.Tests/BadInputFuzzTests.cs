using System.Runtime.InteropServices;
using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Runtime.Tests;

/// <summary>
/// Randomly mutated and truncated programs are either rejected with an error naming an instruction index, or run on
/// the interpreter with random memory and end with a result or a typed fault; memory around the granted region
/// (guard bytes) is never touched.
/// </summary>
public unsafe class BadInputFuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Guard = 256;

    [Fact]
    public void Ten_thousand_mutated_programs_are_rejected_or_run_safely()
    {
        var seeds = ConformanceCases.Names()
            .Select(n => ConformanceAssembler.Assemble(ConformanceCases.Load((string)n[0]).Asm!).ToBytes())
            .ToArray();
        var rng = new Random(20261122);
        int rejected = 0, ran = 0, faulted = 0;
        const int memLen = 64;
        byte* block = (byte*)NativeMemory.Alloc(Guard + memLen + Guard);
        try
        {
            for (int iteration = 0; iteration < 10_000; iteration++)
            {
                byte[] code = Mutate(seeds[rng.Next(seeds.Length)], rng);
                BpfProgram program;
                try
                {
                    program = BpfProgram.FromBytes(code);
                }
                catch (BpfDecodeException e)
                {
                    rejected++;
                    Assert.Matches(@"^(instruction \d+: .+|program is empty)$", e.Message);
                    Assert.True(e.InstructionIndex >= 0 || code.Length == 0, e.Message);
                    continue;
                }

                new Span<byte>(block, Guard + memLen + Guard).Fill(0xA5);
                rng.NextBytes(new Span<byte>(block + Guard, memLen));
                Interpreter interpreter;
                try
                {
                    interpreter = new Interpreter(program, ConformanceRunner.Helpers());
                }
                catch (BpfLoadException e)
                {
                    rejected++;
                    Assert.True(e.InstructionIndex >= 0, e.Message);
                    continue;
                }
                using var context = new RunContext { InstructionBudget = 100_000 };
                context.SetRegions([new MemoryRegion((ulong)(block + Guard), memLen, RegionKind.Memory, true)]);
                try
                {
                    interpreter.Run(context, (ulong)(block + Guard), memLen);
                    ran++;
                }
                catch (BpfFaultException e)
                {
                    faulted++;
                    Assert.InRange(e.Fault.Pc, 0, program.Count);
                }
                for (int i = 0; i < Guard; i++)
                {
                    Assert.Equal(0xA5, block[i]);
                    Assert.Equal(0xA5, block[Guard + memLen + i]);
                }
            }
        }
        finally
        {
            NativeMemory.Free(block);
        }
        output.WriteLine($"rejected {rejected}, ran {ran}, faulted {faulted}");
        // The mutations must exercise all three outcomes, or the test proves little.
        Assert.True(rejected > 1000 && ran > 1000 && faulted > 100, $"rejected {rejected}, ran {ran}, faulted {faulted}");
    }

    private static byte[] Mutate(byte[] seed, Random rng)
    {
        var code = (byte[])seed.Clone();
        switch (rng.Next(5))
        {
            case 0: // flip random bits
                for (int i = rng.Next(1, 4); i > 0; i--) code[rng.Next(code.Length)] ^= (byte)(1 << rng.Next(8));
                break;
            case 1: // truncate, possibly mid-instruction
                return code[..rng.Next(code.Length)];
            case 2: // random byte in an opcode position
                code[rng.Next(code.Length / 8) * 8] = (byte)rng.Next(256);
                break;
            case 3: // random offset or immediate
                int slot = rng.Next(code.Length / 8) * 8;
                code[slot + 2 + rng.Next(6)] = (byte)rng.Next(256);
                break;
            default: // random register fields
                code[rng.Next(code.Length / 8) * 8 + 1] = (byte)rng.Next(256);
                break;
        }
        return code;
    }
}
