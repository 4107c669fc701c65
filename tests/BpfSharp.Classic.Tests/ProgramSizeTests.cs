using BpfSharp.Classic.Filter;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Classic.Tests;

public class ProgramSizeTests
{
    private readonly ITestOutputHelper _out;
    public ProgramSizeTests(ITestOutputHelper o) => _out = o;

    [Fact]
    public void Optimized_or_chain_is_within_two_and_a_half_times_libpcaps_length()
    {
        // libpcap 1.10.3 optimizes this 20-port chain to 81 instructions (tcpdump -d), from 1222 unoptimized.
        var expr = string.Join(" or ", Enumerable.Range(0, 20).Select(i => $"port {1000 + i}"));
        int raw = FilterCompiler.Compile(expr, optimize: false).Length;
        int opt = FilterCompiler.Compile(expr).Length;
        _out.WriteLine($"unoptimized {raw}, optimized {opt}");
        Assert.Equal(1222, raw);
        Assert.True(opt <= 203, $"optimized length {opt}");
    }
}
