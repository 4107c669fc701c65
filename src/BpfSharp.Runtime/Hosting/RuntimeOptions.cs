using BpfSharp.Isa;

namespace BpfSharp.Runtime.Hosting;

/// <summary>Builds an executable for a prepared program (the interpreter by default; the JIT plugs in here).</summary>
public delegate IBpfExecutable EngineFactory(BpfProgram program, HelperTable helpers);

/// <summary>How a <see cref="BpfRuntimeObject"/> runs its programs.</summary>
public sealed record RuntimeOptions
{
    /// <summary>The engine (default: the interpreter).</summary>
    public EngineFactory Engine { get; init; } = static (p, h) => new Interpreter(p, h);

    /// <summary>Number of CPUs per-CPU maps have.</summary>
    public int CpuCount { get; init; } = Environment.ProcessorCount;

    /// <summary>Extra or replacement helpers the host offers, applied after the built-in ones.</summary>
    public Action<HelperTable>? ConfigureHelpers { get; init; }

    /// <summary>Where <c>bpf_trace_printk</c> output goes.</summary>
    public Action<string>? TraceSink { get; init; }

    /// <summary>Most instructions one run may execute.</summary>
    public long InstructionBudget { get; init; } = long.MaxValue;

    /// <summary>Largest packet the packet runners accept.</summary>
    public int MaxPacketLength { get; init; } = 9216;
}
