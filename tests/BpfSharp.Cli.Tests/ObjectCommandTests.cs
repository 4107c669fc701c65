using System.Text.Json;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Cli.Tests;

public class ObjectCommandTests
{
    public static IEnumerable<object[]> BenchPrograms()
    {
        string? manifest = TestPaths.Shared("bench/manifest.json");
        if (manifest is null) yield break;
        using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
        foreach (var p in doc.RootElement.GetProperty("programs").EnumerateArray())
        {
            yield return [p.GetProperty("object").GetString()!, p.GetProperty("prog").GetString()!, p.GetProperty("input").GetString()!,
                p.GetProperty("expected_retval").GetUInt64()];
        }
    }

    [SharedDataTheory("bench/manifest.json")]
    [MemberData(nameof(BenchPrograms))]
    public void Run_object_json_gives_the_manifest_retval(string obj, string prog, string input, ulong expected)
    {
        string dir = TestPaths.Shared("bench")!;
        // --repeat 2: the manifest's expected_retval is the value of every run after the first (flow_counter fills its map).
        var args = new List<string> { "run", Path.Combine(dir, obj), "--program", prog, "--data", Path.Combine(dir, input), "--repeat", "2", "--json" };
        string? init = null;
        if (prog == "array_scan")
        {
            // The manifest: before the run, slot i of "table" = (i * 2654435761) % 1000003.
            init = Path.Combine(Path.GetTempPath(), $"bpfsharp-init-{Guid.NewGuid():N}.json");
            var table = Enumerable.Range(0, 256).ToDictionary(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture), i => (ulong)i * 2654435761UL % 1000003UL);
            File.WriteAllText(init, JsonSerializer.Serialize(new Dictionary<string, object> { ["table"] = table }));
            args.AddRange(["--map-init", init]);
        }
        var (exit, stdout, stderr) = CliRunner.Run(null, [.. args]);
        if (init is not null) File.Delete(init);
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(expected, doc.RootElement.GetProperty("retval").GetUInt64());
        Assert.True(doc.RootElement.GetProperty("ns_per_run").GetDouble() > 0);
    }

    private static string Example(params string[] parts) => Path.Combine([TestPaths.RepoRoot, "examples", "xdp-stats", .. parts]);

    [Fact]
    public void Readme_example_object_classifies_its_packets()
    {
        var packets = Directory.GetFiles(Example("packets"), "*.bin").Order(StringComparer.Ordinal).ToArray();
        var (exit, stdout, stderr) = CliRunner.Run(null, ["run", Example("xdp_stats.o"), "--data", .. packets, "--json"]);
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var retvals = doc.RootElement.EnumerateArray().Select(e => e.GetProperty("retval").GetUInt32()).ToArray();
        // xdp_stats.c drops only UDP to port 9 (the third packet); everything else passes (XDP_DROP = 1, XDP_PASS = 2).
        Assert.Equal([2u, 2u, 1u, 2u, 2u, 2u], retvals);
    }

    [Fact]
    public void Map_dump_shows_counters_after_runs()
    {
        var packets = Directory.GetFiles(Example("packets"), "*.bin").Order(StringComparer.Ordinal).ToArray();
        var (exit, stdout, stderr) = CliRunner.Run(null, ["map", "dump", Example("xdp_stats.o"), "--map", "class_stats", "--data", .. packets]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("class_stats", stdout);
        Assert.Contains("{ packets=1, bytes=54 }", stdout); // the 54-byte TCP SYN, class 0
    }

    [Fact]
    public void Unknown_program_names_the_available_ones()
    {
        var (exit, _, stderr) = CliRunner.Run(null, "run", Example("xdp_stats.o"), "--program", "nope", "--data", Example("packets", "01-tcp-syn.bin"));
        Assert.Equal(1, exit);
        Assert.Contains("no program named 'nope' (programs: xdp_stats)", stderr);
    }

    [Fact]
    public void Truncated_object_is_a_one_line_error()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bpfsharp-trunc-{Guid.NewGuid():N}.o");
        File.WriteAllBytes(path, File.ReadAllBytes(Example("xdp_stats.o"))[..200]);
        try
        {
            var (exit, _, stderr) = CliRunner.Run(null, "run", path, "--data", Example("packets", "01-tcp-syn.bin"));
            Assert.Equal(1, exit);
            Assert.StartsWith("error: ", stderr);
            Assert.DoesNotContain("   at ", stderr); // no stack trace
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public class ObjdumpCommandTests
{
    private static string Example => Path.Combine(TestPaths.RepoRoot, "examples", "xdp-stats", "xdp_stats.o");

    [Fact]
    public void Objdump_lists_programs_maps_and_source_lines()
    {
        var (exit, stdout, stderr) = CliRunner.Run(null, "objdump", Example);
        Assert.True(exit == 0, stderr);
        Assert.Contains("xdp_stats", stdout);
        Assert.Contains("ipv4_sources", stdout);
        Assert.Contains("class_stats", stdout);
        // line_info from .BTF.ext: the C line the first instruction comes from (xdp_stats.c line 49).
        Assert.Contains("; xdp_stats.c:49: __u8 *data = (void *)(long)ctx->data;", stdout);
        Assert.Contains("r9 = *(u32 *)(r1 + 0x0)", stdout);
        Assert.Contains("r1 = map[class_stats] ll", stdout);
    }

    [Fact]
    public void Disasm_of_an_object_matches_llvm_objdump_instruction_text()
    {
        if (!File.Exists("/usr/bin/llvm-objdump-19")) return; // the golden tests in Isa.Tests cover this without the tool
        var (exit, stdout, _) = CliRunner.Run(null, "disasm", Example);
        Assert.Equal(0, exit);
        var psi = new System.Diagnostics.ProcessStartInfo("llvm-objdump-19", ["-d", "--no-show-raw-insn", Example]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string reference = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        // Instruction lines are "<index>:\t<text>"; objdump appends " <symbol+offset>" to jumps and prints the
        // unrelocated map loads as "r1 = 0x0 ll", where we name the map.
        static string[] Instructions(string listing) => listing.Split('\n')
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"^\s*\d+:\t(.*?)( <[^>]*>)?$"))
            .Where(m => m.Success).Select(m => m.Groups[1].Value.Trim()).ToArray();
        string[] ours = Instructions(stdout), theirs = Instructions(reference);
        Assert.Equal(theirs.Length, ours.Length);
        for (int i = 0; i < ours.Length; i++)
        {
            if (ours[i].Contains("map[", StringComparison.Ordinal)) Assert.EndsWith(" = 0x0 ll", theirs[i]);
            else Assert.Equal(theirs[i], ours[i]);
        }
    }
}

public class KernelEngineCommandTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [SharedDataFact("bench/objs/flow_counter.o")]
    public void Kernel_engine_runs_the_object_in_linux_with_prog_test_run()
    {
        if (!Environment.IsPrivilegedProcess || !OperatingSystem.IsLinux())
        {
            output.WriteLine("SKIP: the kernel engine needs root on Linux (bpf() and BPF_PROG_TEST_RUN)");
            return;
        }
        string dir = TestPaths.Shared("bench")!;
        // flow_counter.c: 0 hits on fresh maps; after repeat 2 the last run sees all 32 flows (manifest.json).
        var (exit, stdout, stderr) = CliRunner.Run(null, "run", Path.Combine(dir, "objs", "flow_counter.o"),
            "--data", Path.Combine(dir, "inputs", "tcp_syn.bin"), "--engine", "kernel", "--repeat", "2", "--json");
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(32u, doc.RootElement.GetProperty("retval").GetUInt32());
        Assert.Equal("kernel", doc.RootElement.GetProperty("engine").GetString());
        Assert.Equal("flow_counter", doc.RootElement.GetProperty("program").GetString());
    }
}

