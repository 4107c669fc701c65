using System.Collections.Concurrent;
using System.Diagnostics;
using BpfSharp.Classic.Capture;

namespace BpfSharp.Classic.Tests;

/// <summary>What tcpdump made of an expression: a program (from -dd), its -d text, or its error message.</summary>
public sealed record TcpdumpResult(CbpfInstruction[]? Program, string? Listing, string? Error);

/// <summary>Runs the real tcpdump as an oracle (libpcap's compiler); compiles for a link type by reading an empty
/// capture file of that type, so no interface is needed.</summary>
public static class Tcpdump
{
    private static readonly Lazy<string?> PathLazy = new(Find);
    private static readonly ConcurrentDictionary<(LinkType, bool, string), TcpdumpResult> Cache = new();
    private static readonly string Dir = Path.Combine(Path.GetTempPath(), "bpfsharp-classic-" + Environment.ProcessId);

    public static string? Executable => PathLazy.Value;

    public static string SkipReason => "tcpdump not installed (apt-get install -y tcpdump); differential check skipped";

    private static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/usr/bin"))
        {
            var p = Path.Combine(dir, "tcpdump");
            if (File.Exists(p))
                return p;
        }
        return null;
    }

    private static string EmptyCapture(LinkType link)
    {
        Directory.CreateDirectory(Dir);
        var file = Path.Combine(Dir, $"empty-{(uint)link}.pcap");
        if (!File.Exists(file))
        {
            using var w = new PcapWriter(File.Create(file), link, snapLength: 262144);
        }
        return file;
    }

    public static TcpdumpResult Compile(string expression, LinkType link, bool optimize) =>
        Cache.GetOrAdd((link, optimize, expression), key => Run(key.Item3, key.Item1, key.Item2));

    private static TcpdumpResult Run(string expression, LinkType link, bool optimize)
    {
        var dd = Invoke(expression, link, optimize, "-dd");
        if (dd.ExitCode != 0)
            return new TcpdumpResult(null, null, CleanError(dd.Stderr));
        var d = Invoke(expression, link, optimize, "-d");
        return new TcpdumpResult(CbpfListing.Parse(dd.Stdout), d.Stdout, null);
    }

    private static string CleanError(string stderr)
    {
        var line = stderr.Split('\n').LastOrDefault(l => l.StartsWith("tcpdump: ", StringComparison.Ordinal)) ?? stderr.Trim();
        line = line.StartsWith("tcpdump: ", StringComparison.Ordinal) ? line["tcpdump: ".Length..] : line;
        const string parse = "can't parse filter expression: ";
        return line.StartsWith(parse, StringComparison.Ordinal) ? line[parse.Length..] : line;
    }

    private static (int ExitCode, string Stdout, string Stderr) Invoke(string expression, LinkType link, bool optimize, string style)
    {
        var psi = new ProcessStartInfo(Executable!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (!optimize)
            psi.ArgumentList.Add("-O");
        psi.ArgumentList.Add(style);
        psi.ArgumentList.Add("-r");
        psi.ArgumentList.Add(EmptyCapture(link));
        psi.ArgumentList.Add(expression);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }
}
