using BpfSharp.Classic.Capture;
using BpfSharp.Classic.Filter;
using Xunit;

namespace BpfSharp.Classic.Tests;

public class ValidatorTests
{
    private static CbpfInstruction S(ushort code, uint k = 0) => CbpfInstruction.Stmt(code, k);
    private static CbpfInstruction J(ushort code, uint k, byte jt, byte jf) => CbpfInstruction.Jump(code, k, jt, jf);
    private static readonly CbpfInstruction RetA = S(Bpf.RET | Bpf.A);
    private static readonly CbpfInstruction Ret0 = S(Bpf.RET | Bpf.K, 0);

    // Each case is one of the kernel's documented refusal rules (net/core/filter.c bpf_check_classic).
    public static IEnumerable<object[]> Rejected() => new[]
    {
        new object[] { "empty", Array.Empty<CbpfInstruction>(), -1 },
        new object[] { "no final return", new[] { S(Bpf.LD | Bpf.IMM, 1) }, 0 },
        new object[] { "division by constant zero", new[] { S(Bpf.ALU | Bpf.DIV | Bpf.K, 0), RetA }, 0 },
        new object[] { "modulo by constant zero", new[] { S(Bpf.ALU | Bpf.MOD | Bpf.K, 0), RetA }, 0 },
        new object[] { "shift of 32", new[] { S(Bpf.ALU | Bpf.LSH | Bpf.K, 32), RetA }, 0 },
        new object[] { "scratch index 16", new[] { S(Bpf.ST, 16), RetA }, 0 },
        new object[] { "read before write", new[] { S(Bpf.LD | Bpf.MEM, 3), RetA }, 0 },
        new object[] { "read written on one path only", new[] { J(Bpf.JMP | Bpf.JEQ | Bpf.K, 0, 0, 1), S(Bpf.ST, 2), S(Bpf.LDX | Bpf.MEM, 2), RetA }, 2 },
        new object[] { "jump past end", new[] { J(Bpf.JMP | Bpf.JEQ | Bpf.K, 0, 1, 0), RetA }, 0 },
        new object[] { "ja past end", new[] { S(Bpf.JMP | Bpf.JA, 1), RetA }, 0 },
        new object[] { "unknown opcode", new[] { S(0xff), RetA }, 0 },
        new object[] { "ret x is not a kernel opcode", new[] { S(Bpf.RET | Bpf.X) }, 0 },
        new object[] { "unknown ancillary offset", new[] { S(Bpf.LD | Bpf.W | Bpf.ABS, Bpf.SkfAdOff + 64), RetA }, 0 },
        new object[] { "misaligned ancillary offset", new[] { S(Bpf.LD | Bpf.W | Bpf.ABS, Bpf.SkfAdOff + 2), RetA }, 0 },
        new object[] { "too long", Enumerable.Repeat(RetA, 4097).ToArray(), -1 },
    };

    [Theory]
    [MemberData(nameof(Rejected))]
    public void Kernel_rules_reject(string rule, CbpfInstruction[] program, int index)
    {
        var error = CbpfValidator.Check(program);
        Assert.NotNull(error);
        Assert.Equal(index, error!.Index);
        Assert.False(string.IsNullOrEmpty(rule));
    }

    [Fact]
    public void Accepts_ancillary_memory_written_on_all_paths_and_4096_instructions()
    {
        var program = new[]
        {
            S(Bpf.LD | Bpf.W | Bpf.ABS, Bpf.SkfAdOff + (uint)SkfAd.Protocol),
            J(Bpf.JMP | Bpf.JEQ | Bpf.K, 0x800, 0, 2),
            S(Bpf.ST, 1),
            S(Bpf.JMP | Bpf.JA, 1),
            S(Bpf.ST, 1),
            S(Bpf.LDX | Bpf.MEM, 1),
            RetA,
        };
        Assert.Null(CbpfValidator.Check(program));
        Assert.Null(CbpfValidator.Check(Enumerable.Repeat(Ret0, 4096).ToArray()));
    }
}

public class InterpreterTests
{
    private static CbpfInstruction S(ushort code, uint k = 0) => CbpfInstruction.Stmt(code, k);
    private static readonly CbpfInstruction RetA = S(Bpf.RET | Bpf.A);

