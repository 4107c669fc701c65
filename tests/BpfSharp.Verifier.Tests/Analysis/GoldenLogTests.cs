using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Verifier.Tests.Analysis;

/// <summary>
/// Golden verifier logs for a few representative programs (tests/BpfSharp.Verifier.Tests/golden/*.log). The files
/// freeze the log format; the verdict and the final message of each are checked independently against what the Linux
/// verifier prints for the same program (kernel message text). Run with BPFSHARP_UPDATE_GOLDEN=1 to rewrite them.
/// </summary>
public sealed class GoldenLogTests
{
    private static readonly VerifierMap[] Maps = [new(VerifierMapKind.Hash, 4, 8, 16, "counts")];

    public static readonly TheoryData<string, string, ProgramType, string?> Programs = new()
    {
        { "accept_branch", "ldxw %r2, [%r1+0]\nmov %r0, 0\njgt %r2, 10, +1\nmov %r0, 1\nexit", ProgramType.SocketFilter, null },
        { "reject_uninit_register", "mov %r0, %r2\nexit", ProgramType.SocketFilter, "R2 !read_ok" },
        { "reject_context_offset", "ldxw %r0, [%r1+1000]\nexit", ProgramType.SocketFilter, "invalid bpf_context access off=1000 size=4" },
        {
            "reject_missing_null_check",
            "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd(0)\ncall 1\nldxdw %r0, [%r0+0]\nexit",
            ProgramType.SocketFilter, "R0 invalid mem access 'map_value_or_null'"
        },
        {
            "accept_xdp_bounds_check",
            "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 14\nmov %r0, 1\njgt %r4, %r3, +2\nldxb %r0, [%r2+13]\nmov %r0, 2\nexit",
            ProgramType.Xdp, null
        },
    };

    [Theory]
    [MemberData(nameof(Programs))]
    public void Log_matches_the_golden_file(string name, string asm, ProgramType type, string? kernelMessage)
    {
        BpfProgram program = Assembler.Assemble(asm, AsmSyntax.Conformance, name);
        VerificationResult result = Verifier.Verify(program, new VerifierOptions { ProgramType = type, Maps = Maps, Log = true });
        Assert.Equal(kernelMessage == null, result.Accepted);
        if (kernelMessage != null)
            Assert.Equal(kernelMessage, result.Error!.Message);
        string log = result.Log.Replace("\r\n", "\n", StringComparison.Ordinal);
        Assert.EndsWith("mark_read 0\n", log, StringComparison.Ordinal);

        string path = Path.Combine(TestPaths.RepoRoot, "tests", "BpfSharp.Verifier.Tests", "golden", name + ".log");
        if (Environment.GetEnvironmentVariable("BPFSHARP_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, log);
            return;
        }
        Assert.True(File.Exists(path), $"{path} is missing: run the tests with BPFSHARP_UPDATE_GOLDEN=1 to create it");
        Assert.Equal(File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal), log);
    }
}
