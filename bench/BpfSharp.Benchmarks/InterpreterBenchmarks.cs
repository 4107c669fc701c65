using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BpfSharp.Asm;
using BpfSharp.Runtime;

namespace BpfSharp.Benchmarks;

/// <summary>
/// Interpreter speed in ns per executed eBPF instruction: OperationsPerInvoke is the exact number of instructions
/// one run executes (checked in setup against the interpreter's own count), so BenchmarkDotNet's "Mean" column is
/// ns per instruction.
/// </summary>
[MemoryDiagnoser]
public unsafe class InterpreterBenchmarks
{
    // 2 setup + 1000 iterations x 7 + exit.
    private const int AluLoopInstructions = 7003;
    // 3 setup + 1500 bytes x 4 + exit.
    private const int ByteSumInstructions = 6004;
    private const int PacketLength = 1500;

    private const string AluLoop = """
        mov %r0, 0
        mov %r1, 1000
        loop:
        add %r0, %r1
        xor %r0, 0x55
        lsh %r0, 1
        rsh %r0, 1
        mul %r0, 3
        sub %r1, 1
        jne %r1, 0, loop
        exit
        """;

    private const string ByteSum = """
        mov %r0, 0
        mov %r3, %r1
        add %r2, %r1
        loop:
        ldxb %r4, [%r3]
        add %r0, %r4
        add %r3, 1
        jlt %r3, %r2, loop
        exit
        """;

    private Interpreter _alu = null!;
    private Interpreter _sum = null!;
    private RunContext _context = null!;
    private byte* _packet;

    [GlobalSetup]
    public void Setup()
    {
        _alu = new Interpreter(ConformanceAssembler.Assemble(AluLoop));
        _sum = new Interpreter(ConformanceAssembler.Assemble(ByteSum));
        _packet = (byte*)NativeMemory.Alloc(PacketLength);
        for (int i = 0; i < PacketLength; i++) _packet[i] = (byte)i;
        _context = new RunContext();
        _context.SetRegions([new MemoryRegion((ulong)_packet, PacketLength, RegionKind.Packet, false)]);
        Check(_alu, AluLoopInstructions);
        Check(_sum, ByteSumInstructions);
    }

    private void Check(Interpreter engine, int expected)
    {
        engine.Run(_context, (ulong)_packet, PacketLength);
        if (_context.InstructionsExecuted != expected)
            throw new InvalidOperationException($"{engine.Program.Name}: executed {_context.InstructionsExecuted} instructions, benchmark assumes {expected}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _context.Dispose();
        NativeMemory.Free(_packet);
    }

    [Benchmark(OperationsPerInvoke = AluLoopInstructions)]
    public ulong AluLoopPerInstruction() => _alu.Run(_context, (ulong)_packet, PacketLength);

    [Benchmark(OperationsPerInvoke = ByteSumInstructions)]
    public ulong ByteSumPerInstruction() => _sum.Run(_context, (ulong)_packet, PacketLength);
}