public class KernelVerifyCommandTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void Kernel_engine_reports_the_linux_verifiers_verdicts_as_json()
    {
        if (!Environment.IsPrivilegedProcess || !OperatingSystem.IsLinux() || !File.Exists("/usr/bin/clang-19"))
        {
            output.WriteLine("SKIP: needs root on Linux (bpf()) and clang-19 to build the rejected program");
            return;
        }
        string dir = Directory.CreateTempSubdirectory("bpfsharp-kverify").FullName;
        try
        {
            string c = Path.Combine(dir, "bad.c"), o = Path.Combine(dir, "bad.o");
            // Reads the packet without checking data_end: the kernel must reject it.
            File.WriteAllText(c, """
                struct xdp_md { unsigned int data, data_end; };
                __attribute__((section("xdp"), used)) int no_bounds_check(struct xdp_md *ctx)
                {
                    unsigned char *data = (void *)(long)ctx->data;
                    return data[20];
                }
                char LICENSE[] __attribute__((section("license"), used)) = "GPL";
                """);
            using (var p = System.Diagnostics.Process.Start("/usr/bin/clang-19", ["-O2", "-g", "-target", "bpf", "-c", c, "-o", o]))
            {
                p.WaitForExit();
                Assert.Equal(0, p.ExitCode);
            }
            var (exit, stdout, stderr) = CliRunner.Run(null, "verify", o, "--engine", "kernel", "--json");
            Assert.Equal(2, exit);
            using var doc = JsonDocument.Parse(stdout);
            var row = doc.RootElement[0];
            Assert.Equal("no_bounds_check", row.GetProperty("name").GetString());
            Assert.False(row.GetProperty("accepted").GetBoolean());
            Assert.Contains("outside of the packet", row.GetProperty("error").GetString()); // the kernel's own wording
            Assert.True(row.GetProperty("processed_insns").GetInt64() > 0);

            string good = Path.Combine(TestPaths.RepoRoot, "examples", "xdp-stats", "xdp_stats.o");
            (exit, stdout, stderr) = CliRunner.Run(null, "verify", good, "--engine", "kernel", "--json");
            Assert.True(exit == 0, stderr);
            using var doc2 = JsonDocument.Parse(stdout);
            Assert.True(doc2.RootElement[0].GetProperty("accepted").GetBoolean());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
