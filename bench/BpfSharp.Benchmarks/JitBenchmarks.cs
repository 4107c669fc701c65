using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Jit;
using BpfSharp.Runtime;

namespace BpfSharp.Benchmarks;

/// <summary>
/// A program to time: its code, the memory it gets (r1 = pointer, r2 = length, granted as a packet region), and the
/// result it must return, computed independently of the engines. Programs from ELF objects (../shared/bench) plug in
/// here once the object loader exists: they only need to produce a <see cref="JitBenchProgram"/>.
/// </summary>
public sealed record JitBenchProgram(string Name, BpfProgram Program, byte[] Input, ulong Expected);

/// <summary>The programs <see cref="JitBenchmarks"/> runs.</summary>
public static class JitBenchPrograms
{
    public const int AluIterations = 1000;
    public const int SumBytes = 1500;

    /// <summary>Every program by name.</summary>
    public static IReadOnlyDictionary<string, Func<JitBenchProgram>> All { get; } = new Dictionary<string, Func<JitBenchProgram>>
    {
        ["alu_loop"] = AluLoop,
        ["byte_sum_1500"] = ByteSum,
    };

    /// <summary>A tight loop of 64-bit and 32-bit ALU operations: 8 instructions per iteration.</summary>
    public static JitBenchProgram AluLoop()
    {
        var program = ConformanceAssembler.Assemble($"""
            mov %r0, 1
            mov %r1, {AluIterations}
            mov %r2, 0x12345
            loop:
            add %r0, %r1
            mul %r0, 0x2545F491
            xor %r0, %r2
            rsh %r2, 1
            add32 %r2, %r0
            lsh %r0, 3
            sub %r1, 1
            jne %r1, 0, loop
            exit
            """, "alu_loop");
        // The same computation in C#, as the spec defines each operation.
        ulong r0 = 1, r1 = AluIterations, r2 = 0x12345;
        do
        {
            r0 += r1;
            r0 = unchecked(r0 * 0x2545F491UL);
            r0 ^= r2;
            r2 >>= 1;
            r2 = (uint)((uint)r2 + (uint)r0);
            r0 <<= 3;
            r1--;
        } while (r1 != 0);
        return new JitBenchProgram("alu_loop", program, [], r0);
    }

    /// <summary>Sums 1500 packet bytes with a load per byte (the shape clang gives a simple byte loop).</summary>
    public static JitBenchProgram ByteSum()
    {
        var program = ConformanceAssembler.Assemble("""
            mov %r0, 0
            jeq %r2, 0, done
            loop:
            ldxb %r3, [%r1]
            add %r0, %r3
            add %r1, 1
            sub %r2, 1
            jne %r2, 0, loop
            done:
            exit
            """, "byte_sum_1500");
        var input = new byte[SumBytes];
        new Random(1500).NextBytes(input);
        ulong sum = 0;
        foreach (byte b in input) sum += b;
        return new JitBenchProgram("byte_sum_1500", program, input, sum);
    }
}

/// <summary>
/// Steady-state run time of each program on the interpreter, the checked JIT and the trusted JIT (with and without
/// instruction counting). The "ns/insn" column divides by the eBPF instructions one run executes.
/// </summary>
[Config(typeof(Config))]
public unsafe class JitBenchmarks
{
    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(new NsPerInstructionColumn());
    }

    private JitBenchProgram _bench = null!;
    private RunContext _context = null!;
    private byte* _memory;
    private IBpfExecutable _interpreter = null!, _checked = null!, _trusted = null!, _trustedUncounted = null!;

    /// <summary>Instructions one run executes, by program name (filled in by the global setup).</summary>
    internal static readonly Dictionary<string, long> InstructionsPerRun = [];

    [ParamsSource(nameof(Names))]
    public string Program { get; set; } = "";

    public static IEnumerable<string> Names() => JitBenchPrograms.All.Keys;

    [GlobalSetup]
    public void Setup()
    {
        _bench = JitBenchPrograms.All[Program]();
        _context = new RunContext();
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, _bench.Input.Length), 64);
        _bench.Input.CopyTo(new Span<byte>(_memory, _bench.Input.Length));
        if (_bench.Input.Length > 0)
            _context.SetRegions([new MemoryRegion((ulong)_memory, (ulong)_bench.Input.Length, RegionKind.Packet, false)]);
        _interpreter = new Interpreter(_bench.Program);
        _checked = BpfJit.Compile(_bench.Program, null, JitOptions.Default);
        _trusted = BpfJit.Compile(_bench.Program, null, JitOptions.Default with { Mode = JitMode.Trusted });
        _trustedUncounted = BpfJit.Compile(_bench.Program, null, JitOptions.TrustedUncounted);
        foreach (var engine in new[] { _interpreter, _checked, _trusted, _trustedUncounted })
        {
            ulong r0 = engine.Run(_context, (ulong)_memory, (ulong)_bench.Input.Length);
            if (r0 != _bench.Expected)
                throw new InvalidOperationException($"{Program} on {engine.GetType().Name}: r0 = {r0}, expected {_bench.Expected}");
        }
        _interpreter.Run(_context, (ulong)_memory, (ulong)_bench.Input.Length);
        InstructionsPerRun[Program] = _context.InstructionsExecuted;
        File.WriteAllText(Path.Combine(Path.GetTempPath(), $"bpfsharp-insns-{Program}.txt"), _context.InstructionsExecuted.ToString());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_memory);
        _context.Dispose();
    }

    [Benchmark(Baseline = true)]
    public ulong Interpreter() => _interpreter.Run(_context, (ulong)_memory, (ulong)_bench.Input.Length);

    [Benchmark]
    public ulong JitChecked() => _checked.Run(_context, (ulong)_memory, (ulong)_bench.Input.Length);

    [Benchmark]
    public ulong JitTrusted() => _trusted.Run(_context, (ulong)_memory, (ulong)_bench.Input.Length);

    [Benchmark]
    public ulong JitTrustedUncounted() => _trustedUncounted.Run(_context, (ulong)_memory, (ulong)_bench.Input.Length);
}

