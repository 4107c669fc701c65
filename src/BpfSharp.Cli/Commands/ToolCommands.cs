using System.CommandLine;
using BpfSharp.Linux;
using BpfSharp.Linux.Tools;
using Spectre.Console;

namespace BpfSharp.Cli.Commands;

/// <summary>
/// <c>bpfsharp tool execsnoop|biolatency|ddos</c>: the kernel tools of BpfSharp.Linux.Tools with live output.
/// Each runs until Ctrl-C (which detaches cleanly) or <c>--duration</c> seconds.
/// </summary>
internal static class ToolCommands
{
    public static Command Create()
    {
        var cmd = new Command("tool", "run a kernel tracing/XDP tool (needs root and a BPF-enabled kernel)");
        cmd.Subcommands.Add(ExecSnoopCommand());
        cmd.Subcommands.Add(BioLatencyCommand());
        cmd.Subcommands.Add(DdosCommand());
        return cmd;
    }

    private static Option<double?> DurationOption() => new("--duration", "-d")
    {
        Description = "stop after this many seconds (default: run until Ctrl-C)",
        HelpName = "seconds",
    };

    private static Command ExecSnoopCommand()
    {
        var duration = DurationOption();
        var cmd = new Command("execsnoop", "trace every exec() system-wide (sched:sched_process_exec)") { duration };
        cmd.SetAction(parse => RunTool(parse.GetValue(duration), token =>
        {
            using var snoop = ExecSnoop.Start();
            AnsiConsole.MarkupLine("[bold]TIME(s)     PID     PPID    UID    COMM             FILENAME / ARGS[/]");
            var started = DateTime.UtcNow;
            long seen = 0;
            snoop.Run(e =>
            {
                seen++;
                double t = (DateTime.UtcNow - started).TotalSeconds;
                string args = e.Arguments.Length > 0 ? e.Arguments : e.Filename;
                AnsiConsole.MarkupLine($"{t,-11:F3} {e.Pid,-7} {e.ParentPid,-7} {e.Uid,-6} [green]{Markup.Escape(e.Comm),-16}[/] {Markup.Escape(args)}");
            }, token);
            AnsiConsole.MarkupLine($"[grey]{seen} exec events[/]");
        }));
        return cmd;
    }

    private static Command BioLatencyCommand()
    {
        var duration = DurationOption();
        var interval = new Option<double>("--interval", "-i") { Description = "refresh interval in seconds", DefaultValueFactory = _ => 1.0 };
        var cmd = new Command("biolatency", "block I/O latency histogram (block:block_rq_issue -> block_rq_complete)") { duration, interval };
        cmd.SetAction(parse => RunTool(parse.GetValue(duration), token =>
        {
            using var bio = BioLatency.Start();
            var refresh = TimeSpan.FromSeconds(Math.Max(0.1, parse.GetValue(interval)));
            AnsiConsole.Live(Histogram(bio.Snapshot())).Start(ctx =>
            {
                while (!token.WaitHandle.WaitOne(refresh))
                    ctx.UpdateTarget(Histogram(bio.Snapshot()));
                ctx.UpdateTarget(Histogram(bio.Snapshot()));
            });
        }));
        return cmd;
    }

    private static Table Histogram(LatencyHistogram h)
    {
        var table = new Table().Title($"block I/O latency: {h.Total} requests, p50 {h.Percentile(50):F0} µs, p90 {h.Percentile(90):F0} µs, p99 {h.Percentile(99):F0} µs")
            .AddColumn("µs").AddColumn(new TableColumn("count").RightAligned()).AddColumn("distribution");
        ulong max = 1;
        foreach (ulong c in h.Counts) max = Math.Max(max, c);
        int last = -1, first = -1;
        for (int k = 0; k < h.Counts.Count; k++)
        {
            if (h.Counts[k] == 0) continue;
            if (first < 0) first = k;
            last = k;
        }
        for (int k = Math.Max(0, first); k <= last; k++)
        {
            ulong c = h.Counts[k];
            table.AddRow($"{LatencyHistogram.SlotLow(k)} -> {LatencyHistogram.SlotHigh(k) - 1}", c.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "[blue]" + new string('#', (int)(40 * c / max)) + "[/]");
        }
        return table;
    }

