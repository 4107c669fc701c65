using System.Runtime.InteropServices;
using System.Text;
using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Runtime;
using BpfSharp.Runtime.HelperFunctions;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Jit.Tests;

/// <summary>
/// Runs generated programs on the interpreter (the reference) and on the JIT and demands identical outcomes: r0 or
/// the fault (kind, pc, detail), the instruction count, the whole stack, and the granted regions afterwards.
/// BPFSHARP_DIFF_COUNT / BPFSHARP_DIFF_SEED choose the size and start of the run (default 5000 programs from seed 1).
/// </summary>
public sealed unsafe class DifferentialTests(ITestOutputHelper output) : IDisposable
{
    private readonly DifferentialHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    [Fact]
    public void Jit_matches_interpreter_on_random_programs()
    {
        int count = int.TryParse(Environment.GetEnvironmentVariable("BPFSHARP_DIFF_COUNT"), out var c) ? c : 5000;
        int firstSeed = int.TryParse(Environment.GetEnvironmentVariable("BPFSHARP_DIFF_SEED"), out var s) ? s : 1;
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int trustedRuns = 0;
        long instructions = 0;
        var started = System.Diagnostics.Stopwatch.StartNew();
        // Long runs set BPFSHARP_DIFF_KEEPGOING=1 to count every mismatch instead of stopping at the first.
        bool keepGoing = Environment.GetEnvironmentVariable("BPFSHARP_DIFF_KEEPGOING") == "1";
        var failures = new List<string>();
        for (int seed = firstSeed; seed < firstSeed + count; seed++)
        {
            var program = new RandomProgramGenerator(seed).Generate();
            instructions += program.Count;
            var result = _harness.Compare(program, seed);
            if (result.Mismatch is not null)
            {
                // Same process, same addresses: does it repeat?
                string again = _harness.Compare(program, seed).Mismatch is null ? "did not repeat on a second run" : "repeated on a second run";
                string message = $"seed {seed}: {result.Mismatch} ({again})";
                if (!keepGoing) Assert.Fail($"{message}\n{ConformanceDisassembler.Disassemble(program)}");
                failures.Add(message);
                Console.WriteLine(message);
                continue;
            }
            string key = result.Reference.Fault?.Kind.ToString() ?? (result.Reference.Other is not null ? "helper exception" : "returned");
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
            if (result.TrustedCompared) trustedRuns++;
        }
        var summary = new StringBuilder();
        summary.Append($"{count} programs (seeds {firstSeed}..{firstSeed + count - 1}, {instructions} slots) in {started.Elapsed.TotalSeconds:F1} s; ");
        summary.Append($"trusted mode also compared on {trustedRuns}; outcomes: ");
        summary.AppendJoin(", ", outcomes.Select(kv => $"{kv.Key} {kv.Value}"));
        summary.Append($"; mismatches: {failures.Count}");
        output.WriteLine(summary.ToString());
        Console.WriteLine(summary.ToString());
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        if (count >= 2000)
        {
            // The generator must reach every way a run can end, or the comparison proves less than it claims.
            foreach (var kind in Enum.GetValues<BpfFaultKind>())
                Assert.True(outcomes.ContainsKey(kind.ToString()), $"no generated program ended with {kind}: {summary}");
            Assert.True(outcomes["returned"] > count / 4, summary.ToString());
        }
    }
}

/// <summary>Memory, helpers and contexts shared by the differential runs; resets everything before each run.</summary>
internal sealed unsafe class DifferentialHarness : IDisposable
{
    private const int GrantedLength = 16;
    private readonly byte* _writable;
    private readonly byte* _readOnly;
    private readonly byte* _granted;
    private readonly byte* _packet;
    internal readonly RunContext[] _contexts = [new(1), new(2), new(3), new(8)];
    internal readonly HelperTable _helpers;

