using BpfSharp.Classic.Capture;
using BpfSharp.Classic.Filter;
using Xunit;

namespace BpfSharp.Classic.Tests;

/// <summary>Bad input must produce a typed error, never another exception or a hang.</summary>
public class RobustnessTests
{
    private static readonly string[] Vocabulary =
    {
        "ip", "ip6", "tcp", "udp", "host", "net", "port", "portrange", "src", "dst", "and", "or", "not", "(", ")", "[", "]",
        ":", "=", "!=", ">", "<", ">=", "<=", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "10.0.0.1", "10.0",
        "::1", "2001:db8::/32", "00:11:22:33:44:55", "80", "0", "4294967295", "99999", "1-2", "http", "proto", "protochain",
        "ether", "vlan", "mpls", "pppoes", "less", "greater", "len", "mask", "255.0.0.0", "/", "8", "\\tcp", "gateway",
        "broadcast", "multicast", "inbound", "icmp", "icmp6", "arp", "tcpflags", "tcp-syn", "llc", "iso", "isis", "l1",
    };

    [Fact]
    public void Random_token_soup_compiles_or_fails_with_a_filter_error()
    {
        var rnd = new Random(99);
        int compiled = 0, rejected = 0;
        for (int n = 0; n < 4000; n++)
        {
            int len = rnd.Next(1, 12);
            var expr = string.Join(" ", Enumerable.Range(0, len).Select(_ => Vocabulary[rnd.Next(Vocabulary.Length)]));
            var link = (new[] { LinkType.Ethernet, LinkType.Raw, LinkType.LinuxSll })[rnd.Next(3)];
            try
            {
                var prog = FilterCompiler.Compile(expr, link, optimize: rnd.Next(2) == 0);
                Assert.NotEmpty(prog);
                if (!expr.Contains("protochain", StringComparison.Ordinal))
                    Assert.Null(CbpfValidator.Check(prog));
                compiled++;
            }
            catch (FilterCompileException e)
            {
                Assert.False(string.IsNullOrEmpty(e.Message));
                rejected++;
            }
        }
        Assert.True(compiled > 30 && rejected > 100, $"{compiled} compiled, {rejected} rejected");
    }

    [Fact]
    public void Mutated_corpus_lines_compile_or_fail_with_a_filter_error()
    {
        var rnd = new Random(7);
        const string chars = " ()[]:!&|^<>=+-*/%0123456789abcdefx.\\";
        foreach (var e in FilterCorpus.Entries)
        {
            for (int m = 0; m < 6; m++)
            {
                var s = e.Expression.ToCharArray().ToList();
                int edits = rnd.Next(1, 4);
                for (int i = 0; i < edits && s.Count > 0; i++)
                {
                    int at = rnd.Next(s.Count);
                    switch (rnd.Next(3))
                    {
                        case 0: s.RemoveAt(at); break;
                        case 1: s.Insert(at, chars[rnd.Next(chars.Length)]); break;
                        default: s[at] = chars[rnd.Next(chars.Length)]; break;
                    }
                }
                try
                {
                    FilterCompiler.Compile(new string(s.ToArray()), e.Link);
                }
                catch (FilterCompileException)
                {
                }
            }
        }
    }

    [Fact]
    public void Random_capture_bytes_fail_with_a_format_error()
    {
        var rnd = new Random(3);
        var valid = new MemoryStream();
        using (var w = new PcapWriter(valid, LinkType.Ethernet, leaveOpen: true))
            foreach (var p in PacketFactory.Ethernet().Take(20))
                w.Write(p.Data, p.WireLength, 0);
        var seed = valid.ToArray();
        for (int n = 0; n < 2000; n++)
        {
            var bytes = (byte[])seed.Clone();
            if (n % 2 == 0)
                bytes = bytes[..rnd.Next(bytes.Length)];
            for (int f = 0; f < rnd.Next(1, 6); f++)
                if (bytes.Length > 0)
                    bytes[rnd.Next(bytes.Length)] = (byte)rnd.Next(256);
            if (n % 3 == 0 && bytes.Length >= 4)
                BitConverter.GetBytes(0x0a0d0d0au).CopyTo(bytes, 0); // also exercise the pcapng reader
            try
            {
                using var r = CaptureReader.Open(new MemoryStream(bytes));
                int count = 0;
                while (r.TryReadNext(out _) && count++ < 10_000) { }
            }
            catch (CaptureFormatException)
            {
            }
        }
    }

    [Fact]
    public void Random_listing_text_fails_with_a_listing_error()
    {
        var rnd = new Random(5);
        var good = CbpfListing.Format(FilterCompiler.Compile("tcp port 80 or udp"), ListingStyle.D);
        foreach (var seed in new[] { good, CbpfListing.Format(FilterCompiler.Compile("ip"), ListingStyle.DD), CbpfListing.Format(FilterCompiler.Compile("ip"), ListingStyle.DDD) })
        {
            for (int n = 0; n < 500; n++)
            {
                var s = seed.ToCharArray();
                for (int f = 0; f < rnd.Next(1, 4); f++)
                    s[rnd.Next(s.Length)] = " ()[]#x0123456789abjt\n{},"[rnd.Next(25)];
                try
                {
                    CbpfListing.Parse(new string(s));
                }
                catch (CbpfListingException)
                {
                }
            }
        }
    }
}
