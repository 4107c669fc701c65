using System.CommandLine;
using System.Diagnostics;
using BpfSharp.Classic;
using BpfSharp.Classic.Capture;
using BpfSharp.Classic.Filter;
using BpfSharp.Isa;
using BpfSharp.Runtime;
using Spectre.Console;

namespace BpfSharp.Cli.Commands;

/// <summary>
/// <c>filter</c>: tcpdump's filter language. <c>filter compile</c> prints the classic BPF listing; <c>filter -r</c>
/// filters a capture file; <c>filter -i</c> captures live with the filter attached in the kernel.
/// </summary>
internal static class FilterCommands
{
    /// <summary>Files at least this big get a progress bar when stdout is a terminal.</summary>
    private const long ProgressThresholdBytes = 16L << 20;

    public static Command Create()
    {
        var expression = new Argument<string[]>("EXPR") { Description = "filter expression (pcap-filter(7)); several words are joined", Arity = ArgumentArity.ZeroOrMore };
        var read = new Option<string?>("-r") { Description = "read packets from a pcap or pcapng file", HelpName = "FILE" };
        var write = new Option<string?>("-w") { Description = "write matching packets to a pcap file instead of printing them", HelpName = "FILE" };
        var iface = new Option<string?>("-i") { Description = "capture live on an interface (AF_PACKET, filter attached in the kernel; needs CAP_NET_RAW)", HelpName = "IFACE" };
        var count = new Option<long?>("-c") { Description = "stop after this many matching packets", HelpName = "COUNT" };
        var duration = new Option<double?>("--duration") { Description = "stop live capture after this many seconds", HelpName = "S" };
        var engine = new Option<string>("--engine") { Description = "engine that runs the filter on file packets", HelpName = "interpreter|il|ebpf", DefaultValueFactory = _ => "il" };
        var noOptimize = new Option<bool>("-O") { Description = "do not run the optimizer (as tcpdump -O)" };

        var cmd = new Command("filter", "filter packets with a tcpdump expression (from a file or live) or compile one")
        {
            expression, read, write, iface, count, duration, engine, noOptimize,
        };
        cmd.Subcommands.Add(Compile());
        cmd.SetAction(parse => CliGuard.Run(() => Guard(() =>
        {
            string expr = string.Join(' ', parse.GetValue(expression) ?? []);
            string? file = parse.GetValue(read), device = parse.GetValue(iface), output = parse.GetValue(write);
            bool optimize = !parse.GetValue(noOptimize);
            long? limit = parse.GetValue(count);
            if (limit is <= 0)
                throw new CliError("-c must be a positive count");
            if ((file is null) == (device is null))
                throw new CliError("give exactly one of -r FILE or -i IFACE (or use 'filter compile EXPR')");
            return file is not null
                ? FilterFile(file, output, expr, optimize, parse.GetValue(engine)!, limit)
                : CaptureLive(device!, output, expr, optimize, limit, parse.GetValue(duration));
        })));
        return cmd;
    }

    private static Command Compile()
    {
        var expression = new Argument<string[]>("EXPR") { Description = "filter expression (pcap-filter(7)); several words are joined", Arity = ArgumentArity.ZeroOrMore };
        var dlt = new Option<string>("--dlt") { Description = "link type the filter is compiled for", HelpName = "EN10MB|RAW|LINUX_SLL", DefaultValueFactory = _ => "EN10MB" };
        var noOptimize = new Option<bool>("-O") { Description = "do not run the optimizer (as tcpdump -O)" };
        var d = new Option<bool>("-d") { Description = "human-readable listing (default)" };
        var dd = new Option<bool>("-dd") { Description = "C array listing" };
        var ddd = new Option<bool>("-ddd") { Description = "decimal listing" };
        var cmd = new Command("compile", "compile a filter expression into classic BPF and print it as tcpdump -d/-dd/-ddd does")
        {
            expression, dlt, noOptimize, d, dd, ddd,
        };
        cmd.SetAction(parse => CliGuard.Run(() => Guard(() =>
        {
            if (!LinkTypeNames.TryParse(parse.GetValue(dlt)!, out var linkType) || linkType is not (LinkType.Ethernet or LinkType.Raw or LinkType.LinuxSll))
                throw new CliError($"unsupported --dlt '{parse.GetValue(dlt)}' (use EN10MB, RAW or LINUX_SLL)");
            var style = parse.GetValue(ddd) ? ListingStyle.DDD : parse.GetValue(dd) ? ListingStyle.DD : ListingStyle.D;
            var program = FilterCompiler.Compile(string.Join(' ', parse.GetValue(expression) ?? []), linkType, !parse.GetValue(noOptimize));
            Console.Out.Write(CbpfListing.Format(program, style));
            return 0;
        })));
        return cmd;
    }

