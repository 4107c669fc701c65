using System.Text.Json;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Cli.Tests;

/// <summary><c>bpfsharp verify</c>: verdicts, JSON shape, --type, --log, --unprivileged and bad input.</summary>
public class VerifyCommandTests
{
    private static string AsmFile(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"bpfsharp-verify-{Guid.NewGuid():N}.s");
        File.WriteAllText(path, text);
        return path;
    }

    private static JsonElement SingleJson(string stdout)
    {
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(1, doc.RootElement.GetArrayLength());
        return doc.RootElement[0].Clone();
    }

    [Fact]
    public void Safe_program_is_accepted_with_exit_code_0()
    {
        var (exit, stdout, stderr) = CliRunner.Run(null, "verify", AsmFile("mov %r0, 0\nexit\n"));
        Assert.True(exit == 0, stderr);
        Assert.Contains("accepted (2 insns processed)", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Uninitialized_register_is_rejected_with_the_kernels_message_in_json()
    {
        // The kernel rejects reading a never-written register with "R2 !read_ok".
        var (exit, stdout, stderr) = CliRunner.Run(null, "verify", AsmFile("mov %r0, %r2\nexit\n"), "--json");
        Assert.True(exit == 2, stderr);
        JsonElement row = SingleJson(stdout);
        Assert.False(row.GetProperty("accepted").GetBoolean());
        Assert.Contains("R2 !read_ok", row.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, row.GetProperty("section").ValueKind);
        Assert.Equal("socket_filter", row.GetProperty("type").GetString());
        Assert.True(row.GetProperty("processed_insns").GetInt32() >= 1);
        Assert.True(row.GetProperty("time_us").GetInt64() >= 0);
    }

    // __sk_buff has data at offset 76 (struct layout in uapi bpf.h); struct xdp_md is only 24 bytes long.
    [Theory]
    [InlineData("sched_cls", true)]
    [InlineData("xdp", false)]
    public void Type_option_selects_the_context_layout(string type, bool accepted)
    {
        var (exit, stdout, stderr) = CliRunner.Run(null, "verify", AsmFile("ldxw %r2, [%r1+76]\nmov %r0, 0\nexit\n"), "--type", type, "--json");
        Assert.True(exit == (accepted ? 0 : 2), stderr + stdout);
        Assert.Equal(accepted, SingleJson(stdout).GetProperty("accepted").GetBoolean());
    }

    [Fact]
    public void Unprivileged_mode_rejects_returning_a_pointer()
    {
        // The kernel lets privileged programs return a pointer but not unprivileged ones ("R0 leaks addr as return value").
        string file = AsmFile("mov %r0, %r10\nexit\n");
        Assert.Equal(0, CliRunner.Run(null, "verify", file).ExitCode);
        var (exit, stdout, _) = CliRunner.Run(null, "verify", file, "--unprivileged");
        Assert.Equal(2, exit);
        Assert.Contains("leaks addr", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Log_option_prints_the_kernel_style_log()
    {
        var (exit, stdout, stderr) = CliRunner.Run(null, "verify", AsmFile("mov %r0, 0\nexit\n"), "--log");
        Assert.True(exit == 0, stderr);
        Assert.Contains("processed 2 insns", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_type_and_missing_file_are_clear_errors()
    {
        var (exit, _, stderr) = CliRunner.Run(null, "verify", AsmFile("mov %r0, 0\nexit\n"), "--type", "banana");
        Assert.Equal(1, exit);
        Assert.Contains("unknown program type 'banana'", stderr, StringComparison.Ordinal);
        (exit, _, stderr) = CliRunner.Run(null, "verify", "/nonexistent/prog.o");
        Assert.Equal(1, exit);
        Assert.StartsWith("error:", stderr, StringComparison.Ordinal);
    }

    [SharedDataFact("bench/objs/parse_5tuple.o")]
    public void Elf_object_programs_are_listed_with_section_and_type()
    {
        string obj = TestPaths.Shared("bench/objs/parse_5tuple.o")!;
        var (exit, stdout, stderr) = CliRunner.Run(null, "verify", obj, "--json");
        Assert.True(exit == 0, stderr + stdout);
        JsonElement row = SingleJson(stdout);
        // llvm-objdump -h shows the program in section "xdp", function parse_5tuple.
        Assert.Equal("xdp", row.GetProperty("section").GetString());
        Assert.Equal("parse_5tuple", row.GetProperty("name").GetString());
        Assert.Equal("xdp", row.GetProperty("type").GetString());
        Assert.True(row.GetProperty("accepted").GetBoolean());
        Assert.Equal(JsonValueKind.Null, row.GetProperty("error").ValueKind);

        (exit, _, stderr) = CliRunner.Run(null, "verify", obj, "--program", "nope");
        Assert.Equal(1, exit);
        Assert.Contains("no program named 'nope'", stderr, StringComparison.Ordinal);
    }
}
