using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using BpfSharp.Asm;
using BpfSharp.Runtime;

namespace BpfSharp.Cli.Commands;

/// <summary>The <c>run</c> command: runs a program on a userspace engine with r1 = memory, r2 = its length.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "raw bytecode (.bin), assembler text, or a conformance .data file" };
        var mem = new Option<string?>("--mem") { Description = "file of hex bytes given to the program as memory (r1 = address, r2 = length)" };
        var engine = new Option<string>("--engine")
        {
            Description = "interpreter, jit (checked), jit-trusted (no memory checks: trusted programs only), kernel (ELF objects: load into Linux and BPF_PROG_TEST_RUN, root), or auto: the JIT when the program runs more than 4 times",
            DefaultValueFactory = _ => "auto",
        };
        var json = new Option<bool>("--json") { Description = "print a JSON object (retval, ns_per_run, ...)" };
        var repeat = new Option<int>("--repeat") { Description = "run N times and report the mean time", DefaultValueFactory = _ => 1 };
        var syntax = new Option<string?>("--syntax") { Description = "assembler syntax of FILE (default: detected)" };
        var program = new Option<string?>("--program") { Description = "program (function) name in an ELF object" };
        var data = new Option<string[]>("--data") { Description = "packet or context file(s) for an ELF object's program", AllowMultipleArgumentsPerToken = true };
        var maps = new Option<bool>("--maps") { Description = "after the runs, print the object's maps" };
        var mapInit = new Option<string?>("--map-init") { Description = "JSON file { \"map\": { \"key\": value } } filling maps before the runs" };
        var cmd = new Command("run", "run a program (raw, assembler text, .data, or an ELF object) on the userspace runtime")
        {
            file, mem, engine, json, repeat, syntax, program, data, maps, mapInit,
        };
        cmd.SetAction(parse => CliGuard.Run(() =>
        {
            string path = parse.GetValue(file)!;
            if (ProgramInput.IsElfFile(path))
            {
                int times = parse.GetValue(repeat);
                if (times < 1) throw new CliError("--repeat must be at least 1");
                var packets = parse.GetValue(data) ?? [];
                return ObjectRunner.Run(path, parse.GetValue(program), packets, times, parse.GetValue(json),
                    parse.GetValue(maps), Engines.Resolve(parse.GetValue(engine)!, times * Math.Max(packets.Length, 1)), parse.GetValue(mapInit));
            }
            var (bytecode, dataMemory) = ProgramInput.Load(path, ProgramInput.ParseSyntax(parse.GetValue(syntax)));
            byte[] memory = parse.GetValue(mem) is { } memPath
                ? ConformanceDataFile.ParseHexBytes(File.Exists(memPath) ? File.ReadAllText(memPath) : throw new CliError($"{memPath}: no such file"))
                : dataMemory;
            int n = parse.GetValue(repeat);
            if (n < 1) throw new CliError("--repeat must be at least 1");
            string engineName = Engines.Resolve(parse.GetValue(engine)!, n);
            var executable = Engines.Create(engineName, bytecode, ConformanceRunner.Helpers());
            var (retval, nsPerRun, insns) = Execute(executable, memory, n);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["program"] = bytecode.Name,
                    ["engine"] = engineName,
                    ["retval"] = retval,
                    ["ns_per_run"] = Math.Round(nsPerRun, 2),
                    ["repeat"] = n,
                    ["instructions"] = insns,
                }));
            }
            else
            {
                Console.WriteLine($"retval: {retval}");
            }
            return 0;
        }));
        return cmd;
    }

    private static unsafe (ulong Retval, double NsPerRun, long Instructions) Execute(IBpfExecutable executable, byte[] memory, int repeat)
    {
        using var context = new RunContext();
        byte* copy = (byte*)NativeMemory.Alloc((nuint)Math.Max(memory.Length, 1));
        try
        {
            memory.CopyTo(new Span<byte>(copy, memory.Length));
            if (memory.Length > 0)
                context.SetRegions([new MemoryRegion((ulong)copy, (ulong)memory.Length, RegionKind.Memory, true)]);
            ulong r1 = memory.Length > 0 ? (ulong)copy : 0;
            ulong retval = 0;
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < repeat; i++) retval = executable.Run(context, r1, (ulong)memory.Length);
            sw.Stop();
            return (retval, sw.Elapsed.TotalNanoseconds / repeat, context.InstructionsExecuted);
        }
        finally
        {
            NativeMemory.Free(copy);
        }
    }
}
