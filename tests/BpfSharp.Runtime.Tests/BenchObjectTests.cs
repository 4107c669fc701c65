using BpfSharp.Isa;
using System.Text.Json;
using BpfSharp.Maps;
using BpfSharp.Runtime.Hosting;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Runtime.Tests;

/// <summary>
/// The nine benchmark objects (clang-built XDP programs) load into the userspace runtime and return the values
/// ../shared/bench/manifest.json gives, which were measured with the kernel's BPF_PROG_TEST_RUN.
/// </summary>
public class BenchObjectTests
{
    public static IEnumerable<object[]> Programs()
    {
        string? manifest = TestPaths.Shared("bench/manifest.json");
        if (manifest is null) yield break;
        using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
        foreach (var p in doc.RootElement.GetProperty("programs").EnumerateArray())
            yield return [p.GetProperty("name").GetString()!];
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

    [SharedDataTheory("bench/manifest.json")]
    [MemberData(nameof(Programs))]
    public void Bench_program_returns_the_kernel_measured_value(string name)
    {
        var (objPath, prog, input, expected, expectedFirst) = Entry(name);
        using var obj = BpfRuntimeObject.Load(objPath);
        Prepare(name, obj);
        var program = obj.Program(prog);
        ulong first = program.Run(input);
        Assert.Equal(expectedFirst ?? expected, first);
        for (int i = 0; i < 3; i++) Assert.Equal(expected, program.Run(input));
    }

    [SharedDataFact("bench/objs/flow_counter.o")]
    public void Flow_counter_counts_in_its_hash_map()
    {
        var (objPath, prog, input, _, _) = Entry("flow_counter");
        using var obj = BpfRuntimeObject.Load(objPath);
        var program = obj.Program(prog);
        for (int i = 0; i < 5; i++) program.Run(input);
        var flows = obj.Map("flows");
        Assert.Equal(BpfMapType.Hash, flows.Type);
        Assert.Equal(16, flows.KeySize);
        Assert.Equal(16, flows.ValueSize);
        // flow_counter.c: each run touches 32 flows (source port + 0..31); each flow's stats are {packets, bytes}.
        var keys = flows.Keys().ToList();
        Assert.Equal(32, keys.Count);
        var value = new byte[16];
        foreach (var key in keys)
        {
            Assert.True(flows.TryLookup(key, value));
            Assert.Equal(5UL, BitConverter.ToUInt64(value, 0));
            Assert.Equal(5UL * (ulong)input.Length, BitConverter.ToUInt64(value, 8));
        }
    }
}
