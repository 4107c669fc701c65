namespace BpfSharp.Jit;

/// <summary>How much run-time checking the JIT compiles into a program.</summary>
public enum JitMode
{
    /// <summary>
    /// Every load, store and atomic is checked against the stack and the granted regions exactly as the interpreter
    /// checks it, with the same faults, and the instruction budget is enforced. Safe for any program.
    /// </summary>
    Checked,

    /// <summary>
    /// UNSAFE: no memory check at all. A program that dereferences a bad pointer reads or corrupts host memory or
    /// crashes the process. Only for programs whose every access is known to be in bounds (your own, tested code).
    /// </summary>
    Trusted,
}

/// <summary>Options of <see cref="BpfJit.Compile"/>.</summary>
public sealed record JitOptions
{
    /// <summary>The default: <see cref="JitMode.Checked"/> with instruction counting.</summary>
    public static JitOptions Default { get; } = new();

    /// <summary>The fastest unsafe setting: <see cref="JitMode.Trusted"/> without instruction counting.</summary>
    public static JitOptions TrustedUncounted { get; } = new() { Mode = JitMode.Trusted, CountInstructions = false };

    /// <summary>Checking mode; <see cref="JitMode.Checked"/> unless you opt out explicitly.</summary>
    public JitMode Mode { get; init; } = JitMode.Checked;

    /// <summary>
    /// Count executed instructions, enforce <c>RunContext.InstructionBudget</c> and set
    /// <c>RunContext.InstructionsExecuted</c>, as the interpreter does. Always true in <see cref="JitMode.Checked"/>;
    /// a <see cref="JitMode.Trusted"/> program compiled without counting can loop forever and reports 0 executed.
    /// </summary>
    public bool CountInstructions { get; init; } = true;

    /// <summary>
    /// Have RyuJIT generate the native code inside <see cref="BpfJit.Compile"/> (by a dry call) rather than on the
    /// first run, so that compile time is paid, and measured, up front.
    /// </summary>
    public bool CompileEagerly { get; init; } = true;
}
