using System.Diagnostics;
using System.Runtime.InteropServices;
using BpfSharp.Isa;
using BpfSharp.Linux;
using Xunit;
using Xunit.Abstractions;
using static BpfSharp.Linux.Tests.I;

namespace BpfSharp.Linux.Tests;

/// <summary>
/// Throughput measurements (printed; asserted only for exact accounting, not for speed, since the machine is
/// shared). Run with <c>--logger "console;verbosity=detailed"</c> to see the numbers.
/// </summary>
[Collection(nameof(SerialCollection))]
public class PerformanceTests(ITestOutputHelper output)
{
    /// <summary>
    /// XDP program: bpf_ringbuf_output(rb, &amp;u64 42, 8, BPF_RB_NO_WAKEUP); on failure counts a drop in slot 0.
    /// </summary>
    private static RawInstruction[] Producer(KernelMap rb, KernelMap drops) => Prog(
        StDW(R10, -8, 42),
        LdMap(R1, rb),
        MovR(R2, R10), Add(R2, -8),
        Mov(R3, 8),
        Mov(R4, 1),
        Call(BpfHelperIds.RingbufOutput),
        JeqImm(R0, 0, 9),
        CountInto(drops),
        Mov(R0, 2),
        Exit());

    [KernelFact]
    public void Ring_buffer_drain_rate_of_prefilled_small_events()
    {
        const int events = 2_000_000;
        using var rb = KernelMap.Create(BpfMapType.Ringbuf, 0, 0, 1 << 26);   // 64 MiB: room for 4M 16-byte records
        using var drops = KernelMap.Create(BpfMapType.Array, 4, 8, 1);
        using var ring = new RingBuffer(rb);
        using var prog = KernelProgram.Load(Producer(rb, drops), BpfProgramType.Xdp);
        var produce = Stopwatch.StartNew();
        var run = prog.TestRun(new byte[64], repeat: events);
        produce.Stop();
        Assert.True(drops.TryLookup(0u, out ulong dropped));
        Assert.Equal(0ul, dropped);

        long sum = 0;
        var drain = Stopwatch.StartNew();
        int consumed = ring.Consume(r => sum += r[0]);
        drain.Stop();
        Assert.Equal(events, consumed);
        Assert.Equal(42L * events, sum);
        output.WriteLine($"kernel produced {events:N0} 8-byte events in {produce.Elapsed.TotalMilliseconds:F0} ms ({run.DurationNs} ns/run)");
        output.WriteLine($"C# drained them in {drain.Elapsed.TotalMilliseconds:F0} ms = {events / drain.Elapsed.TotalSeconds / 1e6:F2} M events/s");
    }

    [KernelFact]
    public void Ring_buffer_concurrent_producer_and_consumer()
    {
        const int events = 4_000_000;
        using var rb = KernelMap.Create(BpfMapType.Ringbuf, 0, 0, 1 << 24);   // 16 MiB
        using var drops = KernelMap.Create(BpfMapType.Array, 4, 8, 1);
        using var ring = new RingBuffer(rb);
        using var prog = KernelProgram.Load(Producer(rb, drops), BpfProgramType.Xdp);
        long consumed = 0;
        bool producing = true;
        var consumer = new Thread(() =>
        {
            while (Volatile.Read(ref producing))
            {
                if (ring.Consume(_ => consumed++) == 0)
                    Thread.SpinWait(20);
            }
            ring.Consume(_ => consumed++);
        });
        var sw = Stopwatch.StartNew();
        consumer.Start();
        prog.TestRun(new byte[64], repeat: events);
        Volatile.Write(ref producing, false);
        consumer.Join();
        sw.Stop();
        drops.TryLookup(0u, out ulong dropped);
        Assert.Equal(events, consumed + (long)dropped);   // every event is either delivered or counted as dropped
        output.WriteLine($"{events:N0} events in {sw.Elapsed.TotalMilliseconds:F0} ms: consumed {consumed:N0} " +
            $"({consumed / sw.Elapsed.TotalSeconds / 1e6:F2} M/s), dropped (ring full) {dropped:N0}");
    }

