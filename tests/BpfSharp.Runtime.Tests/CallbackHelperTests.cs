using BpfSharp.Asm;
using BpfSharp.Runtime.HelperFunctions;
using Xunit;

namespace BpfSharp.Runtime.Tests;

public class CallbackHelperTests
{
    // bpf_loop(10, callback, &sum, 0) where callback(i, ctx) adds i to *ctx; returns sum + 1000 * iterations.
    private const string LoopProgram = """
        stdw [%r10-8], 0
        mov %r1, 10
        lddw %r2, func(10)
        mov %r3, %r10
        add %r3, -8
        mov %r4, 0
        call 181
        mov %r6, %r0
        mul %r6, 1000
        ldxdw %r0, [%r10-8]
        add %r0, %r6
        exit
        ldxdw %r3, [%r2]
        add %r3, %r1
        stxdw [%r2], %r3
        mov %r0, 0
        jne %r1, STOP, +1
        mov %r0, 1
        exit
        """;

    private static ulong Run(string asm, out long instructions)
    {
        var program = ConformanceAssembler.Assemble(asm);
        using var context = new RunContext();
        ulong r0 = new Interpreter(program, CallbackHelpers.RegisterAll(new HelperTable())).Run(context, 0);
        instructions = context.InstructionsExecuted;
        return r0;
    }

    [Fact]
    public void Bpf_loop_calls_the_callback_with_each_index()
    {
        // STOP = 99 never matches: 0 + 1 + ... + 9 = 45, and 10 iterations.
        Assert.Equal(45UL + 10_000, Run(LoopProgram.Replace("STOP", "99"), out long n));
        // 12 instructions in the caller, 7 per callback run (the jne skips one): the budget counts both.
        Assert.Equal(12 + 10 * 6, n);
    }

    [Fact]
    public void Bpf_loop_stops_when_the_callback_returns_1()
    {
        // Stop at index 3: sum 0 + 1 + 2 + 3 = 6, 4 iterations.
        Assert.Equal(6UL + 4_000, Run(LoopProgram.Replace("STOP", "3"), out _));
    }

    [Fact]
    public void Callbacks_share_the_instruction_budget()
    {
        var program = ConformanceAssembler.Assemble(LoopProgram.Replace("STOP", "99"));
        using var context = new RunContext { InstructionBudget = 40 };
        var e = Assert.Throws<BpfFaultException>(() => new Interpreter(program, CallbackHelpers.RegisterAll(new HelperTable())).Run(context, 0));
        Assert.Equal(BpfFaultKind.BudgetExceeded, e.Fault.Kind);
        Assert.Equal(40, context.InstructionsExecuted);
    }
}
