using System.Globalization;
using BpfSharp.Asm;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Cli.Tests;

/// <summary>Drives <c>bpfsharp conformance-plugin</c> over its protocol, as the bpf_conformance runner does.</summary>
public class ConformancePluginTests
{
    public static IEnumerable<object[]> Cases() => ConformanceCases.Names();

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plugin_interpreter_passes(string name) => RunThroughPlugin(name, "--interpreter");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Plugin_jit_passes(string name) => RunThroughPlugin(name, "--jit");

    private static void RunThroughPlugin(string name, string engineFlag)
    {
        var test = ConformanceCases.Load(name);
        var program = ConformanceAssembler.Assemble(test.Asm!, name);
        string hex = Convert.ToHexString(program.ToBytes()).ToLowerInvariant();
        var args = new List<string> { "conformance-plugin" };
        if (test.Memory.Length > 0)
            args.Add(string.Concat(test.Memory.Select(b => b.ToString("x2", CultureInfo.InvariantCulture) + "  ")));
        args.Add(engineFlag);
        var (exit, stdout, stderr) = CliRunner.Run(hex, [.. args]);
        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        Assert.Equal(test.Result!.Value, ulong.Parse(stdout.Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Plugin_reports_bad_program_on_one_line_with_nonzero_exit()
    {
        var (exit, _, stderr) = CliRunner.Run("ff00000000000000", "conformance-plugin");
        Assert.NotEqual(0, exit);
        Assert.Contains("instruction 0: unknown opcode 0xff", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