    [KernelFact]
    public void Map_operations_per_second_through_the_syscall()
    {
        const int n = 100_000;
        using var map = KernelMap.Create(BpfMapType.Hash, 4, 8, n);
        for (uint i = 0; i < 1000; i++)   // warm up the JIT
            map.Update(i, (ulong)i);
        // The machine is shared: report both wall-clock and CPU-time rates (this process's CPU time).
        var me = Process.GetCurrentProcess();
        var cpu0 = me.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        for (uint i = 0; i < n; i++)
            map.Update(i, (ulong)i);
        double update = n / sw.Elapsed.TotalSeconds;
        me.Refresh();
        double updateCpu = n / (me.TotalProcessorTime - cpu0).TotalSeconds;
        cpu0 = me.TotalProcessorTime;
        sw.Restart();
        ulong sum = 0;
        for (uint i = 0; i < n; i++)
        {
            map.TryLookup(i, out ulong v);
            sum += v;
        }
        double lookup = n / sw.Elapsed.TotalSeconds;
        me.Refresh();
        double lookupCpu = n / (me.TotalProcessorTime - cpu0).TotalSeconds;
        Assert.Equal((ulong)n * (n - 1) / 2, sum);

        uint[] keys = Enumerable.Range(0, n).Select(i => (uint)i).ToArray();
        ulong[] values = keys.Select(k => (ulong)k * 2).ToArray();
        sw.Restart();
        map.UpdateBatch(MemoryMarshal.AsBytes(keys.AsSpan()), MemoryMarshal.AsBytes(values.AsSpan()), n);
        double batchUpdate = n / sw.Elapsed.TotalSeconds;
        sw.Restart();
        int read = 0;
        foreach (var _ in map.LookupBatch(4096))
            read++;
        double batchLookup = n / sw.Elapsed.TotalSeconds;
        Assert.Equal(n, read);
        output.WriteLine($"hash map, 4-byte keys, 8-byte values, {n:N0} elements:");
        output.WriteLine($"  C#: update {update / 1e6:F3} M ops/s wall, {updateCpu / 1e6:F3} M ops/cpu-s; lookup {lookup / 1e6:F3} M ops/s wall, {lookupCpu / 1e6:F3} M ops/cpu-s (one bpf() per op)");
        RunCBaseline(n);
        output.WriteLine($"  batch update {batchUpdate / 1e6:F2} M elems/s, batch lookup {batchLookup / 1e6:F2} M elems/s");

        string? bpftool = Requirements.FindTool("bpftool");
        if (bpftool is null)
        {
            output.WriteLine("  bpftool not installed: no comparison");
            return;
        }
        // bpftool batch mode runs many commands in one process: its per-op cost includes command parsing.
        const int m = 20_000;
        uint id = map.GetInfo().Id;
        string file = Path.GetTempFileName();
        try
        {
            using (var w = new StreamWriter(file))
                for (int i = 0; i < m; i++)
                    w.WriteLine($"map update id {id} key {i & 0xFF} {(i >> 8) & 0xFF} 0 0 value {i & 0xFF} 0 0 0 0 0 0 0");
            var psi = new ProcessStartInfo(bpftool, $"batch file {file}") { RedirectStandardOutput = true, RedirectStandardError = true };
            sw.Restart();
            using var p = Process.Start(psi)!;
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            sw.Stop();
            output.WriteLine($"  bpftool batch of {m:N0} 'map update' commands: {m / sw.Elapsed.TotalSeconds / 1e6:F3} M ops/s (exit {p.ExitCode})");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Compiles and runs Native/map_bench.c (raw bpf() from C, as libbpf does) when gcc or clang is present.</summary>
    private void RunCBaseline(int n)
    {
        string? cc = Requirements.FindTool("gcc") ?? Requirements.FindTool("cc") ?? Requirements.FindTool("clang-19");
        string source = Path.Combine(AppContext.BaseDirectory, "Native", "map_bench.c");
        if (cc is null || !File.Exists(source))
        {
            output.WriteLine("  C baseline: no C compiler (or source) found, skipped");
            return;
        }
        string exe = Path.Combine(Path.GetTempPath(), "bpfsharp-map-bench-" + Environment.ProcessId);
        try
        {
            using (var build = Process.Start(new ProcessStartInfo(cc, $"-O2 -o {exe} {source}") { RedirectStandardError = true })!)
            {
                string err = build.StandardError.ReadToEnd();
                build.WaitForExit();
                if (build.ExitCode != 0)
                {
                    output.WriteLine("  C baseline: compile failed: " + err);
                    return;
                }
            }
            using var run = Process.Start(new ProcessStartInfo(exe, n.ToString()) { RedirectStandardOutput = true })!;
            output.WriteLine("  C : " + run.StandardOutput.ReadToEnd().Trim());
            run.WaitForExit();
        }
        finally
        {
            File.Delete(exe);
        }
    }
}

/// <summary>Measurements run alone, not in parallel with other test classes.</summary>
[CollectionDefinition(nameof(SerialCollection), DisableParallelization = true)]
public sealed class SerialCollection;
