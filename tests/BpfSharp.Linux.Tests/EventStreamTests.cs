using System.Buffers.Binary;
using System.Diagnostics;
using BpfSharp.Isa;
using BpfSharp.Linux;
using Xunit;
using Xunit.Abstractions;
using static BpfSharp.Linux.Tests.I;

namespace BpfSharp.Linux.Tests;

public partial class EventStreamTests(ITestOutputHelper output)
{
    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nint size, ref ulong mask);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int SchedGetAffinity(int pid, nint size, ref ulong mask);

    /// <summary>XDP: bpf_perf_event_output(ctx, events, BPF_F_CURRENT_CPU, first 8 packet bytes, 8); XDP_PASS.</summary>
    private static RawInstruction[] PerfOutputPacketPrefix(KernelMap events) => Prog(
        MovR(R6, R1),
        LdxW(R2, R6, 0), LdxW(R3, R6, 4),
        MovR(R4, R2), Add(R4, 8),
        JgtR(R4, R3, 10),
        LdxDW(R5, R2, 0), StxDW(R10, -8, R5),
        MovR(R1, R6),
        LdMap(R2, events),
        Mov32(R3, -1),                  // BPF_F_CURRENT_CPU = 0xffffffff, upper 32 bits 0 (no packet bytes appended)
        MovR(R4, R10), Add(R4, -8),
        Mov(R5, 8),
        Call(BpfHelperIds.PerfEventOutput),
        Mov(R0, 2),
        Exit());

    [KernelFact]
    public void Perf_buffer_delivers_samples_with_their_cpu()
    {
        using var events = KernelMap.Create(BpfMapType.PerfEventArray, 4, 4, LinuxSystem.PossibleCpuCount);
        using var perf = new PerfBuffer(events, pagesPerCpu: 8);
        using var prog = KernelProgram.Load(PerfOutputPacketPrefix(events), BpfProgramType.Xdp);
        byte[] packet = new byte[32];
        for (ulong i = 0; i < 50; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(packet, 1000 + i);
            prog.TestRun(packet);
        }
        var got = new List<ulong>();
        var cpus = new HashSet<int>();
        perf.Poll((cpu, sample) =>
        {
            // The kernel pads the raw part to keep records 8-aligned: 8 bytes written -> 12 bytes of raw data.
            Assert.InRange(sample.Length, 8, 15);
            got.Add(BinaryPrimitives.ReadUInt64LittleEndian(sample));
            cpus.Add(cpu);
        }, 1000);
        // Samples are ordered per CPU; the test thread may migrate between runs, so compare as a set.
        Assert.Equal(Enumerable.Range(1000, 50).Select(x => (ulong)x), got.Order());
        Assert.Equal(0, perf.Lost);
        output.WriteLine($"50 samples from CPUs {string.Join(",", cpus)}");
    }

    [KernelFact]
    public void Perf_buffer_counts_lost_samples_when_its_ring_is_full()
    {
        using var events = KernelMap.Create(BpfMapType.PerfEventArray, 4, 4, LinuxSystem.PossibleCpuCount);
        using var perf = new PerfBuffer(events, pagesPerCpu: 1);
        using var prog = KernelProgram.Load(PerfOutputPacketPrefix(events), BpfProgramType.Xdp);
        // Pin this thread to one CPU: the LOST record is written into the ring of the CPU that overflowed, on
        // that CPU's next successful output, so every run must happen on the same CPU.
        ulong saved = 0, cpu0 = 1;
        Assert.Equal(0, SchedGetAffinity(0, 8, ref saved));
        Assert.Equal(0, SchedSetAffinity(0, 8, ref cpu0));
        try
        {
            ProduceUntilLost(perf, prog);
        }
        finally
        {
            SchedSetAffinity(0, 8, ref saved);
        }
    }

    private void ProduceUntilLost(PerfBuffer perf, KernelProgram prog)
    {
        // One page holds page/24 samples of 24 bytes; produce many more in one kernel loop.
        int produced = LinuxSystem.PageSize;
        prog.TestRun(new TestRunOptions { DataIn = new byte[32], Repeat = (uint)produced });
        int got = perf.Consume((_, _) => { });
        Assert.True(got < produced, $"got {got} of {produced}");
        Assert.True(got > 0);
        output.WriteLine($"{got} delivered; lost record pending until space frees: {perf.Lost}");
        // The LOST record is written once space is available again: produce one more and consume.
        prog.TestRun(new byte[32]);
        perf.Consume((_, _) => { });
        Assert.True(perf.Lost > 0, "no PERF_RECORD_LOST seen");
        Assert.True(got + perf.Lost >= produced, $"{got} delivered + {perf.Lost} lost < {produced}");
    }

    [KernelFact("tracefs")]
    public void Exec_tracepoint_streams_pids_through_a_ring_buffer()
    {
        var (pidOffset, _) = Tracefs.Field("sched", "sched_process_exec", "pid");
        using var rb = KernelMap.Create(BpfMapType.Ringbuf, 0, 0, LinuxSystem.PageSize * 16);
        using var ring = new RingBuffer(rb);
        var prog = Prog(
            LdxW(R2, R1, (short)pidOffset),
            StxW(R10, -4, R2),
            LdMap(R1, rb),
            MovR(R2, R10), Add(R2, -4),
            Mov(R3, 4),
            Mov(R4, 0),
            Call(BpfHelperIds.RingbufOutput),
            Mov(R0, 0),
            Exit());
        using var p = KernelProgram.Load(prog, BpfProgramType.Tracepoint);
        var pids = new List<int>();
        using (p.AttachTracepoint("sched", "sched_process_exec"))
        {
            for (int i = 0; i < 3; i++)
            {
                using var child = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
                child.WaitForExit();
                pids.Add(child.Id);
            }
        }
        var seen = new HashSet<int>();
        ring.Poll(r => seen.Add(BinaryPrimitives.ReadInt32LittleEndian(r)), 1000);
        ring.Consume(r => seen.Add(BinaryPrimitives.ReadInt32LittleEndian(r)));
        Assert.All(pids, pid => Assert.Contains(pid, seen));
    }

    [KernelFact]
    public void Test_run_passes_context_in_and_out()
    {
        // Raw tracepoint test run: ctx is the u64 args array; return args[0] + args[1].
        RawInstruction[] prog = [LdxDW(R2, R1, 0), LdxDW(R3, R1, 8), MovR(R0, R2), AddR(R0, R3), Exit()];
        using var p = KernelProgram.Load(prog, BpfProgramType.RawTracepoint);
        byte[] ctx = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(ctx, 40);
        BinaryPrimitives.WriteUInt64LittleEndian(ctx.AsSpan(8), 2);
        var r = p.TestRun(new TestRunOptions { ContextIn = ctx, DataOutSize = 0 });
        Assert.Equal(42u, r.ReturnValue);

        // sched_cls with a __sk_buff context in and out: the program sets skb->mark (offset 8) = 0x1234.
        RawInstruction[] setMark = [Mov(R2, 0x1234), StxW(R1, 8, R2), Mov(R0, 0), Exit()];
        using var tc = KernelProgram.Load(setMark, BpfProgramType.SchedCls);
        var res = tc.TestRun(new TestRunOptions { DataIn = new byte[64], ContextIn = new byte[192], ContextOutSize = 192 });
        Assert.Equal(0x1234u, BinaryPrimitives.ReadUInt32LittleEndian(res.ContextOut.AsSpan(8)));
    }
}
