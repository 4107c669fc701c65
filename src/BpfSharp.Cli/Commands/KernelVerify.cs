using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using BpfSharp.Elf;
using BpfSharp.Linux;

namespace BpfSharp.Cli.Commands;

/// <summary><c>verify --engine kernel</c>: the Linux verifier's verdict on each program, in the same JSON as ours.</summary>
internal static partial class KernelVerify
{
    [GeneratedRegex(@"processed (\d+) insns")]
    private static partial Regex Processed();

    public static int Run(string path, string? wanted, bool json)
    {
        if (!ProgramInput.IsElfFile(path)) throw new CliError("--engine kernel verifies ELF objects");
        var obj = BpfObject.Load(path);
        var rows = new List<Dictionary<string, object?>>();
        foreach (var spec in obj.Programs)
        {
            if (wanted is not null && spec.Name != wanted) continue;
            var sw = Stopwatch.StartNew();
            bool accepted;
            string? error = null;
            string log = "";
            try
            {
                // The kernel's log (with its "processed N insns" line) comes back only with a rejection.
                using var loaded = KernelObject.Load(obj, new KernelObjectOptions { ProgramNames = [spec.Name] });
                accepted = true;
            }
            catch (BpfVerifierException e)
            {
                accepted = false;
                error = e.Summary;
                log = e.Log;
            }
            catch (Exception e) when (e is BpfException or NotSupportedException)
            {
                accepted = false;
                error = e.Message.ReplaceLineEndings(" ");
            }
            sw.Stop();
            var m = Processed().Match(log);
            rows.Add(new Dictionary<string, object?>
            {
                ["section"] = spec.SectionName,
                ["name"] = spec.Name,
                ["type"] = spec.Type.ToString(),
                ["accepted"] = accepted,
                ["error"] = error,
                ["processed_insns"] = m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null,
                ["time_us"] = (long)sw.Elapsed.TotalMicroseconds,
            });
        }
        if (wanted is not null && rows.Count == 0) throw new CliError($"no program named '{wanted}'");
        if (json) Console.WriteLine(JsonSerializer.Serialize(rows));
        else foreach (var r in rows) Console.WriteLine($"{r["name"]} ({r["section"]}): {((bool)r["accepted"]! ? "accepted by the kernel" : "rejected by the kernel: " + r["error"])}");
        return rows.TrueForAll(r => (bool)r["accepted"]!) ? 0 : 2;
    }
}
