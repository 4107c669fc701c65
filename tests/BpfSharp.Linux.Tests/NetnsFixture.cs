using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BpfSharp.Linux;

namespace BpfSharp.Linux.Tests;

/// <summary>
/// Two throw-away network namespaces joined by a veth pair: "a" (10.213.7.1, device veth-a) and "b"
/// (10.213.7.2, device veth-b). Addresses exist only inside the namespaces; Dispose deletes both (and the veth).
/// </summary>
internal sealed class VethPair : IDisposable
{
    public const string AddressA = "10.213.7.1", AddressB = "10.213.7.2";
    public string NsA { get; }
    public string NsB { get; }

    public VethPair()
    {
        string tag = $"{Environment.ProcessId % 100000}-{Random.Shared.Next(1000)}";
        NsA = "bpfs-a-" + tag;
        NsB = "bpfs-b-" + tag;
        Ip($"netns add {NsA}");
        Ip($"netns add {NsB}");
        Ip($"link add veth-a netns {NsA} type veth peer name veth-b netns {NsB}");
        Ip($"-n {NsA} addr add {AddressA}/24 dev veth-a");
        Ip($"-n {NsB} addr add {AddressB}/24 dev veth-b");
        Ip($"-n {NsA} link set veth-a up");
        Ip($"-n {NsB} link set veth-b up");
        Ip($"-n {NsA} link set lo up");
        Ip($"-n {NsB} link set lo up");
    }

    public int IfindexA => NetworkNamespace.Run(NsA, () => LinuxSystem.InterfaceIndex("veth-a"));

    /// <summary>Sends <paramref name="count"/> UDP datagrams from b to a:port and returns how many a received.</summary>
    public int SendUdpBToA(int count, int port = 9999)
    {
        using var receiver = NetworkNamespace.Run(NsA, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Parse(AddressA), port));
            s.ReceiveTimeout = 1000;   // generous: ARP resolution on a loaded machine
            return s;
        });
        NetworkNamespace.Run(NsB, () =>
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            for (int i = 0; i < count; i++)
            {
                s.SendTo(new byte[32], new IPEndPoint(IPAddress.Parse(AddressA), port));
                Thread.Sleep(5);
            }
            return 0;
        });
        int received = 0;
        byte[] buf = new byte[2048];
        try
        {
            while (received < count)
            {
                receiver.Receive(buf);
                received++;
            }
        }
        catch (SocketException) { }   // timeout: no more datagrams
        return received;
    }

    public static void Ip(string args)
    {
        var psi = new ProcessStartInfo(Requirements.FindTool("ip") ?? "ip", args) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"ip {args} failed: {err}");
    }

    public void Dispose()
    {
        try { Ip($"netns del {NsA}"); } catch (InvalidOperationException) { }
        try { Ip($"netns del {NsB}"); } catch (InvalidOperationException) { }
    }
}
