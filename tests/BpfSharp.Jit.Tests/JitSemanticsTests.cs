using System.Runtime.InteropServices;
using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Runtime;
using Xunit;

namespace BpfSharp.Jit.Tests;

/// <summary>
/// Engine behaviour the conformance suite does not pin down, with expected values worked out by hand from the
/// interpreter's documented rules (budget counted per executed instruction, faults naming the pc, frames 512 bytes
/// apart, r6-r9 restored and r1-r5 left as the callee left them after a local call). Every case runs on the
/// interpreter too, so the two engines are held to the same hand-computed answer.
/// </summary>
public unsafe class JitSemanticsTests
{
    public static IEnumerable<object[]> Engines() =>
    [
        ["interpreter"], ["checked"], ["trusted"],
    ];

    private static IBpfExecutable Engine(string name, BpfProgram program, HelperTable? helpers = null) => name switch
    {
        "interpreter" => new Interpreter(program, helpers),
        "checked" => BpfJit.Compile(program, helpers, JitOptions.Default),
        _ => BpfJit.Compile(program, helpers, JitOptions.Default with { Mode = JitMode.Trusted }),
    };

    private static BpfFault Faults(Action run) => Assert.Throws<BpfFaultException>(run).Fault;

    [Theory]
    [MemberData(nameof(Engines))]
    public void Budget_fault_names_the_instruction_that_would_exceed_it(string engine)
    {
        // pc 0 once, then pcs 1, 2 forever: the 10 allowed instructions are 0,1,2,1,2,1,2,1,2,1; the 11th is pc 2.
        var program = ConformanceAssembler.Assemble("""
            mov %r0, 0
            loop:
            add %r0, 1
            ja loop
            """);
        using var context = new RunContext { InstructionBudget = 10 };
        var fault = Faults(() => Engine(engine, program).Run(context, 0));
        Assert.Equal(BpfFaultKind.BudgetExceeded, fault.Kind);
        Assert.Equal(2, fault.Pc);
        Assert.Equal(10, context.InstructionsExecuted);
    }

    [Theory]
    [InlineData("interpreter", 0, 0, 0u)]
    [InlineData("checked", 0, 0, 0u)]
    [InlineData("trusted", 0, 0, 0u)]
    [InlineData("interpreter", 1, 1, 7u)]
    [InlineData("checked", 1, 1, 7u)]
    [InlineData("trusted", 1, 1, 7u)]
    [InlineData("interpreter", 3, 4, 7u)]
    [InlineData("checked", 3, 4, 7u)]
    [InlineData("trusted", 3, 4, 7u)]
    public void Budget_running_out_inside_a_block_keeps_the_effects_before_it(string engine, long budget, int faultPc, uint stored)
    {
        // The store (pc 0) runs only if the budget allows one instruction; the fault lands on the first instruction
        // the budget does not cover (lddw at pc 2 is one instruction in two slots, so instruction 3 is pc 4).
        var program = ConformanceAssembler.Assemble("""
            stw [%r10-8], 7
            mov %r0, 1
            lddw %r0, 0x100000000
            mov %r0, 2
            exit
            """);
        using var context = new RunContext { InstructionBudget = budget };
        var fault = Faults(() => Engine(engine, program).Run(context, 0));
        Assert.Equal(BpfFaultKind.BudgetExceeded, fault.Kind);
        Assert.Equal(faultPc, fault.Pc);
        Assert.Equal(budget, context.InstructionsExecuted);
        Assert.Equal(stored, *(uint*)(context.StackTop - 8));
    }

