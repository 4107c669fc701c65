using BpfSharp.Isa;
using BpfSharp.Runtime;

namespace BpfSharp.Cli.Commands;

/// <summary>Builds the engine the user chose.</summary>
internal static class Engines
{
    public static IBpfExecutable Create(string engine, BpfProgram program, HelperTable helpers) => engine switch
    {
        "interpreter" => new Interpreter(program, helpers),
        _ => throw new CliError($"unknown engine '{engine}' (available: interpreter)"),
    };
}
