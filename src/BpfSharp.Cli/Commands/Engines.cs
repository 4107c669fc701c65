using BpfSharp.Isa;
using BpfSharp.Runtime;

namespace BpfSharp.Cli.Commands;

/// <summary>Builds the engine the user chose.</summary>
internal static class Engines
{
    public static IBpfExecutable Create(string engine, BpfProgram program, HelperTable helpers) => Factory(engine)(program, helpers);

    public static Runtime.Hosting.EngineFactory Factory(string engine) => engine switch
    {
        "interpreter" => static (p, h) => new Interpreter(p, h),
        _ => throw new CliError($"unknown engine '{engine}' (available: interpreter)"),
    };
}