/// <summary>Mean time divided by the eBPF instructions one run executes (measured with the interpreter's count).</summary>
internal sealed class NsPerInstructionColumn : IColumn
{
    public string Id => "NsPerInsn";
    public string ColumnName => "ns/insn";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Mean ns per executed eBPF instruction";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats) return "-";
        if (benchmarkCase.Parameters["Program"] is not string name) return "-";
        // The benchmark runs in a child process; its setup leaves the count in a temp file.
        var file = Path.Combine(Path.GetTempPath(), $"bpfsharp-insns-{name}.txt");
        if (!File.Exists(file) || !long.TryParse(File.ReadAllText(file), out long insns) || insns == 0) return "-";
        return (stats.Mean / insns).ToString("F3");
    }
}

/// <summary>
/// Compile time (IL generation plus RyuJIT, forced by the eager dry call) of a generated 1000-instruction program,
/// and first-run latency (compile + one run) of the byte-sum program, against the interpreter's setup + one run.
/// </summary>
public unsafe class JitCompileBenchmarks
{
    private BpfProgram _thousand = null!;
    private JitBenchProgram _sum = null!;
    private RunContext _context = null!;
    private byte* _memory;

    [GlobalSetup]
    public void Setup()
    {
        _thousand = ThousandInstructions();
        _sum = JitBenchPrograms.ByteSum();
        _context = new RunContext();
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)_sum.Input.Length, 64);
        _sum.Input.CopyTo(new Span<byte>(_memory, _sum.Input.Length));
        _context.SetRegions([new MemoryRegion((ulong)_memory, (ulong)_sum.Input.Length, RegionKind.Packet, false)]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_memory);
        _context.Dispose();
    }

    /// <summary>µs per 1000 instructions, checked mode.</summary>
    [Benchmark]
    public JitProgram Compile1000Checked() => BpfJit.Compile(_thousand, null, JitOptions.Default);

    /// <summary>µs per 1000 instructions, trusted uncounted mode.</summary>
    [Benchmark]
    public JitProgram Compile1000Trusted() => BpfJit.Compile(_thousand, null, JitOptions.TrustedUncounted);

    [Benchmark]
    public ulong FirstRunJitChecked() =>
        BpfJit.Compile(_sum.Program, null, JitOptions.Default).Run(_context, (ulong)_memory, (ulong)_sum.Input.Length);

    [Benchmark]
    public ulong FirstRunInterpreter() =>
        new Interpreter(_sum.Program).Run(_context, (ulong)_memory, (ulong)_sum.Input.Length);

    /// <summary>
    /// 1000 instructions shaped like compiled C: ALU work on r0-r5, stack spills and reloads, and forward
    /// conditional jumps, ending in exit.
    /// </summary>
    public static BpfProgram ThousandInstructions()
    {
        var rng = new Random(1000);
        var list = new List<Instruction>();
        Op[] alu = [Op.Add64Reg, Op.Sub64Imm, Op.Xor64Reg, Op.Mul64Imm, Op.Lsh64Imm, Op.Rsh64Reg, Op.And32Imm, Op.Add32Reg, Op.Mov64Reg, Op.Or64Imm];
        while (list.Count < 999)
        {
            int k = rng.Next(10);
            int dst = rng.Next(6), src = rng.Next(6);
            if (k < 6)
            {
                var op = alu[rng.Next(alu.Length)];
                list.Add(OpcodeTable.Get(op).RegisterSource ? Instruction.WithReg(op, dst, src) : Instruction.WithImm(op, dst, rng.Next(1, 60)));
            }
            else if (k < 8)
            {
                short off = (short)(-8 * rng.Next(1, 64));
                list.Add(k == 6 ? Instruction.WithReg(Op.Stxdw, 10, src, off) : Instruction.WithReg(Op.Ldxdw, dst, 10, off));
            }
            else
            {
                int remaining = 999 - list.Count - 1;
                short skip = (short)Math.Min(remaining, rng.Next(1, 8));
                list.Add(Instruction.WithImm(Op.Jgt64Imm, dst, rng.Next(100), skip));
            }
        }
        list.Add(new Instruction(Op.Exit, 0, 0, 0, 0));
        return BpfProgram.FromInstructions(list, "thousand");
    }
}
