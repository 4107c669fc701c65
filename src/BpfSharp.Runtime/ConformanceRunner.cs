using System.Runtime.InteropServices;
using BpfSharp.Isa;

namespace BpfSharp.Runtime;

/// <summary>
/// Runs a program the way the conformance suite's plugin protocol defines it: r1 points to a private copy of the
/// memory, r2 is its length, and r0 is the result. Helper 5 is the suite's "unwind" helper, which returns its argument.
/// </summary>
public static unsafe class ConformanceRunner
{
    /// <summary>The helpers the conformance suite's programs call.</summary>
    public static HelperTable Helpers() => new HelperTable().Register(5, "unwind", static (_, r1, _, _, _, _) => r1);

    /// <summary>Runs on the interpreter (or an engine supplied by <paramref name="engineFactory"/>).</summary>
    public static ulong Run(BpfProgram program, ReadOnlySpan<byte> memory,
        Func<BpfProgram, HelperTable, IBpfExecutable>? engineFactory = null)
    {
        ArgumentNullException.ThrowIfNull(program);
        IBpfExecutable engine = engineFactory?.Invoke(program, Helpers()) ?? new Interpreter(program, Helpers());
        using var context = new RunContext();
        byte* copy = (byte*)NativeMemory.Alloc((nuint)Math.Max(memory.Length, 1));
        try
        {
            memory.CopyTo(new Span<byte>(copy, memory.Length));
            if (memory.Length > 0)
                context.SetRegions([new MemoryRegion((ulong)copy, (ulong)memory.Length, RegionKind.Memory, true)]);
            return engine.Run(context, memory.Length > 0 ? (ulong)copy : 0, (ulong)memory.Length);
        }
        finally
        {
            NativeMemory.Free(copy);
        }
    }
}