    // Packet bytes 00 01 .. 0f: values below are computed by hand from that pattern.
    private static readonly byte[] Seq = Enumerable.Range(0, 16).Select(i => (byte)i).ToArray();

    public static IEnumerable<object[]> Programs() => new[]
    {
        new object[] { new[] { S(Bpf.LD | Bpf.W | Bpf.ABS, 0), RetA }, 0x00010203u },
        new object[] { new[] { S(Bpf.LD | Bpf.H | Bpf.ABS, 14), RetA }, 0x0e0fu },
        new object[] { new[] { S(Bpf.LD | Bpf.W | Bpf.ABS, 13), RetA }, 0u },              // crosses the end: verdict 0
        new object[] { new[] { S(Bpf.LD | Bpf.B | Bpf.ABS, 16), RetA }, 0u },
        new object[] { new[] { S(Bpf.LDX | Bpf.IMM, 4), S(Bpf.LD | Bpf.B | Bpf.IND, 3), RetA }, 7u },
        new object[] { new[] { S(Bpf.LDX | Bpf.IMM, 0xffffffff), S(Bpf.LD | Bpf.B | Bpf.IND, 2), RetA }, 0u }, // X+k wraps: out
        new object[] { new[] { S(Bpf.LDX | Bpf.MSH | Bpf.B, 5), S(Bpf.MISC | Bpf.TXA), RetA }, 20u },           // 4*(5&0xf)
        new object[] { new[] { S(Bpf.LD | Bpf.W | Bpf.LEN), RetA }, 100u },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 7), S(Bpf.ST, 15), S(Bpf.LD | Bpf.IMM, 1), S(Bpf.LD | Bpf.MEM, 15), RetA }, 7u },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 10), S(Bpf.LDX | Bpf.IMM, 0), S(Bpf.ALU | Bpf.DIV | Bpf.X), RetA }, 0u },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 10), S(Bpf.LDX | Bpf.IMM, 0), S(Bpf.ALU | Bpf.MOD | Bpf.X), RetA }, 0u },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 10), S(Bpf.ALU | Bpf.MOD | Bpf.K, 4), RetA }, 2u },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 0xf0), S(Bpf.ALU | Bpf.XOR | Bpf.K, 0xff), RetA }, 0x0fu },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 1), S(Bpf.ALU | Bpf.NEG), RetA }, 0xffffffffu },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 3), S(Bpf.ALU | Bpf.LSH | Bpf.K, 4), S(Bpf.ALU | Bpf.SUB | Bpf.K, 50), RetA }, unchecked((uint)-2) },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 5), CbpfInstruction.Jump(Bpf.JMP | Bpf.JGT | Bpf.K, 4, 1, 0), S(Bpf.RET | Bpf.K, 1), S(Bpf.RET | Bpf.K, 2) }, 2u },
        new object[] { new[] { S(Bpf.LD | Bpf.IMM, 5), CbpfInstruction.Jump(Bpf.JMP | Bpf.JSET | Bpf.K, 2, 1, 0), S(Bpf.RET | Bpf.K, 1), S(Bpf.RET | Bpf.K, 2) }, 1u },
        new object[] { new[] { S(Bpf.JMP | Bpf.JA, 1), S(Bpf.RET | Bpf.K, 1), S(Bpf.RET | Bpf.K, 9) }, 9u },
    };

    [Theory]
    [MemberData(nameof(Programs))]
    public void Computes_hand_checked_results(CbpfInstruction[] program, uint expected)
    {
        Assert.Equal(expected, CbpfInterpreter.Run(program, Seq, 100));
    }

    [Fact]
    public void Ancillary_loads_read_metadata_or_reject_without_it()
    {
        var program = new[] { S(Bpf.LD | Bpf.H | Bpf.ABS, Bpf.SkfAdOff + (uint)SkfAd.Protocol), RetA };
        Assert.Equal(0u, CbpfInterpreter.Run(program, Seq));
        var meta = new CbpfAncillary(0x86dd, 0, 3, 0, 0, 1, 0, 0, 0, false, 0, 0, 0);
        Assert.Equal(0x86ddu, CbpfInterpreter.Run(program, Seq, 16, meta));
    }
}

