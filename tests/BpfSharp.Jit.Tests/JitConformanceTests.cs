using BpfSharp.Asm;
using BpfSharp.Runtime;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Jit.Tests;

/// <summary>The conformance suite's 313 programs with their expected results, on the JIT in both modes.</summary>
public class JitConformanceTests
{
    public static IEnumerable<object[]> Cases() => ConformanceCases.Names();

    [Fact]
    public void Suite_has_all_313_tests() => Assert.Equal(313, Cases().Count());

    [Theory]
    [MemberData(nameof(Cases))]
    public void Checked_jit_passes(string name) => RunCase(name, JitOptions.Default);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Trusted_jit_passes(string name) => RunCase(name, JitOptions.TrustedUncounted);

    private static void RunCase(string name, JitOptions options)
    {
        var test = ConformanceCases.Load(name);
        var program = ConformanceAssembler.Assemble(test.Asm!, name);
        Assert.NotNull(test.Result);
        ulong result = ConformanceRunner.Run(program, test.Memory, (p, helpers) => BpfJit.Compile(p, helpers, options));
        Assert.Equal(test.Result!.Value, result);
    }
}
