using System.Diagnostics;
using BpfSharp.Linux.Tools;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Linux.Tests;

/// <summary>The tools against real system activity.</summary>
public class ToolTests(ITestOutputHelper output)
{
    [KernelFact("tracefs")]
    public void Execsnoop_sees_a_process_we_start_with_its_pid_parent_and_arguments()
    {
        using var snoop = ExecSnoop.Start();
        string sleep = File.Exists("/usr/bin/sleep") ? "/usr/bin/sleep" : "/bin/sleep";
        using var child = Process.Start(new ProcessStartInfo(sleep, "1.25") { UseShellExecute = false })!;
        ExecEvent? seen = null;
        var deadline = Stopwatch.StartNew();
        while (seen is null && deadline.ElapsedMilliseconds < 5000)
            snoop.Poll(e => { if (e.Pid == child.Id) seen = e; }, 100);
        child.WaitForExit();
        Assert.NotNull(seen);
        output.WriteLine(seen!.ToString());
        Assert.Equal(sleep, seen.Filename);
        Assert.Equal("sleep", seen.Comm);
        Assert.Equal(Environment.ProcessId, seen.ParentPid);
        Assert.Equal(sleep + " 1.25", seen.Arguments);
        // Real uid, as /proc/self/status's "Uid:" line reports it (the child inherits ours).
        string uidLine = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        Assert.Equal(uint.Parse(uidLine.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]), seen.Uid);
    }
}

public class BioLatencyTests(ITestOutputHelper output)
{
    [Fact]
    public void Percentiles_interpolate_inside_log2_slots()
    {
        // 10 values in [4,8) µs and 10 in [8,16): the median is the top of the first slot, p75 the middle of the second.
        var counts = new ulong[64];
        counts[2] = 10;
        counts[3] = 10;
        var h = new LatencyHistogram(counts);
        Assert.Equal(20UL, h.Total);
        Assert.Equal(8.0, h.Percentile(50), 6);
        Assert.Equal(12.0, h.Percentile(75), 6);
        Assert.Equal(16.0, h.Percentile(100), 6);
        Assert.Equal(0.0, new LatencyHistogram(new ulong[64]).Percentile(99));
    }

    [KernelFact("tracefs")]
    public void Biolatency_counts_every_direct_write_we_issue()
    {
        if (!Directory.Exists("/sys/kernel/tracing/events/block/block_rq_issue"))
        {
            output.WriteLine("SKIP: no block:block_rq_issue tracepoint");
            return;
        }
        string dd = Requirements.FindTool("dd") ?? "/bin/dd";
        // O_DIRECT needs a real block-backed file system; the test output directory is on the VM disk here.
        string file = Path.Combine(AppContext.BaseDirectory, $"biolatency-{Environment.ProcessId}.tmp");
        using var bio = BioLatency.Start();
        const int writes = 200;
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(dd,
                $"if=/dev/zero of={file} bs=4096 count={writes} oflag=direct,sync conv=notrunc") { RedirectStandardError = true })!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                output.WriteLine("SKIP: dd with O_DIRECT failed here: " + err);
                return;
            }
        }
        finally
        {
            File.Delete(file);
        }
        Thread.Sleep(100);
        var h = bio.Snapshot();
        output.WriteLine($"total {h.Total}, p50 {h.Percentile(50):F0} us, p90 {h.Percentile(90):F0} us, p99 {h.Percentile(99):F0} us");
        for (int k = 0; k < 64; k++)
            if (h.Counts[k] > 0) output.WriteLine($"[{LatencyHistogram.SlotLow(k)}, {LatencyHistogram.SlotHigh(k)}) us: {h.Counts[k]}");
        // Each synchronous direct 4 KiB write is at least one request (other system I/O may add more).
        Assert.True(h.Total >= writes, $"histogram has {h.Total} requests, expected at least {writes}");
        Assert.True(h.Percentile(50) > 0);
        bio.Reset();
        Assert.Equal(0UL, bio.Snapshot().Total);
    }
}

public class DdosTests(ITestOutputHelper output)
{
    private static int Send(VethPair veth, int count, int gapMs)
    {
        // Flood/trickle from namespace B to A's address only; nothing leaves the two namespaces.
        return NetworkNamespace.Run(veth.NsB, () =>
        {
            using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
            var to = new System.Net.IPEndPoint(System.Net.IPAddress.Parse(VethPair.AddressA), 9);
            for (int i = 0; i < count; i++)
            {
                s.SendTo(new byte[64], to);
                if (gapMs > 0) Thread.Sleep(gapMs);
            }
            return count;
        });
    }

    [KernelFact("netns")]
    public void Flood_from_one_source_is_detected_and_dropped_while_a_trickle_passes()
    {
        using var veth = new VethPair();
        int ifindex = veth.IfindexA;
        const ulong limit = 100;

        // Trickle: 20 packets 10 ms apart stay far below 100 per 10 s window.
        using (var detector = NetworkNamespace.Run(veth.NsA, () => DdosDetector.Start(ifindex, limit, TimeSpan.FromSeconds(10), XdpMode.Generic)))
        {
            Send(veth, 20, 10);
            var stats = detector.Stats();
            output.WriteLine($"trickle: {stats}");
            Assert.Equal(0UL, stats.Dropped);
            Assert.Equal(0UL, stats.Alerts);
            Assert.True(stats.Passed >= 20, $"passed {stats.Passed}");
            var source = Assert.Single(detector.Sources(), s => s.Address.ToString() == VethPair.AddressB);
            Assert.True(source.AverageGapMicroseconds > 1000, $"average gap {source.AverageGapMicroseconds} us for 10 ms spacing");
        }

        // Flood: 5000 back-to-back packets in one window: everything past the 100th is dropped, one alert.
        using (var detector = NetworkNamespace.Run(veth.NsA, () => DdosDetector.Start(ifindex, limit, TimeSpan.FromSeconds(10), XdpMode.Generic)))
        {
            const int flood = 5000;
            Send(veth, flood, 0);
            var stats = detector.Stats();
            var source = Assert.Single(detector.Sources(), s => s.Address.ToString() == VethPair.AddressB);
            output.WriteLine($"flood: {stats}; source {source}");
            Assert.Equal(1UL, source.Alerts);
            Assert.Equal(1UL, stats.Alerts);
            // The first `limit` packets of the window pass (ARP is not IPv4 and is not counted per source).
            Assert.Equal((ulong)flood - limit, source.Dropped);
            Assert.Equal(source.Dropped, stats.Dropped);
        }
    }
}