    /// <summary>Turns the Classic library's typed errors into one-line CLI errors.</summary>
    private static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (FilterCompileException e)
        {
            throw new CliError(e.Column > 0 ? $"{e.Message} at column {e.Column}" : e.Message);
        }
        catch (Exception e) when (e is CaptureFormatException or CbpfValidationException or LiveCaptureException)
        {
            throw new CliError(e.Message);
        }
    }

    private static int FilterFile(string path, string? output, string expression, bool optimize, string engineName, long? limit)
    {
        if (engineName is not ("interpreter" or "il" or "ebpf"))
            throw new CliError($"unknown engine '{engineName}' (available: interpreter, il, ebpf)");
        using var reader = CaptureReader.Open(path);
        using var engines = new FilterEngines(expression, optimize, engineName);
        using var writer = output is null ? null : new LazyPcapWriter(output, reader switch
        {
            PcapReader pcap => pcap.LinkType,
            PcapNgReader { Interfaces.Count: > 0 } ng => ng.Interfaces[0].Link,
            _ => LinkType.Ethernet,
        });
        long read = 0, matched = 0;
        bool showProgress = !Console.IsOutputRedirected && reader.Length is >= ProgressThresholdBytes;

        void Loop(Action<long>? progress)
        {
            var lastReport = Stopwatch.StartNew();
            while ((limit is null || matched < limit) && reader.TryReadNext(out var packet))
            {
                read++;
                uint verdict = engines.Run(packet);
                if (verdict != 0)
                {
                    matched++;
                    Emit(packet, verdict, writer, progress is not null);
                }
                if (progress is not null && lastReport.ElapsedMilliseconds >= 100)
                {
                    progress(reader.Position);
                    lastReport.Restart();
                }
            }
            progress?.Invoke(reader.Position);
        }

        if (showProgress)
        {
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(Path.GetFileName(path)), maxValue: reader.Length!.Value);
                    Loop(position => task.Value = position);
                });
        }
        else
        {
            Loop(null);
        }
        Console.Out.Flush();
        Console.Error.WriteLine($"{matched} packets matched of {read} read");
        return 0;
    }

    private static int CaptureLive(string device, string? output, string expression, bool optimize, long? limit, double? seconds)
    {
        if (seconds is <= 0)
            throw new CliError("--duration must be positive");
        var linkType = LiveCapture.LinkTypeOf(device, out _);
        var program = FilterCompiler.Compile(expression, linkType, optimize);
        using var capture = new LiveCapture(device, program);
        using var writer = output is null ? null : new LazyPcapWriter(output, capture.LinkType);
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        var deadline = seconds is null ? DateTime.MaxValue : DateTime.UtcNow.AddSeconds(seconds.Value);
        long matched = 0;
        while (!stop.IsCancellationRequested && (limit is null || matched < limit) && DateTime.UtcNow < deadline)
        {
            var wait = TimeSpan.FromMilliseconds(200);
            if (deadline - DateTime.UtcNow < wait)
                wait = deadline - DateTime.UtcNow;
            if (!capture.TryReceive(wait, out var packet))
                continue;
            matched++;
            Emit(packet, FilterCompiler.DefaultSnapLength, writer, false);
            if (writer is null)
                Console.Out.Flush();
        }
        Console.Out.Flush();
        Console.Error.WriteLine($"{matched} packets captured");
        return 0;
    }

    private static void Emit(in CapturedPacket packet, uint verdict, LazyPcapWriter? writer, bool viaSpectre)
    {
        if (writer is not null)
        {
            // The verdict is the snapshot length: like the kernel, keep at most that many bytes.
            var data = packet.Data.Span;
            writer.Write(packet.LinkType, data[..(int)Math.Min((uint)data.Length, verdict)], packet.OriginalLength, packet.TimestampNanoseconds);
            return;
        }
        string line = PacketSummary.Format(packet);
        if (viaSpectre)
            AnsiConsole.WriteLine(line);
        else
            Console.Out.WriteLine(line);
    }

    /// <summary>Compiles the expression once per link type seen (pcapng files can mix them) and runs it.</summary>
    private sealed unsafe class FilterEngines(string expression, bool optimize, string engine) : IDisposable
    {
        private readonly Dictionary<LinkType, Func<CapturedPacket, uint>> _byLink = [];
        private RunContext? _context;

        public uint Run(in CapturedPacket packet)
        {
            if (!_byLink.TryGetValue(packet.LinkType, out var run))
                _byLink[packet.LinkType] = run = Build(packet.LinkType);
            return run(packet);
        }

        private Func<CapturedPacket, uint> Build(LinkType linkType)
        {
            var program = FilterCompiler.Compile(expression, linkType, optimize);
            switch (engine)
            {
                case "interpreter":
                    return p => CbpfInterpreter.Run(program, p.Data.Span, p.OriginalLength);
                case "il":
                    var compiled = CbpfIlCompiler.Compile(program);
                    return p => compiled.Run(p.Data.Span, p.OriginalLength);
                default:
                    var interpreter = new Interpreter(BpfProgram.FromRaw(CbpfToEbpf.Translate(program)));
                    _context ??= new RunContext();
                    var context = _context;
                    return p => RunEbpf(interpreter, context, p);
            }
        }

        private static uint RunEbpf(Interpreter interpreter, RunContext context, CapturedPacket packet)
        {
            var data = packet.Data.Span;
            byte dummy = 0;
            fixed (byte* start = data)
            {
                byte* pointer = data.IsEmpty ? &dummy : start;
                context.ClearRegions();
                context.AddRegion(new MemoryRegion((ulong)pointer, (ulong)data.Length, RegionKind.Packet, false));
                return (uint)interpreter.Run(context, (ulong)pointer, CbpfToEbpf.PackLengths((uint)data.Length, packet.OriginalLength));
            }
        }

        public void Dispose() => _context?.Dispose();
    }

    /// <summary>Creates the output file on the first packet, using that packet's link type.</summary>
    private sealed class LazyPcapWriter(string path, LinkType linkTypeIfEmpty) : IDisposable
    {
        private PcapWriter? _writer;
        private LinkType _linkType;

        public void Write(LinkType linkType, ReadOnlySpan<byte> data, uint originalLength, long timestampNanoseconds)
        {
            if (_writer is null)
            {
                _writer = new PcapWriter(File.Create(path), linkType);
                _linkType = linkType;
            }
            else if (linkType != _linkType)
            {
                throw new CliError($"{path}: pcap files hold one link type; got {LinkTypeNames.Name(linkType)} after {LinkTypeNames.Name(_linkType)}");
            }
            _writer.Write(data, originalLength, timestampNanoseconds);
        }

        /// <summary>Closes the file; with no packet written it still gets a header, as tcpdump -w leaves one.</summary>
        public void Dispose()
        {
            _writer ??= new PcapWriter(File.Create(path), linkTypeIfEmpty);
            _writer.Dispose();
        }
    }
}
