using System.Diagnostics;
using BpfSharp.Testing;

namespace BpfSharp.Elf.Tests;

/// <summary>Finds external tools and test data at run time.</summary>
internal static class TestSupport
{
    public static string DataDir { get; } = Path.Combine(AppContext.BaseDirectory, "data");

    public static string? BenchObjs => TestPaths.Shared("bench/objs");

    public static string? FindTool(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            if (dir.Length == 0) continue;
            var p = Path.Combine(dir, name);
            if (File.Exists(p)) return p;
        }
        return null;
    }

    /// <summary>Runs a tool and returns its standard output; throws when it fails.</summary>
    public static string Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(); throw new TimeoutException($"{tool} timed out"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed: {stderr.Result}");
        return stdout.Result;
    }

    public static readonly string[] BenchNames =
        ["empty", "parse_5tuple", "checksum_1500", "firewall_64", "alu_fib", "flow_counter", "array_scan", "bpf_calls", "dispatch_switch"];
}
