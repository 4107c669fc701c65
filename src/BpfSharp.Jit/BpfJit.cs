using System.Diagnostics;
using BpfSharp.Isa;
using BpfSharp.Runtime;

namespace BpfSharp.Jit;

/// <summary>
/// Compiles eBPF programs to .NET IL (one <see cref="System.Reflection.Emit.DynamicMethod"/> per program), which
/// RyuJIT turns into native code with full optimisation straight away (dynamic methods are not tiered).
/// </summary>
public static class BpfJit
{
    /// <summary>
    /// Compiles a program. Helper ids are resolved now: an id with no registered helper throws
    /// <see cref="BpfLoadException"/> naming the instruction. callx ids are looked up in <paramref name="helpers"/> at run time.
    /// </summary>
    public static JitProgram Compile(BpfProgram program, HelperTable? helpers = null, JitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(program);
        options ??= JitOptions.Default;
        if (options.Mode == JitMode.Checked && !options.CountInstructions)
            throw new ArgumentException("checked mode always counts instructions (the budget is part of its safety)", nameof(options));
        var stopwatch = Stopwatch.StartNew();
        var compiler = new IlCompiler(program, helpers ?? new HelperTable(), options);
        var (entry, _) = compiler.Compile(program.Name);
        if (options.CompileEagerly) entry(null, 0, 0, 0, 0, 0, 0, 0, 0);   // the dry call: RyuJIT compiles now
        stopwatch.Stop();
        return new JitProgram(program, options, entry, stopwatch.Elapsed, compiler.IlSize);
    }
}

/// <summary>A program compiled by <see cref="BpfJit"/>: a drop-in replacement for the <see cref="Interpreter"/>.</summary>
public sealed class JitProgram : IBpfExecutable, IBpfCallbackInvoker
{
    private readonly JitEntry _entry;

    internal JitProgram(BpfProgram program, JitOptions options, JitEntry entry, TimeSpan compileTime, int ilSize)
    {
        Program = program;
        Options = options;
        _entry = entry;
        CompileTime = compileTime;
        IlSize = ilSize;
    }

    /// <inheritdoc/>
    public BpfProgram Program { get; }

    /// <summary>The options the program was compiled with.</summary>
    public JitOptions Options { get; }

    /// <summary>Time spent compiling: IL generation, plus RyuJIT when <see cref="JitOptions.CompileEagerly"/> was set.</summary>
    public TimeSpan CompileTime { get; }

    /// <summary>Size of the generated IL in bytes.</summary>
    public int IlSize { get; }

    /// <inheritdoc/>
    public ulong Run(RunContext context, ulong r1, ulong r2 = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.BeginRun();
        context.CallbackInvoker = this;
        context.RemainingBudget = context.InstructionBudget;
        if (!Options.CountInstructions) context.InstructionsExecuted = 0;
        return _entry(context, r1, r2, 0, 0, 0, 0, context.StackTop, 0);
    }

    /// <inheritdoc/>
    public ulong InvokeCallback(RunContext context, int pc, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        ArgumentNullException.ThrowIfNull(context);
        if ((uint)pc >= (uint)Program.Count || !IsFunctionStart(pc))
            throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, context.HelperPc, $"callback target {pc} is not a function of the program"));
        int depth = context.CallbackDepth;
        if (depth >= context.MaxCallDepth)
            throw new BpfFaultException(new BpfFault(BpfFaultKind.CallDepthExceeded, context.HelperPc, $"callback nests deeper than {context.MaxCallDepth} frames"));
        ulong frameTop = context.CallbackFrameTop;
        int savedPc = context.HelperPc;
        try
        {
            return _entry(context, r1, r2, r3, r4, r5, pc, frameTop, depth);
        }
        finally
        {
            context.HelperPc = savedPc;
            context.CallbackFrameTop = frameTop;
            context.CallbackDepth = depth;
        }
    }

    private bool IsFunctionStart(int pc)
    {
        foreach (int f in Program.FunctionStarts) if (f == pc) return true;
        return false;
    }
}
