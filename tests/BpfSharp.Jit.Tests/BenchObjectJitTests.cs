using System.Text.Json;
using BpfSharp.Runtime.Hosting;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Jit.Tests;

/// <summary>
/// The nine benchmark objects (clang-built XDP programs) run on the JIT, checked and trusted, through the runtime host
/// and return the values ../shared/bench/manifest.json gives (measured with the kernel's BPF_PROG_TEST_RUN).
/// </summary>
public class BenchObjectJitTests
{
    public static IEnumerable<object[]> Programs()
    {
        string? manifest = TestPaths.Shared("bench/manifest.json");
        if (manifest is null) yield break;
        using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
        foreach (var p in doc.RootElement.GetProperty("programs").EnumerateArray())
            foreach (var mode in new[] { "checked", "trusted" })
                yield return [p.GetProperty("name").GetString()!, mode];
    }

    internal static (string Object, string Program, byte[] Input, ulong Expected, ulong? ExpectedFirst) Entry(string name)
    {
        string dir = TestPaths.Shared("bench")!;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        foreach (var p in doc.RootElement.GetProperty("programs").EnumerateArray())
        {
            if (p.GetProperty("name").GetString() != name) continue;
            ulong? first = p.TryGetProperty("expected_retval_first", out var f) ? f.GetUInt64() : null;
            return (Path.Combine(dir, p.GetProperty("object").GetString()!), p.GetProperty("prog").GetString()!,
                File.ReadAllBytes(Path.Combine(dir, p.GetProperty("input").GetString()!)), p.GetProperty("expected_retval").GetUInt64(), first);
        }
        throw new KeyNotFoundException(name);
    }

    /// <summary>array_scan's table as the manifest prescribes: slot i = (i * 2654435761) % 1000003.</summary>
    internal static void Prepare(string name, BpfRuntimeObject obj)
    {
        if (name != "array_scan") return;
        var table = obj.Map("table");
        for (uint i = 0; i < 256; i++) table.Update(i, (ulong)i * 2654435761UL % 1000003UL);
    }

    internal static JitOptions Options(string mode) => mode == "checked" ? JitOptions.Default : JitOptions.Default with { Mode = JitMode.Trusted };

    [SharedDataTheory("bench/manifest.json")]
    [MemberData(nameof(Programs))]
    public void Bench_program_returns_the_kernel_measured_value_on_the_jit(string name, string mode)
    {
        var (objPath, prog, input, expected, expectedFirst) = Entry(name);
        var options = Options(mode);
        using var obj = BpfRuntimeObject.Load(objPath, new RuntimeOptions { Engine = (p, h) => BpfJit.Compile(p, h, options) });
        Prepare(name, obj);
        var program = obj.Program(prog);
        Assert.IsType<JitProgram>(program.Executable);
        ulong first = program.Run(input);
        Assert.Equal(expectedFirst ?? expected, first);
        for (int i = 0; i < 3; i++) Assert.Equal(expected, program.Run(input));
    }
}
