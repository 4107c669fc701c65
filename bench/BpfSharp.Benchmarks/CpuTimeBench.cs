using System.Runtime.InteropServices;
using System.Text.Json;
using BpfSharp.Asm;
using BpfSharp.Jit;
using BpfSharp.Runtime;
using BpfSharp.Runtime.Hosting;

namespace BpfSharp.Benchmarks;

/// <summary>
/// A benchmark command for a shared, loaded machine: times each workload by the thread's own CPU time
/// (CLOCK_THREAD_CPUTIME_ID), best of several rounds, so other processes' load inflates it far less than wall time.
/// Run: dotnet run -c Release --project bench/BpfSharp.Benchmarks -- cputime [../shared/bench]
/// </summary>
internal static unsafe partial class CpuTimeBench
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    private static long ThreadCpuNs()
    {
        const int ClockThreadCpuTime = 3;
        ClockGetTime(ClockThreadCpuTime, out var t);
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }

    /// <summary>Best-of-rounds CPU ns per call of <paramref name="body"/>.</summary>
    private static double Measure(Action body, int callsPerRound, int rounds = 15)
    {
        for (int i = 0; i < callsPerRound; i++) body(); // warm up
        double best = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            long start = ThreadCpuNs();
            for (int i = 0; i < callsPerRound; i++) body();
            best = Math.Min(best, (ThreadCpuNs() - start) / (double)callsPerRound);
        }
        return best;
    }

    public static int Run(string[] args)
    {
        Console.WriteLine("# interpreter, ns per executed instruction (thread CPU time, best of 15 rounds)");
        InterpreterLoops();
        string shared = args.Length > 1 ? args[1] : Path.Combine("..", "shared", "bench");
        if (!File.Exists(Path.Combine(shared, "manifest.json")))
        {
            Console.WriteLine($"# {shared}/manifest.json absent: skipping the bench programs");
            return 0;
        }
        BenchPrograms(shared);
        return 0;
    }

    private static void InterpreterLoops()
    {
        var programs = new (string Name, string Asm)[]
        {
            ("alu_loop", "mov %r0, 0\nmov %r1, 1000\nloop:\nadd %r0, %r1\nxor %r0, 0x55\nlsh %r0, 1\nrsh %r0, 1\nmul %r0, 3\nsub %r1, 1\njne %r1, 0, loop\nexit\n"),
            ("byte_sum_1500", "mov %r0, 0\nmov %r3, %r1\nadd %r2, %r1\nloop:\nldxb %r4, [%r3]\nadd %r0, %r4\nadd %r3, 1\njlt %r3, %r2, loop\nexit\n"),
        };
        byte* packet = (byte*)NativeMemory.Alloc(1500);
        using var context = new RunContext();
        context.SetRegions([new MemoryRegion((ulong)packet, 1500, RegionKind.Packet, false)]);
        foreach (var (name, asm) in programs)
        {
            var program = ConformanceAssembler.Assemble(asm, name);
            var engines = new (string, IBpfExecutable)[]
            {
                ("interpreter", new Interpreter(program)),
                ("jit checked", BpfJit.Compile(program)),
                ("jit trusted", BpfJit.Compile(program, null, JitOptions.TrustedUncounted)),
            };
            new Interpreter(program).Run(context, (ulong)packet, 1500);
            long insns = context.InstructionsExecuted;
            foreach (var (engineName, engine) in engines)
            {
                double ns = Measure(() => engine.Run(context, (ulong)packet, 1500), 200);
                Console.WriteLine($"{name,-16} {engineName,-12} {ns / insns,8:0.000} ns/insn  ({ns:0} ns/run, {insns} insns)");
            }
        }
        NativeMemory.Free(packet);
    }

    private static void BenchPrograms(string dir)
    {
        Console.WriteLine("# bench programs, ns per run (thread CPU time, best of 15 rounds)");
        Console.WriteLine("program          interpreter  jit-checked  jit-trusted");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        foreach (var p in doc.RootElement.GetProperty("programs").EnumerateArray())
        {
            string name = p.GetProperty("name").GetString()!;
            byte[] input = File.ReadAllBytes(Path.Combine(dir, p.GetProperty("input").GetString()!));
            ulong expected = p.GetProperty("expected_retval").GetUInt64();
            var row = new List<string>();
            foreach (EngineFactory factory in new EngineFactory[]
            {
                static (prog, h) => new Interpreter(prog, h),
                static (prog, h) => BpfJit.Compile(prog, h),
                static (prog, h) => BpfJit.Compile(prog, h, JitOptions.TrustedUncounted),
            })
            {
                using var obj = BpfRuntimeObject.Load(Path.Combine(dir, p.GetProperty("object").GetString()!), new RuntimeOptions { Engine = factory });
                if (name == "array_scan")
                {
                    var table = obj.Map("table");
                    for (uint i = 0; i < 256; i++) table.Update(i, (ulong)i * 2654435761UL % 1000003UL);
                }
                var prog = obj.Program(p.GetProperty("prog").GetString()!);
                prog.Run(input);
                if (prog.Run(input) != expected) throw new InvalidOperationException($"{name}: wrong result");
                int calls = name is "alu_fib" ? 20 : 2000;
                row.Add($"{Measure(() => prog.Run(input), calls),11:0.0}");
            }
            Console.WriteLine($"{name,-16} {string.Join("  ", row)}");
        }
    }
}