    private static Command DdosCommand()
    {
        var duration = DurationOption();
        var iface = new Option<string>("--interface", "-I") { Description = "network interface to protect", Required = true };
        var maxPackets = new Option<ulong>("--max-packets") { Description = "packets a source may send per window", DefaultValueFactory = _ => 1000UL };
        var windowMs = new Option<double>("--window-ms") { Description = "rate window in milliseconds", DefaultValueFactory = _ => 1000.0 };
        var mode = new Option<string>("--mode") { Description = "XDP mode: default|generic|driver", DefaultValueFactory = _ => "default" };
        var cmd = new Command("ddos", "XDP per-source rate detector: drops sources above the threshold and counts alerts") { duration, iface, maxPackets, windowMs, mode };
        cmd.SetAction(parse => RunTool(parse.GetValue(duration), token =>
        {
            var xdpMode = parse.GetValue(mode) switch
            {
                "default" => XdpMode.Default,
                "generic" or "skb" => XdpMode.Generic,
                "driver" or "native" => XdpMode.Driver,
                var other => throw new CliError($"--mode '{other}': expected default, generic or driver"),
            };
            string name = parse.GetValue(iface)!;
            int ifindex = LinuxSystem.InterfaceIndex(name);
            using var detector = DdosDetector.Start(ifindex, parse.GetValue(maxPackets), TimeSpan.FromMilliseconds(parse.GetValue(windowMs)), xdpMode);
            AnsiConsole.Live(DdosTable(detector, name)).Start(ctx =>
            {
                while (!token.WaitHandle.WaitOne(500))
                    ctx.UpdateTarget(DdosTable(detector, name));
                ctx.UpdateTarget(DdosTable(detector, name));
            });
        }));
        return cmd;
    }

    private static Table DdosTable(DdosDetector detector, string iface)
    {
        var stats = detector.Stats();
        var table = new Table().Title($"{Markup.Escape(iface)}: passed {stats.Passed}, [red]dropped {stats.Dropped}[/], alerts {stats.Alerts}")
            .AddColumn("source").AddColumn(new TableColumn("packets").RightAligned()).AddColumn(new TableColumn("in window").RightAligned())
            .AddColumn(new TableColumn("avg gap µs").RightAligned()).AddColumn(new TableColumn("dropped").RightAligned()).AddColumn(new TableColumn("alerts").RightAligned());
        var sources = detector.Sources().OrderByDescending(s => s.Dropped).ThenByDescending(s => s.TotalPackets).Take(20);
        foreach (var s in sources)
        {
            string alerts = s.Alerts > 0 ? $"[red]{s.Alerts}[/]" : "0";
            table.AddRow(s.Address.ToString(), $"{s.TotalPackets}", $"{s.WindowPackets}", $"{s.AverageGapMicroseconds:F1}", $"{s.Dropped}", alerts);
        }
        return table;
    }

    /// <summary>Runs a tool body with a token that fires on Ctrl-C or after the duration; maps kernel errors to one line.</summary>
    private static int RunTool(double? durationSeconds, Action<CancellationToken> body)
    {
        using var cts = new CancellationTokenSource();
        if (durationSeconds is { } d)
        {
            if (d <= 0 || double.IsNaN(d)) { Console.Error.WriteLine($"error: --duration must be positive, got {d}"); return 1; }
            cts.CancelAfter(TimeSpan.FromSeconds(d));
        }
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;   // let the tool detach its programs and close its maps on the way out
            cts.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return CliGuard.Run(() =>
            {
                try
                {
                    body(cts.Token);
                    return 0;
                }
                catch (BpfException e)
                {
                    throw new CliError(e.Message);
                }
                catch (NotSupportedException e)
                {
                    throw new CliError(e.Message);
                }
            });
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
