using System.CommandLine;
using System.Text.Json;
using BpfSharp.Elf;
using BpfSharp.Isa;
using BpfSharp.Verifier;

namespace BpfSharp.Cli.Commands;

/// <summary>
/// The <c>verify</c> command: runs the static verifier on every program of an ELF object (or one raw/assembler
/// program). Exit code 0 when all are accepted, 2 when any is rejected, 1 on bad input.
/// </summary>
internal static class VerifyCommand
{
    private static readonly Dictionary<string, ProgramType> TypeNames = new(StringComparer.OrdinalIgnoreCase)
    {
        ["socket_filter"] = ProgramType.SocketFilter, ["socket"] = ProgramType.SocketFilter,
        ["kprobe"] = ProgramType.Kprobe,
        ["sched_cls"] = ProgramType.SchedCls, ["tc"] = ProgramType.SchedCls,
        ["tracepoint"] = ProgramType.Tracepoint,
        ["xdp"] = ProgramType.Xdp,
        ["cgroup_skb"] = ProgramType.CgroupSkb,
    };

    public static Command Create()
    {
        var file = new Argument<string>("FILE") { Description = "ELF object, raw bytecode (.bin) or assembler text" };
        var program = new Option<string?>("--program") { Description = "verify only this program (function name) of an ELF object" };
        var log = new Option<bool>("--log") { Description = "print the kernel-style verifier log" };
        var json = new Option<bool>("--json") { Description = "print a JSON array, one object per program" };
        var type = new Option<string?>("--type")
        {
            Description = "program type for raw files and for sections that imply none: socket_filter (default), kprobe, sched_cls, tracepoint, xdp, cgroup_skb",
        };
        var unprivileged = new Option<bool>("--unprivileged") { Description = "verify as an unprivileged user would be (no pointer leaks, no loops)" };
        var syntax = new Option<string?>("--syntax") { Description = "assembler syntax of FILE (default: detected)" };
        var engine = new Option<string>("--engine") { Description = "bpfsharp (our verifier) or kernel (load into Linux; root)", DefaultValueFactory = _ => "bpfsharp" };
        var cmd = new Command("verify", "prove programs safe with the static verifier (kernel rules), or show why not")
        {
            file, program, log, json, type, unprivileged, syntax, engine,
        };
        cmd.SetAction(parse => CliGuard.Run(() =>
        {
            string path = parse.GetValue(file)!;
            if (parse.GetValue(engine) == "kernel") return KernelVerify.Run(path, parse.GetValue(program), parse.GetValue(json));
            if (parse.GetValue(engine) != "bpfsharp") throw new CliError($"unknown engine '{parse.GetValue(engine)}' (bpfsharp or kernel)");
            string? typeName = parse.GetValue(type);
            ProgramType programType = ProgramType.SocketFilter;
            if (typeName != null && !TypeNames.TryGetValue(typeName, out programType))
                throw new CliError($"--type: unknown program type '{typeName}' (known: {string.Join(", ", TypeNames.Keys)})");
            var options = new VerifierOptions
            {
                ProgramType = programType,
                Privileged = !parse.GetValue(unprivileged),
                Log = parse.GetValue(log),
            };

            var rows = new List<(string? Section, string Name, string Type, VerificationResult Result)>();
            if (ProgramInput.IsElfFile(path))
            {
                BpfObject obj = BpfObject.Load(path);
                string? wanted = parse.GetValue(program);
                IEnumerable<ProgramSpec> programs = wanted == null ? obj.Programs
                    : [obj.FindProgram(wanted) ?? throw new CliError($"{path}: no program named '{wanted}' (programs: {string.Join(", ", obj.Programs.Select(p => p.Name))})")];
                foreach (ProgramSpec spec in programs)
                {
                    ProgramType? known = Verifier.Verifier.ToProgramType(spec.Type);
                    string shownType = known is { } k ? TypeName(k) : spec.Type == BpfProgramType.Unspecified ? TypeName(programType) : spec.Type.ToString();
                    rows.Add((spec.SectionName, spec.Name, shownType, Verifier.Verifier.Verify(obj, spec, options)));
                }
            }
            else
            {
                if (parse.GetValue(program) != null)
                    throw new CliError("--program applies to ELF objects only");
                BpfProgram bytecode = ProgramInput.Load(path, ProgramInput.ParseSyntax(parse.GetValue(syntax))).Program;
                rows.Add((null, bytecode.Name, TypeName(programType), Verifier.Verifier.Verify(bytecode, options)));
            }

            if (parse.GetValue(json))
            {
                var array = rows.Select(r => new Dictionary<string, object?>
                {
                    ["section"] = r.Section,
                    ["name"] = r.Name,
                    ["type"] = r.Type,
                    ["accepted"] = r.Result.Accepted,
                    ["error"] = r.Result.Error?.ToString(),
                    ["processed_insns"] = r.Result.ProcessedInstructions,
                    ["time_us"] = (long)r.Result.Elapsed.TotalMicroseconds,
                });
                Console.WriteLine(JsonSerializer.Serialize(array));
            }
            else
            {
                foreach (var r in rows)
                {
                    string where = r.Section == null ? r.Name : $"{r.Section}/{r.Name}";
                    if (options.Log)
                    {
                        Console.WriteLine($"; {where} ({r.Type})");
                        Console.Write(r.Result.Log);
                    }
                    Console.WriteLine(r.Result.Accepted
                        ? $"{where}: accepted ({r.Result.ProcessedInstructions} insns processed)"
                        : $"{where}: rejected: {r.Result.Error}");
                }
            }
            return rows.TrueForAll(r => r.Result.Accepted) ? 0 : 2;
        }));
        return cmd;
    }

    private static string TypeName(ProgramType type) => type switch
    {
        ProgramType.SocketFilter => "socket_filter",
        ProgramType.Kprobe => "kprobe",
        ProgramType.SchedCls => "sched_cls",
        ProgramType.Tracepoint => "tracepoint",
        ProgramType.Xdp => "xdp",
        ProgramType.CgroupSkb => "cgroup_skb",
        _ => type.ToString(),
    };
}