    public DifferentialHarness()
    {
        _writable = (byte*)NativeMemory.AlignedAlloc(RandomProgramGenerator.WritableLength, 64);
        _readOnly = (byte*)NativeMemory.AlignedAlloc(RandomProgramGenerator.ReadOnlyLength, 64);
        _granted = (byte*)NativeMemory.AlignedAlloc(GrantedLength, 64);
        _packet = (byte*)NativeMemory.AlignedAlloc(RandomProgramGenerator.PacketLength, 64);
        _helpers = new HelperTable()
            .Register(1, "mix", static (_, a, b, c, d, e) => unchecked(a * 31 + (b ^ c) + d - e))
            .Register(2, "grant", (ctx, _, _, _, _, _) =>
            {
                ctx.GrantRegion(new MemoryRegion((ulong)_granted, GrantedLength, RegionKind.HelperMemory, true));
                return (ulong)_granted;
            })
            .Register(3, "revoke", (ctx, _, _, _, _, _) =>
            {
                ctx.SetRegions([WritableRegion]);
                return 0;
            })
            .Register(4, "fail", static (ctx, _, _, _, _, _) =>
                throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, ctx.HelperPc, "helper 4 failed")))
            .Register(5, "unwind", static (_, a, _, _, _, _) => a);
        CallbackHelpers.RegisterAll(_helpers);
        if (_helpers.Find(RandomProgramGenerator.BpfLoopId) is null) throw new InvalidOperationException("bpf_loop is not helper 181");
    }

    private MemoryRegion WritableRegion => new((ulong)_writable, RandomProgramGenerator.WritableLength, RegionKind.Memory, true);
    private MemoryRegion ReadOnlyRegion => new((ulong)_readOnly, RandomProgramGenerator.ReadOnlyLength, RegionKind.Context, false);

    public sealed record Outcome(ulong R0, BpfFault? Fault, string? Other, long Executed, byte[] Stack, byte[] Writable, byte[] Granted)
    {
        public string Describe() => Fault is not null ? $"fault {Fault}" : Other is not null ? $"exception {Other}" : $"r0 = 0x{R0:x}";
    }

    public sealed record Comparison(Outcome Reference, string? Mismatch, bool TrustedCompared);

    public Action<string>? Trace { get; set; }

    public Comparison Compare(BpfProgram program, int seed)
    {
        var rng = new Random(seed * 7919);
        var context = _contexts[rng.Next(_contexts.Length)];
        long budget = rng.Next(10) switch { < 7 => 20_000, < 9 => rng.Next(0, 300), _ => rng.Next(300, 3000) };
        int memorySeed = rng.Next();

        var reference = Run(new Interpreter(program, _helpers), context, budget, memorySeed);
        Trace?.Invoke($"interpreter: {reference.Describe()}");
        var checkedJit = Run(BpfJit.Compile(program, _helpers, JitOptions.Default), context, budget, memorySeed);
        string? mismatch = Diff("checked JIT", reference, checkedJit, compareCount: true);
        if (mismatch is not null) return new Comparison(reference, mismatch, false);

        // Trusted mode has no checks: only programs whose every access was in bounds may run in it.
        if (reference.Fault?.Kind is BpfFaultKind.OutOfBounds or BpfFaultKind.ReadOnlyWrite)
            return new Comparison(reference, null, false);
        Trace?.Invoke("running trusted");
        var trusted = Run(BpfJit.Compile(program, _helpers, JitOptions.Default with { Mode = JitMode.Trusted }), context, budget, memorySeed);
        mismatch = Diff("trusted JIT", reference, trusted, compareCount: true);
        if (mismatch is null && reference.Fault?.Kind != BpfFaultKind.BudgetExceeded)
        {
            var uncounted = Run(BpfJit.Compile(program, _helpers, JitOptions.TrustedUncounted), context, budget, memorySeed);
            mismatch = Diff("trusted uncounted JIT", reference, uncounted, compareCount: false);
        }
        return new Comparison(reference, mismatch, true);
    }

    private static string? Diff(string engine, Outcome expected, Outcome actual, bool compareCount)
    {
        if (expected.Fault != actual.Fault || expected.Other != actual.Other || (expected.Fault is null && expected.Other is null && expected.R0 != actual.R0))
            return $"{engine}: {actual.Describe()}, interpreter: {expected.Describe()}";
        if (compareCount && expected.Executed != actual.Executed)
            return $"{engine}: {actual.Executed} instructions executed, interpreter: {expected.Executed} ({expected.Describe()})";
        if (!expected.Stack.AsSpan().SequenceEqual(actual.Stack)) return $"{engine}: stack contents differ ({expected.Describe()})";
        if (!expected.Writable.AsSpan().SequenceEqual(actual.Writable)) return $"{engine}: writable region differs ({expected.Describe()})";
        if (!expected.Granted.AsSpan().SequenceEqual(actual.Granted)) return $"{engine}: helper-granted memory differs ({expected.Describe()})";
        return null;
    }

    internal Outcome Run(IBpfExecutable engine, RunContext context, long budget, int memorySeed)
    {
        var fill = new Random(memorySeed);
        fill.NextBytes(new Span<byte>(_writable, RandomProgramGenerator.WritableLength));
        fill.NextBytes(new Span<byte>(_readOnly, RandomProgramGenerator.ReadOnlyLength));
        fill.NextBytes(new Span<byte>(_granted, GrantedLength));
        fill.NextBytes(new Span<byte>(_packet, RandomProgramGenerator.PacketLength));
        NativeMemory.Clear((void*)context.StackBase, (nuint)context.StackSize);
        context.SetRegions([WritableRegion, ReadOnlyRegion]);
        context.PacketStart = (ulong)_packet;
        context.PacketLength = RandomProgramGenerator.PacketLength;
        context.InstructionBudget = budget;
        context.InstructionsExecuted = -12345;
        ulong r0 = 0;
        BpfFault? fault = null;
        string? other = null;
        try
        {
            r0 = engine.Run(context, (ulong)_writable, (ulong)_readOnly);
        }
        catch (BpfFaultException e)
        {
            fault = e.Fault;
        }
        return new Outcome(r0, fault, other, context.InstructionsExecuted,
            new Span<byte>((void*)context.StackBase, context.StackSize).ToArray(),
            new Span<byte>(_writable, RandomProgramGenerator.WritableLength).ToArray(),
            new Span<byte>(_granted, GrantedLength).ToArray());
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_writable);
        NativeMemory.AlignedFree(_readOnly);
        NativeMemory.AlignedFree(_granted);
        NativeMemory.AlignedFree(_packet);
        foreach (var c in _contexts) c.Dispose();
    }
}
