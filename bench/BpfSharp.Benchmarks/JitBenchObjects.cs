using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BpfSharp.Jit;
using BpfSharp.Runtime;
using BpfSharp.Runtime.Hosting;

namespace BpfSharp.Benchmarks;

/// <summary>
/// The nine clang-built XDP programs of ../shared/bench (manifest.json), run through the runtime host on the
/// interpreter and the JIT (checked and trusted): ns per run, comparable with the kernel JIT and native anchors
/// (../shared/bench/anchors.md). Every setup checks the manifest's return value first.
/// Run: dotnet run -c Release -- --filter '*JitBenchObjects*' --inProcess
/// </summary>
public class JitBenchObjects
{
    [Params("empty", "parse_5tuple", "checksum_1500", "firewall_64", "alu_fib", "flow_counter", "array_scan", "bpf_calls", "dispatch_switch")]
    public string Program { get; set; } = "";

    private BpfRuntimeObject _interpreterObject = null!, _checkedObject = null!, _trustedObject = null!;
    private RuntimeProgram _interpreter = null!, _checked = null!, _trusted = null!;
    private byte[] _input = [];

    /// <summary>The shared bench directory: $BPFSHARP_SHARED/bench, or a shared/bench found above the working or base directory.</summary>
    public static string BenchDirectory()
    {
        if (Environment.GetEnvironmentVariable("BPFSHARP_SHARED") is { Length: > 0 } env) return Path.Combine(env, "bench");
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "bench"), Path.Combine(dir.FullName, "..", "shared", "bench") })
                    if (File.Exists(Path.Combine(candidate, "manifest.json"))) return Path.GetFullPath(candidate);
            }
        }
        throw new DirectoryNotFoundException("shared/bench/manifest.json not found (set BPFSHARP_SHARED)");
    }

    private (RuntimeProgram Program, BpfRuntimeObject Object) Load(EngineFactory engine)
    {
        string dir = BenchDirectory();
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        foreach (var p in doc.RootElement.GetProperty("programs").EnumerateArray())
        {
            if (p.GetProperty("name").GetString() != Program) continue;
            var obj = BpfRuntimeObject.Load(Path.Combine(dir, p.GetProperty("object").GetString()!), new RuntimeOptions { Engine = engine });
            if (Program == "array_scan")
            {
                var table = obj.Map("table");
                for (uint i = 0; i < 256; i++) table.Update(i, (ulong)i * 2654435761UL % 1000003UL);
            }
            var program = obj.Program(p.GetProperty("prog").GetString()!);
            _input = File.ReadAllBytes(Path.Combine(dir, p.GetProperty("input").GetString()!));
            ulong expected = p.GetProperty("expected_retval").GetUInt64();
            program.Run(_input);   // the first run may differ (expected_retval_first)
            if (program.Run(_input) != expected) throw new InvalidOperationException($"{Program}: wrong result on {program.Executable.GetType().Name}");
            return (program, obj);
        }
        throw new KeyNotFoundException(Program);
    }

    [GlobalSetup]
    public void Setup()
    {
        (_interpreter, _interpreterObject) = Load(static (p, h) => new Interpreter(p, h));
        (_checked, _checkedObject) = Load(static (p, h) => BpfJit.Compile(p, h, JitOptions.Default));
        (_trusted, _trustedObject) = Load(static (p, h) => BpfJit.Compile(p, h, JitOptions.Default with { Mode = JitMode.Trusted }));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _interpreterObject.Dispose();
        _checkedObject.Dispose();
        _trustedObject.Dispose();
    }

    [Benchmark(Baseline = true)]
    public uint Interpreter() => _interpreter.Run(_input);

    [Benchmark]
    public uint JitChecked() => _checked.Run(_input);

    [Benchmark]
    public uint JitTrusted() => _trusted.Run(_input);
}
