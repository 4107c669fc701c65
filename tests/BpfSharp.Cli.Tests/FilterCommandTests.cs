using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BpfSharp.Classic;
using BpfSharp.Classic.Capture;
using BpfSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Cli.Tests;

/// <summary><c>bpfsharp filter</c>: compile listings, file filtering and writing, live capture on loopback.</summary>
public class FilterCommandTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"bpfsharp-filter-cli-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public FilterCommandTests(ITestOutputHelper output)
    {
        _out = output;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private static string? TcpdumpPath { get; } = new[] { "/usr/bin/tcpdump", "/usr/sbin/tcpdump", "/usr/local/bin/tcpdump" }.FirstOrDefault(File.Exists);

    private static (int ExitCode, string Stdout, string Stderr) Tcpdump(params string[] args)
    {
        var psi = new ProcessStartInfo(TcpdumpPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["TZ"] = "UTC";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private string EmptyCapture(LinkType link)
    {
        var file = Path.Combine(_dir, $"empty-{(uint)link}.pcap");
        using (new PcapWriter(File.Create(file), link)) { }
        return file;
    }

    public static TheoryData<string, string, string> CompileCases => new()
    {
        // (dlt, listing flags, expression)
        { "EN10MB", "-d", "tcp port 80" },
        { "EN10MB", "-O", "host 10.0.0.1 and (tcp[13] & 2 != 0)" }, // optimized listing differs (jump threading), unoptimized is identical
        { "EN10MB", "-dd", "udp portrange 1000-2000 or icmp" },
        { "EN10MB", "-ddd", "ip6 and tcp dst port 443" },
        { "EN10MB", "-O", "tcp port 80 or 443" },
        { "EN10MB", "-d", "vlan and ip src net 192.168.0.0/16" },
        { "RAW", "-d", "ip[2:2] > 576" },
        { "LINUX_SLL", "-d", "inbound and arp" },
    };

    [Theory]
    [MemberData(nameof(CompileCases))]
    public void Compile_prints_the_listing_tcpdump_prints(string dlt, string flags, string expression)
    {
        if (TcpdumpPath is null)
        {
            _out.WriteLine("tcpdump not installed (apt-get install -y tcpdump); skipped");
            return;
        }
        var link = dlt switch { "RAW" => LinkType.Raw, "LINUX_SLL" => LinkType.LinuxSll, _ => LinkType.Ethernet };
        // tcpdump compiles for a capture file's link type without needing an interface; -O also means -d there.
        string[] tcpdumpFlags = flags == "-O" ? ["-O", "-d"] : [flags];
        var want = Tcpdump([.. tcpdumpFlags, "-r", EmptyCapture(link), expression]);
        Assert.Equal(0, want.ExitCode);
        var got = CliRunner.Run(null, "filter", "compile", "--dlt", dlt, flags, expression);
        Assert.Equal("", got.Stderr);
        Assert.Equal(0, got.ExitCode);
        Assert.Equal(want.Stdout, got.Stdout);
    }

    [Fact]
    public void Compile_defaults_to_the_d_listing_for_ethernet()
    {
        // Hand-written: the classic "ip" filter, as in every tcpdump tutorial.
        var got = CliRunner.Run(null, "filter", "compile", "ip");
        Assert.Equal(0, got.ExitCode);
        Assert.Equal("(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n", got.Stdout);
    }

    [Theory]
    [InlineData("tcp port", "syntax error", "column")]
    [InlineData("ip and and tcp", "syntax error", "column 8")]
    [InlineData("port nosuchservice", "nosuchservice", null)]
    [InlineData("tcp and udp", "expression rejects all packets", null)]
    public void Compile_reports_invalid_expressions_on_stderr_with_non_zero_exit(string expression, string message, string? where)
    {
        var got = CliRunner.Run(null, "filter", "compile", expression);
        Assert.NotEqual(0, got.ExitCode);
        Assert.Equal("", got.Stdout);
        Assert.StartsWith("error: ", got.Stderr, StringComparison.Ordinal);
        Assert.Contains(message, got.Stderr, StringComparison.Ordinal);
        if (where is not null)
            Assert.Contains(where, got.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_rejects_an_unknown_link_type()
    {
        var got = CliRunner.Run(null, "filter", "compile", "--dlt", "FDDI", "ip");
        Assert.NotEqual(0, got.ExitCode);
        Assert.Contains("--dlt", got.Stderr, StringComparison.Ordinal);
    }

    // ---- packet files ----

    private static byte[] Frame(byte protocol, uint source, uint destination, ushort sourcePort, ushort destinationPort, int payload)
    {
        int l4 = protocol == 6 ? 20 : 8;
        var frame = new byte[14 + 20 + l4 + payload];
        var s = frame.AsSpan();
        s[0..6].Fill(0x02);
        s[6..12].Fill(0x04);
        BinaryPrimitives.WriteUInt16BigEndian(s[12..], 0x0800);
        var ip = s[14..];
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + l4 + payload));
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destination);
        var l4Span = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(l4Span, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(l4Span[2..], destinationPort);
        if (protocol == 6)
        {
            l4Span[12] = 0x50;
            l4Span[13] = 0x18; // PSH|ACK
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(l4Span[4..], (ushort)(8 + payload));
        }
        return frame;
    }

    /// <summary>Writes 60 packets: every 3rd is UDP to port 53, the rest TCP to port 80 or 443.</summary>
    private string SampleCapture(out int udp53, out int tcp)
    {
        var file = Path.Combine(_dir, "sample.pcap");
        udp53 = tcp = 0;
        using var w = new PcapWriter(File.Create(file), LinkType.Ethernet);
        for (int i = 0; i < 60; i++)
        {
            byte[] frame = i % 3 == 0
                ? Frame(17, 0x0a000001, 0x0a000002, (ushort)(40000 + i), 53, 12)
                : Frame(6, 0x0a000003, 0xc0a80001, (ushort)(50000 + i), (ushort)(i % 2 == 0 ? 80 : 443), i);
            if (i % 3 == 0) udp53++;
            else tcp++;
            w.Write(frame, (uint)frame.Length, (1_700_000_000L + i) * 1_000_000_000 + 250_000_000);
        }
        return file;
    }

    [Theory]
    [InlineData("interpreter")]
    [InlineData("il")]
    [InlineData("ebpf")]
    public void Read_prints_one_summary_line_per_matching_packet(string engine)
    {
        var file = SampleCapture(out int udp53, out _);
        var got = CliRunner.Run(null, "filter", "-r", file, "--engine", engine, "udp", "port", "53");
        Assert.Equal(0, got.ExitCode);
        var lines = got.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(udp53, lines.Length);
        Assert.Contains($"{udp53} packets matched of 60 read", got.Stderr, StringComparison.Ordinal);
        if (TcpdumpPath is null)
        {
            _out.WriteLine("tcpdump not installed: summary lines not compared");
            Assert.All(lines, l => Assert.Contains("10.0.0.2.53: UDP, length 12", l, StringComparison.Ordinal));
            return;
        }
        var want = Tcpdump("-q", "-nn", "-r", file, "udp port 53");
        Assert.Equal(want.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), lines);
    }

    [Fact]
    public void Read_with_count_stops_early()
    {
        var file = SampleCapture(out _, out _);
        var got = CliRunner.Run(null, "filter", "-r", file, "-c", "4", "tcp");
        Assert.Equal(0, got.ExitCode);
        Assert.Equal(4, got.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Write_produces_a_pcap_tcpdump_reads_back()
    {
        var file = SampleCapture(out _, out int tcp);
        var output = Path.Combine(_dir, "out.pcap");
        var got = CliRunner.Run(null, "filter", "-r", file, "-w", output, "tcp", "port", "80", "or", "443");
        Assert.Equal(0, got.ExitCode);
        Assert.Equal("", got.Stdout);
        using (var reader = CaptureReader.Open(output))
        {
            int n = 0;
            while (reader.TryReadNext(out var p))
            {
                Assert.Equal(LinkType.Ethernet, p.LinkType);
                n++;
            }
            Assert.Equal(tcp, n);
        }
        if (TcpdumpPath is null)
        {
            _out.WriteLine("tcpdump not installed: read-back by tcpdump skipped");
            return;
        }
        var back = Tcpdump("-q", "-nn", "-r", output);
        Assert.Equal(0, back.ExitCode);
        var direct = Tcpdump("-q", "-nn", "-r", file, "tcp port 80 or 443");
        Assert.Equal(direct.Stdout, back.Stdout);
        Assert.Equal(tcp, back.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Write_with_no_match_still_leaves_a_valid_empty_pcap()
    {
        var file = SampleCapture(out _, out _);
        var output = Path.Combine(_dir, "none.pcap");
        var got = CliRunner.Run(null, "filter", "-r", file, "-w", output, "icmp");
        Assert.Equal(0, got.ExitCode);
        using var reader = CaptureReader.Open(output);
        Assert.False(reader.TryReadNext(out _));
    }

    [Theory]
    [InlineData("not-a-capture")]
    [InlineData("missing")]
    public void Read_reports_bad_files(string kind)
    {
        var file = Path.Combine(_dir, kind);
        if (kind != "missing")
            File.WriteAllText(file, "this is not a pcap file at all");
        var got = CliRunner.Run(null, "filter", "-r", file, "ip");
        Assert.NotEqual(0, got.ExitCode);
        Assert.StartsWith("error: ", got.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Needs_exactly_one_source()
    {
        var got = CliRunner.Run(null, "filter", "ip");
        Assert.NotEqual(0, got.ExitCode);
        Assert.Contains("-r FILE or -i IFACE", got.Stderr, StringComparison.Ordinal);
    }

    // ---- live capture ----

    [Fact]
    public async Task Live_capture_on_loopback_sees_only_matching_udp_packets()
    {
        if (Environment.UserName != "root" || !File.Exists("/sys/class/net/lo/type"))
        {
            _out.WriteLine("live capture needs root (CAP_NET_RAW) and a loopback interface; skipped");
            return;
        }
        using var receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        using var other = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)receiver.Client.LocalEndPoint!).Port;
        int otherPort = ((IPEndPoint)other.Client.LocalEndPoint!).Port;

        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { CliRunner.DllPath, "filter", "-i", "lo", "-c", "3", "--duration", "30", $"udp dst port {port}" })
            psi.ArgumentList.Add(a);
        psi.Environment["TZ"] = "UTC";
        using var proc = Process.Start(psi)!;
        var stdout = proc.StandardOutput.ReadToEndAsync();
        var stderr = proc.StandardError.ReadToEndAsync();
        using var sender = new UdpClient();
        var payload = new byte[] { 1, 2, 3, 4, 5 };
        // Keep sending (to both ports) until the capture has seen its three packets; it starts in about a second.
        var clock = Stopwatch.StartNew();
        while (!proc.HasExited && clock.Elapsed < TimeSpan.FromSeconds(40))
        {
            sender.Send(payload, payload.Length, new IPEndPoint(IPAddress.Loopback, otherPort));
            sender.Send(payload, payload.Length, new IPEndPoint(IPAddress.Loopback, port));
            proc.WaitForExit(100);
        }
        if (!proc.HasExited)
            proc.Kill(true);
        await proc.WaitForExitAsync();
        string output = await stdout, errors = await stderr;
        _out.WriteLine(output + errors);
        Assert.Equal(0, proc.ExitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.All(lines, l => Assert.Contains($"IP 127.0.0.1.", l, StringComparison.Ordinal));
        Assert.All(lines, l => Assert.EndsWith($" > 127.0.0.1.{port}: UDP, length 5", l, StringComparison.Ordinal));
        Assert.Contains("3 packets captured", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void Live_capture_reports_a_missing_interface()
    {
        var got = CliRunner.Run(null, "filter", "-i", "nosuchif0", "-c", "1", "ip");
        Assert.NotEqual(0, got.ExitCode);
        Assert.Contains("nosuchif0", got.Stderr, StringComparison.Ordinal);
    }
}