public class ListingTests
{
    // Expected text is tcpdump 4.99.3 / libpcap 1.10.3 output for `tcpdump -d/-dd/-ddd ip` on Ethernet, snaplen 262144.
    private const string D = "(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n(002) ret      #262144\n(003) ret      #0\n";
    private const string DD = "{ 0x28, 0, 0, 0x0000000c },\n{ 0x15, 0, 1, 0x00000800 },\n{ 0x6, 0, 0, 0x00040000 },\n{ 0x6, 0, 0, 0x00000000 },\n";
    private const string DDD = "4\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n6 0 0 0\n";

    [Theory]
    [InlineData(ListingStyle.D, D)]
    [InlineData(ListingStyle.DD, DD)]
    [InlineData(ListingStyle.DDD, DDD)]
    public void Formats_and_parses_like_tcpdump(ListingStyle style, string text)
    {
        var program = FilterCompiler.Compile("ip");
        Assert.Equal(text, CbpfListing.Format(program, style));
        Assert.Equal(program, CbpfListing.Parse(text));
    }

    [Fact]
    public void Every_opcode_round_trips_through_every_style()
    {
        var codes = Enumerable.Range(0, 0x100).Select(c => (ushort)c).Where(CbpfValidator.IsKnownOpcode).ToList();
        var program = codes.Select(c => Bpf.Class(c) == Bpf.JMP && Bpf.Op(c) != Bpf.JA
            ? new CbpfInstruction(c, 0, 0, Bpf.Src(c) == Bpf.X ? 0u : 5u) : CbpfInstruction.Stmt(c, Bpf.Class(c) is Bpf.ST or Bpf.STX || (Bpf.Class(c) is Bpf.LD or Bpf.LDX && Bpf.Mode(c) == Bpf.MEM) ? 3u : 0u)).ToArray();
        foreach (var style in new[] { ListingStyle.D, ListingStyle.DD, ListingStyle.DDD })
        {
            var back = CbpfListing.Parse(CbpfListing.Format(program, style));
            for (int i = 0; i < program.Length; i++)
                Assert.True(program[i] == back[i], $"{style}: {program[i]} came back as {back[i]}");
        }
    }

    [Theory]
    [InlineData("{ 0x28, 0, 0 },", 1)]
    [InlineData("2\n6 0 0 0\n", 1)]
    [InlineData("(000) ldh      [12]\n(002) ret      #0\n", 2)]
    [InlineData("(000) frob     #1\n", 1)]
    public void Malformed_listings_name_the_line(string text, int line)
    {
        var e = Assert.Throws<CbpfListingException>(() => CbpfListing.Parse(text));
        Assert.Equal(line, e.Line);
    }
}

public class CompilerErrorTests
{
    [Theory]
    [InlineData("tcp or", 7)]
    [InlineData("ip[0 = 1", 6)]
    [InlineData("host 10.0.0.1 and $", 19)]
    public void Syntax_errors_carry_the_column(string expr, int column)
    {
        var e = Assert.ThrowsAny<FilterCompileException>(() => FilterCompiler.Compile(expr));
        Assert.Equal(column, e.Column);
    }

    [Fact]
    public void Semantic_errors_point_at_the_primitive()
    {
        var e = Assert.Throws<FilterCompileException>(() => FilterCompiler.Compile("ip and port 99999"));
        Assert.Equal("illegal port number 99999 > 65535", e.Message);
        Assert.Equal(13, e.Column);
    }

    [Fact]
    public void Empty_expression_accepts_everything()
    {
        Assert.Equal(new[] { CbpfInstruction.Stmt(Bpf.RET | Bpf.K, 262144) }, FilterCompiler.Compile(""));
    }
}

