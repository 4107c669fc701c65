using System.Diagnostics;
using BpfSharp.Classic.Capture;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Classic.Tests;

public class PacketSummaryTests
{
    private readonly ITestOutputHelper _out;

    public PacketSummaryTests(ITestOutputHelper output) => _out = output;

    // Packets whose summary tcpdump -q -nn prints in the form we reproduce (TCP, UDP, ICMP/ICMPv6 echo, ARP).
    private static List<TestPacket> Packets() => PacketFactory.Ethernet()
        .Where(p => (p.Name.StartsWith("eth-v4-tcp-", StringComparison.Ordinal) || p.Name.StartsWith("eth-v4-udp-", StringComparison.Ordinal)
                     || p.Name.StartsWith("eth-v6-tcp-", StringComparison.Ordinal) || p.Name is "eth-v4-icmp-8" or "eth-v4-icmp-0"
                     || p.Name is "eth-v6-icmp6-128" or "eth-v6-icmp6-129" or "arp-req")
                    && !p.Name.Contains("trunc", StringComparison.Ordinal) && !p.Name.Contains("flip", StringComparison.Ordinal)
                    && !p.Name.Contains("port53", StringComparison.Ordinal) && !p.Name.Contains("port123", StringComparison.Ordinal)
                    && !p.Name.Contains("port161", StringComparison.Ordinal) && !p.Name.Contains("port5353", StringComparison.Ordinal))
        .ToList();

    [Fact]
    public void Matches_tcpdump_quiet_output()
    {
        if (Tcpdump.Executable is null)
        {
            _out.WriteLine(Tcpdump.SkipReason);
            return;
        }
        var packets = Packets();
        var file = Path.Combine(Path.GetTempPath(), $"summary-{Environment.ProcessId}.pcap");
        using (var w = new PcapWriter(File.Create(file), LinkType.Ethernet))
        {
            for (int i = 0; i < packets.Count; i++)
                w.Write(packets[i].Data, packets[i].WireLength, (1_700_000_000L + i) * 1_000_000_000 + 123_456_000);
        }
        var psi = new ProcessStartInfo(Tcpdump.Executable!, $"-q -nn -r {file}") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["TZ"] = "UTC";
        using var proc = Process.Start(psi)!;
        var expected = proc.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        proc.WaitForExit();
        using var r = CaptureReader.Open(file);
        int n = 0;
        while (r.TryReadNext(out var p))
        {
            Assert.Equal(expected[n], PacketSummary.Format(p));
            n++;
        }
        Assert.Equal(expected.Length, n);
        Assert.True(n > 20);
    }
}
