using System.Diagnostics;
using BpfSharp.Linux.Tools;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Linux.Tests;

/// <summary>The tools against real system activity.</summary>
public class ToolTests(ITestOutputHelper output)
{
    [KernelFact("tracefs")]
    public void Execsnoop_sees_a_process_we_start_with_its_pid_parent_and_arguments()
    {
        using var snoop = ExecSnoop.Start();
        string sleep = File.Exists("/usr/bin/sleep") ? "/usr/bin/sleep" : "/bin/sleep";
        using var child = Process.Start(new ProcessStartInfo(sleep, "1.25") { UseShellExecute = false })!;
        ExecEvent? seen = null;
        var deadline = Stopwatch.StartNew();
        while (seen is null && deadline.ElapsedMilliseconds < 5000)
            snoop.Poll(e => { if (e.Pid == child.Id) seen = e; }, 100);
        child.WaitForExit();
        Assert.NotNull(seen);
        output.WriteLine(seen!.ToString());
        Assert.Equal(sleep, seen.Filename);
        Assert.Equal("sleep", seen.Comm);
        Assert.Equal(Environment.ProcessId, seen.ParentPid);
        Assert.Equal(sleep + " 1.25", seen.Arguments);
        // Real uid, as /proc/self/status's "Uid:" line reports it (the child inherits ours).
        string uidLine = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        Assert.Equal(uint.Parse(uidLine.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]), seen.Uid);
    }
}
