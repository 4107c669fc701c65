using BpfSharp.Isa;
using BpfSharp.Runtime;

namespace BpfSharp.Cli.Commands;

/// <summary>Builds the engine the user chose.</summary>
internal static class Engines
{
    /// <summary>"auto" picks the JIT for programs that run more than a few times: compiling costs milliseconds.</summary>
    public static string Resolve(string engine, long runs) => engine == "auto" ? (runs > 4 ? "jit" : "interpreter") : engine;

    public static IBpfExecutable Create(string engine, BpfProgram program, HelperTable helpers) => Factory(engine)(program, helpers);

    public static Runtime.Hosting.EngineFactory Factory(string engine) => engine switch
    {
        "interpreter" => static (p, h) => new Interpreter(p, h),
        "jit" => static (p, h) => Jit.BpfJit.Compile(p, h),
        "jit-trusted" => static (p, h) => Jit.BpfJit.Compile(p, h, Jit.JitOptions.TrustedUncounted),
        _ => throw new CliError($"unknown engine '{engine}' (available: interpreter, jit, jit-trusted)"),
    };
}