    [Theory]
    [InlineData("interpreter")]
    [InlineData("checked")]
    public void Memory_fault_counts_the_faulting_instruction(string engine)
    {
        var program = ConformanceAssembler.Assemble("""
            mov %r0, 1
            mov %r1, 64
            ldxw %r0, [%r1+0]
            mov %r0, 2
            exit
            """);
        using var context = new RunContext();
        var fault = Faults(() => Engine(engine, program).Run(context, 0));
        Assert.Equal(BpfFaultKind.OutOfBounds, fault.Kind);
        Assert.Equal(2, fault.Pc);
        Assert.Equal(3, context.InstructionsExecuted);
        Assert.Contains("read of 4 bytes at 0x40", fault.Detail);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Recursion_stops_at_the_call_depth_limit(string engine)
    {
        // pc 0 calls pc 1, which calls itself. With 8 frames, 7 calls succeed (depth 0 -> 7); the 8th, at pc 1, faults.
        var program = ConformanceAssembler.Assemble("""
            call local self
            exit
            self:
            call local self
            exit
            """);
        using var context = new RunContext();
        var fault = Faults(() => Engine(engine, program).Run(context, 0));
        Assert.Equal(BpfFaultKind.CallDepthExceeded, fault.Kind);
        Assert.Equal(2, fault.Pc);
        Assert.Equal(8, context.InstructionsExecuted);
        Assert.Equal("local call nests deeper than 8 frames", fault.Detail);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Local_call_frame_is_512_bytes_below_the_caller(string engine)
    {
        var program = ConformanceAssembler.Assemble("""
            call local f
            exit
            f:
            mov %r0, %r10
            exit
            """);
        using var context = new RunContext();
        Assert.Equal(context.StackTop - 512, Engine(engine, program).Run(context, 0));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void After_a_local_call_r6_is_restored_and_r1_is_what_the_callee_left(string engine)
    {
        var program = ConformanceAssembler.Assemble("""
            mov %r6, 5
            mov %r1, 1
            call local f
            lsh %r1, 8
            or %r1, %r6
            mov %r0, %r1
            exit
            f:
            mov %r6, 9
            mov %r1, 42
            exit
            """);
        using var context = new RunContext();
        Assert.Equal((42UL << 8) | 5, Engine(engine, program).Run(context, 0));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Callx_to_an_unregistered_id_faults_at_the_callx(string engine)
    {
        var program = ConformanceAssembler.Assemble("""
            mov %r3, 77
            call %r3
            exit
            """);
        using var context = new RunContext();
        var fault = Faults(() => Engine(engine, program, ConformanceRunner.Helpers()).Run(context, 0));
        Assert.Equal(BpfFaultKind.UnknownHelper, fault.Kind);
        Assert.Equal(1, fault.Pc);
        Assert.Equal("callx r3: no helper with id 77", fault.Detail);
        Assert.Equal(2, context.InstructionsExecuted);
    }

    [Fact]
    public void Unknown_helper_is_refused_at_compile_time_naming_the_instruction()
    {
        var program = ConformanceAssembler.Assemble("""
            mov %r0, 0
            call 99999
            exit
            """);
        var e = Assert.Throws<BpfLoadException>(() => BpfJit.Compile(program, new HelperTable()));
        Assert.Equal(1, e.InstructionIndex);
        Assert.Contains("unknown helper id 99999", e.Message);
    }

    // main: r1 = 5, r2 = &callback, r3 = r4 = 0, call bpf_loop, exit (6 instructions); the callback returns 0
    // (2 instructions), so all 5 iterations run: r0 = 5, 6 + 5 * 2 = 16 instructions. With a budget of 10: main's 5
    // up to the call, two whole callbacks (9), the third callback's mov (10); its exit at slot 8 is the 11th.
    [Theory]
    [MemberData(nameof(Engines))]
    public void Bpf_loop_runs_callbacks_sharing_the_budget(string engine)
    {
        Instruction[] code =
        [
            Instruction.WithImm(Op.Mov64Imm, 1, 5),
            Instruction.WithImm(Op.LddwFunc, 2, 5),   // slot 1 + 1 + 5 = 7
            Instruction.WithImm(Op.Mov64Imm, 3, 0),
            Instruction.WithImm(Op.Mov64Imm, 4, 0),
            new Instruction(Op.Call, 0, 0, 0, 181),
            new Instruction(Op.Exit, 0, 0, 0, 0),
            Instruction.WithImm(Op.Mov64Imm, 0, 0),
            new Instruction(Op.Exit, 0, 0, 0, 0),
        ];
        var program = BpfProgram.FromInstructions(code, "loop");
        var helpers = BpfSharp.Runtime.HelperFunctions.CallbackHelpers.RegisterAll(new HelperTable());
        var exe = Engine(engine, program, helpers);
        using var context = new RunContext();
        Assert.Equal(5UL, exe.Run(context, 0));
        Assert.Equal(16, context.InstructionsExecuted);
        context.InstructionBudget = 10;
        var fault = Faults(() => exe.Run(context, 0));
        Assert.Equal(BpfFaultKind.BudgetExceeded, fault.Kind);
        Assert.Equal(8, fault.Pc);
        Assert.Equal(10, context.InstructionsExecuted);
    }

    [Fact]
    public void Checked_mode_cannot_turn_counting_off() =>
        Assert.Throws<ArgumentException>(() => BpfJit.Compile(ConformanceAssembler.Assemble("exit"), null,
            JitOptions.Default with { CountInstructions = false }));

    [Fact]
    public void Uncounted_trusted_mode_reports_zero_instructions()
    {
        using var context = new RunContext { InstructionsExecuted = 99 };
        var program = ConformanceAssembler.Assemble("mov %r0, 3\nexit");
        Assert.Equal(3UL, BpfJit.Compile(program, null, JitOptions.TrustedUncounted).Run(context, 0));
        Assert.Equal(0, context.InstructionsExecuted);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Packet_load_outside_the_packet_ends_the_program_with_0_even_in_a_subprogram(string engine)
    {
        var program = ConformanceAssembler.Assemble("""
            mov %r0, 5
            call local f
            mov %r0, 6
            exit
            f:
            ldabsb 3
            ldabsh 100
            mov %r0, 7
            exit
            """);
        byte* packet = stackalloc byte[] { 1, 2, 3, 0x44 };
        using var context = new RunContext { PacketStart = (ulong)packet, PacketLength = 4 };
        Assert.Equal(0UL, Engine(engine, program).Run(context, 0));
        Assert.Equal(4, context.InstructionsExecuted);   // mov, call, ldabsb, ldabsh
    }

    private static ulong AddTen(RunContext context, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5) => r1 + 10;

    [Theory]
    [MemberData(nameof(Engines))]
    public void Helpers_of_every_delegate_shape_are_called_with_r1_to_r5(string engine)
    {
        ulong captured = 1000;
        var helpers = new HelperTable()
            .Register(1, "static_method", AddTen)
            .Register(2, "closure", (_, a, b, c, d, e) => captured + a + b + c + d + e)
            .Register(3, "static_lambda", static (_, _, b, _, _, _) => b * 2);
        var program = ConformanceAssembler.Assemble("""
            mov %r1, 1
            mov %r2, 2
            mov %r3, 3
            mov %r4, 4
            mov %r5, 5
            call 2
            mov %r6, %r0
            call 1
            add %r6, %r0
            call 3
            add %r0, %r6
            exit
            """);
        using var context = new RunContext();
        // helper 2: 1000 + 15 = 1015; helper 1: 1 + 10 = 11; helper 3: 2 * 2 = 4 (r1-r5 unchanged by helper calls).
        Assert.Equal(1015UL + 11 + 4, Engine(engine, program, helpers).Run(context, 0));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Atomics_work_on_a_granted_region(string engine)
    {
        var program = ConformanceAssembler.Assemble("""
            mov %r2, 5
            lock fetch add [%r1+0], %r2
            mov %r3, 100
            mov %r0, 12
            lock cmpxchg [%r1+8], %r3
            lsh %r0, 16
            or %r0, %r2
            exit
            """);
        ulong* cells = stackalloc ulong[] { 7, 12 };
        using var context = new RunContext();
        context.SetRegions([new MemoryRegion((ulong)cells, 16, RegionKind.Memory, true)]);
        // fetch add: r2 = old 7, cell 12; cmpxchg: old 12 == r0 12, so cell = 100 and r0 = 12.
        Assert.Equal((12UL << 16) | 7, Engine(engine, program).Run(context, (ulong)cells));
        Assert.Equal(12UL, cells[0]);
        Assert.Equal(100UL, cells[1]);
    }

    [Theory]
    [InlineData("interpreter")]
    [InlineData("checked")]
    public void Write_to_a_read_only_region_faults(string engine)
    {
        var program = ConformanceAssembler.Assemble("""
            ldxw %r0, [%r1+0]
            stw [%r1+0], 1
            exit
            """);
        uint* cell = stackalloc uint[] { 9 };
        using var context = new RunContext();
        context.SetRegions([new MemoryRegion((ulong)cell, 4, RegionKind.Context, false)]);
        var fault = Faults(() => Engine(engine, program).Run(context, (ulong)cell));
        Assert.Equal(BpfFaultKind.ReadOnlyWrite, fault.Kind);
        Assert.Equal(1, fault.Pc);
        Assert.Equal(9u, *cell);
    }

    [Fact]
    public void One_compiled_program_runs_on_several_threads_at_once()
    {
        var program = ConformanceAssembler.Assemble("""
            mov %r0, 0
            loop:
            add %r0, %r1
            sub %r2, 1
            jne %r2, 0, loop
            exit
            """);
        var jit = BpfJit.Compile(program);
        var results = new ulong[4];
        Parallel.For(0, 4, i =>
        {
            using var context = new RunContext();
            for (int n = 0; n < 200; n++) results[i] = jit.Run(context, (ulong)i + 1, 1000);
        });
        Assert.Equal([1000UL, 2000, 3000, 4000], results);
    }
}
