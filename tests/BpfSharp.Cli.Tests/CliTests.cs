using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Cli.Tests;

public class CliTests
{
    private static string Example(string name) => Path.Combine(TestPaths.RepoRoot, "examples", "asm", name);

    [Fact]
    public void Run_prints_retval_of_the_readme_example()
    {
        var (exit, stdout, _) = CliRunner.Run(null, "run", Example("fibonacci.s"));
        Assert.Equal(0, exit);
        Assert.Equal("retval: 102334155", stdout.Trim()); // fib(40), a well-known constant
    }

    [Fact]
    public void Run_json_reports_retval_and_time()
    {
        var (exit, stdout, _) = CliRunner.Run(null, "run", Example("sum_bytes.s"), "--mem", Example("sum_bytes.mem"), "--json", "--repeat", "10");
        Assert.Equal(0, exit);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(55UL, doc.RootElement.GetProperty("retval").GetUInt64()); // 1 + 2 + ... + 10
        Assert.True(doc.RootElement.GetProperty("ns_per_run").GetDouble() > 0);
    }

    [Theory]
    [InlineData("mov %r0, 1\nfoo %r1\nexit\n", ":2:1: unknown mnemonic 'foo'")]
    [InlineData("mov %r0, 1\nmov %r11, 2\nexit\n", ":2:5: invalid register '%r11'")]
    [InlineData("ja +5\nexit\n", "jump target 6 is outside the program")]
    [InlineData("ldxw %r0, [%r1+4\nexit\n", ":1:17: expected ']' at end of line")]
    public void Bad_assembly_gives_one_line_with_position_and_exit_1(string text, string expected)
    {
        string path = Path.Combine(Path.GetTempPath(), $"bpfsharp-bad-{Guid.NewGuid():N}.s");
        File.WriteAllText(path, text);
        try
        {
            var (exit, _, stderr) = CliRunner.Run(null, "run", path, "--syntax", "conformance");
            Assert.Equal(1, exit);
            Assert.Contains(expected, stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Out_of_bounds_access_is_a_fault_naming_pc_and_region()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bpfsharp-oob-{Guid.NewGuid():N}.s");
        File.WriteAllText(path, "mov %r0, 0\nldxw %r0, [%r1+8]\nexit\n");
        string mem = Path.ChangeExtension(path, ".mem");
        File.WriteAllText(mem, "01 02 03 04");
        try
        {
            var (exit, _, stderr) = CliRunner.Run(null, "run", path, "--mem", mem);
            Assert.Equal(1, exit);
            Assert.Contains("OutOfBounds at pc 1", stderr);
            Assert.Contains("read of 4 bytes", stderr);
            Assert.Contains("memory [0x", stderr);
        }
        finally
        {
            File.Delete(path);
            File.Delete(mem);
        }
    }
}