public class CaptureFileTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pcap_round_trips(bool nanos)
    {
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, LinkType.Ethernet, 65535, nanos, leaveOpen: true))
        {
            w.Write(new byte[] { 1, 2, 3 }, 60, 1_700_000_000_123_456_000);
            w.Write(new byte[] { 4 }, 1, 5_000);
        }
        ms.Position = 0;
        using var r = CaptureReader.Open(ms);
        Assert.True(r.TryReadNext(out var p));
        Assert.Equal(new byte[] { 1, 2, 3 }, p.Data.ToArray());
        Assert.Equal(60u, p.OriginalLength);
        Assert.Equal(1_700_000_000_123_456_000, p.TimestampNanoseconds);
        Assert.Equal(LinkType.Ethernet, p.LinkType);
        Assert.True(r.TryReadNext(out p));
        Assert.Equal(5_000, p.TimestampNanoseconds);
        Assert.False(r.TryReadNext(out _));
    }

    [Fact]
    public void Big_endian_pcap_is_read()
    {
        // Hand-assembled big-endian header (magic a1b2c3d4 written MSB first), link type 101, one 2-byte record.
        byte[] file =
        {
            0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 101,
            0, 0, 0, 10, 0, 0, 0, 7, 0, 0, 0, 2, 0, 0, 0, 40, 0x45, 0x00,
        };
        using var r = CaptureReader.Open(new MemoryStream(file));
        Assert.True(r.TryReadNext(out var p));
        Assert.Equal(LinkType.Raw, p.LinkType);
        Assert.Equal(40u, p.OriginalLength);
        Assert.Equal(10_000_007_000, p.TimestampNanoseconds);
        Assert.Equal(new byte[] { 0x45, 0 }, p.Data.ToArray());
    }

    private static byte[] Block(uint type, params byte[][] body)
    {
        int len = body.Sum(b => b.Length);
        int total = 12 + len;
        var ms = new MemoryStream();
        ms.Write(BitConverter.GetBytes(type));
        ms.Write(BitConverter.GetBytes((uint)total));
        foreach (var b in body) ms.Write(b);
        ms.Write(BitConverter.GetBytes((uint)total));
        return ms.ToArray();
    }

    [Fact]
    public void Pcapng_with_two_interfaces_and_simple_packets()
    {
        var shb = Block(0x0a0d0d0a, BitConverter.GetBytes(0x1a2b3c4du), new byte[] { 1, 0, 0, 0 }, BitConverter.GetBytes(-1L));
        // Interface 0: Ethernet, snaplen 4; interface 1: Raw with if_tsresol = 9 (nanoseconds).
        var idb0 = Block(1, new byte[] { 1, 0, 0, 0 }, BitConverter.GetBytes(4u));
        var idb1 = Block(1, new byte[] { 101, 0, 0, 0 }, BitConverter.GetBytes(0u), new byte[] { 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0 });
        var epb = Block(6, BitConverter.GetBytes(1u), BitConverter.GetBytes(0u), BitConverter.GetBytes(1234u),
            BitConverter.GetBytes(3u), BitConverter.GetBytes(9u), new byte[] { 0x60, 1, 2, 0 });
        var spb = Block(3, BitConverter.GetBytes(6u), new byte[] { 1, 2, 3, 4, 5, 6, 0, 0 });
        var isb = Block(5, new byte[8]);
        var file = shb.Concat(idb0).Concat(idb1).Concat(isb).Concat(epb).Concat(spb).ToArray();
        using var r = CaptureReader.Open(new MemoryStream(file));
        Assert.True(r.TryReadNext(out var p));
        Assert.Equal(1, p.InterfaceIndex);
        Assert.Equal(LinkType.Raw, p.LinkType);
        Assert.Equal(1234, p.TimestampNanoseconds);
        Assert.Equal(new byte[] { 0x60, 1, 2 }, p.Data.ToArray());
        Assert.Equal(9u, p.OriginalLength);
        Assert.True(r.TryReadNext(out p));
        Assert.Equal(LinkType.Ethernet, p.LinkType);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, p.Data.ToArray()); // clipped to the interface snaplen
        Assert.False(r.TryReadNext(out _));
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 }, 0)]
    [InlineData(new byte[] { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 9 }, 24)]
    [InlineData(new byte[] { 0xde, 0xad, 0xbe, 0xef, 2, 0, 4, 0 }, 0)]
    public void Malformed_files_report_an_offset(byte[] file, long offset)
    {
        var e = Assert.Throws<CaptureFormatException>(() =>
        {
            using var r = CaptureReader.Open(new MemoryStream(file));
            while (r.TryReadNext(out _)) { }
        });
        Assert.Equal(offset, e.Offset);
    }
}
