using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using BpfSharp.Classic;
using BpfSharp.Classic.Filter;

namespace BpfSharp.Benchmarks;

/// <summary>Packets in memory for the classic filter benchmarks: a mix resembling ordinary traffic.</summary>
internal static class ClassicBenchPackets
{
    public static byte[][] Build(int count)
    {
        var rnd = new Random(42);
        var list = new byte[count][];
        ushort[] ports = { 80, 443, 22, 53, 8080, 3306, 12345, 25 };
        for (int i = 0; i < count; i++)
        {
            int kind = i % 8;
            bool v6 = kind == 6;
            bool udp = kind is 3 or 7;
            int l4 = udp ? 8 : 20;
            int l3 = v6 ? 40 : 20;
            var p = new byte[14 + l3 + l4 + 32];
            BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(12), v6 ? (ushort)0x86dd : (ushort)0x0800);
            var ip = p.AsSpan(14);
            byte proto = udp ? (byte)17 : (byte)6;
            if (v6)
            {
                ip[0] = 0x60;
                ip[6] = proto;
                ip[8] = 0x20; ip[9] = 0x01; ip[10] = 0x0d; ip[11] = 0xb8; ip[23] = (byte)i;
                ip[24] = 0x20; ip[25] = 0x01; ip[26] = 0x0d; ip[27] = 0xb8; ip[39] = 1;
            }
            else
            {
                ip[0] = 0x45;
                BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(p.Length - 14));
                ip[8] = 64;
                ip[9] = proto;
                BinaryPrimitives.WriteUInt32BigEndian(ip[12..], rnd.Next(4) == 0 ? 0x0a000001u : 0xc0a80000u | (uint)rnd.Next(256));
                BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0a000002u);
            }
            var t = ip[l3..];
            BinaryPrimitives.WriteUInt16BigEndian(t, ports[rnd.Next(ports.Length)]);
            BinaryPrimitives.WriteUInt16BigEndian(t[2..], ports[rnd.Next(ports.Length)]);
            if (!udp)
            {
                t[12] = 0x50;
                t[13] = (byte)(rnd.Next(3) == 0 ? 0x02 : 0x10);
            }
            list[i] = p;
        }
        return list;
    }
}

/// <summary>ns per packet of classic filters on the interpreter and the IL compiler (libpcap's bpf_filter: about
/// 32-47 ns for the simple ones, 174 ns for the 20-port chain, on the reference machine).</summary>
[MemoryDiagnoser]
public class ClassicFilterBenchmarks
{
    private const int PacketCount = 256;

    public static IEnumerable<string> Filters => new[]
    {
        "tcp",
        "tcp port 80",
        "host 10.0.0.1 and (tcp[13] & 2 != 0)",
        string.Join(" or ", Enumerable.Range(0, 20).Select(i => $"port {1000 + i}")),
        "ip6 and tcp dst port 443",
    };

    [ParamsSource(nameof(Filters))]
    public string Filter { get; set; } = "tcp";

    private byte[][] _packets = Array.Empty<byte[]>();
    private CbpfInstruction[] _program = Array.Empty<CbpfInstruction>();
    private CbpfCompiledFilter _compiled = null!;

    [GlobalSetup]
    public void Setup()
    {
        _packets = ClassicBenchPackets.Build(PacketCount);
        _program = FilterCompiler.Compile(Filter, LinkType.Ethernet, optimize: true);
        _compiled = CbpfIlCompiler.Compile(_program);
    }

    [Benchmark(OperationsPerInvoke = PacketCount)]
    public uint Interpreter()
    {
        uint accepted = 0;
        var prog = _program;
        foreach (var p in _packets)
            accepted += CbpfInterpreter.Run(prog, p) != 0 ? 1u : 0u;
        return accepted;
    }

    [Benchmark(OperationsPerInvoke = PacketCount)]
    public uint IlCompiled()
    {
        uint accepted = 0;
        var f = _compiled;
        foreach (var p in _packets)
            accepted += f.Run(p) != 0 ? 1u : 0u;
        return accepted;
    }
}

/// <summary>Time to compile a filter expression with the optimizer on (libpcap: ~16 µs for <c>tcp port 80</c>,
/// ~350 µs for a 7-clause filter).</summary>
[MemoryDiagnoser]
public class ClassicCompileBenchmarks
{
    private const string SevenClauses =
        "tcp and (port 80 or port 443) and not host 10.0.0.1 and src net 192.168.0.0/16 and len > 100 and tcp[13] & 2 != 0";

    [Benchmark]
    public CbpfInstruction[] TcpPort80() => FilterCompiler.Compile("tcp port 80");

    [Benchmark]
    public CbpfInstruction[] SevenClauseFilter() => FilterCompiler.Compile(SevenClauses);

    [Benchmark]
    public CbpfInstruction[] TcpPort80Unoptimized() => FilterCompiler.Compile("tcp port 80", optimize: false);
}
