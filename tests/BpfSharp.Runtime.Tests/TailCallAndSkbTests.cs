using BpfSharp.Runtime.Hosting;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Runtime.Tests;

/// <summary>Tail calls through a program array initialised in .maps, and a socket filter's __sk_buff context (data/tailcall_skb.c).</summary>
public class TailCallAndSkbTests
{
    private static string ObjectPath => Path.Combine(TestPaths.RepoRoot, "tests", "BpfSharp.Runtime.Tests", "data", "tailcall_skb.o");

    [Theory]
    [InlineData(new byte[] { 0x01, 0xAA }, 101u)] // slot 1 = stage2: 100 + first byte
    [InlineData(new byte[] { 0x05, 0xAA }, 105u)] // 5 & 3 = 1: stage2 again
    [InlineData(new byte[] { 0x02, 0xAA }, 7u)]   // slot 2 is empty: the tail call fails and entry continues
    [InlineData(new byte[] { }, 1u)]              // empty packet: entry's bounds check
    public void Entry_tail_calls_stage2_through_the_program_array(byte[] packet, uint expected)
    {
        using var obj = BpfRuntimeObject.Load(ObjectPath);
        Assert.Equal(expected, obj.Program("entry").Run(packet));
    }

    [Fact]
    public void Socket_filter_reads_skb_len_and_packet_bytes()
    {
        using var obj = BpfRuntimeObject.Load(ObjectPath);
        var filter = obj.Program("skb_filter");
        var ipv4 = new byte[60];
        ipv4[12] = 0x08;
        var arp = new byte[42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        Assert.Equal(60u, filter.Run(ipv4));     // skb->len of an IPv4 frame
        Assert.Equal(1u, filter.Run(arp));       // not IPv4: truncated to one byte
        Assert.Equal(0u, filter.Run(new byte[10])); // too short for Ethernet
    }
}
