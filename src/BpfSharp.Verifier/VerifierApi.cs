using BpfSharp.Isa;
using BpfSharp.Verifier.Analysis;

namespace BpfSharp.Verifier;

/// <summary>Kinds of maps, as far as the verifier cares (kernel <c>enum bpf_map_type</c> values).</summary>
public enum VerifierMapKind
{
    /// <summary>BPF_MAP_TYPE_HASH.</summary>
    Hash = 1,
    /// <summary>BPF_MAP_TYPE_ARRAY.</summary>
    Array = 2,
    /// <summary>BPF_MAP_TYPE_PROG_ARRAY (tail calls).</summary>
    ProgArray = 3,
    /// <summary>BPF_MAP_TYPE_PERF_EVENT_ARRAY.</summary>
    PerfEventArray = 4,
    /// <summary>BPF_MAP_TYPE_PERCPU_HASH.</summary>
    PercpuHash = 5,
    /// <summary>BPF_MAP_TYPE_PERCPU_ARRAY.</summary>
    PercpuArray = 6,
    /// <summary>BPF_MAP_TYPE_LRU_HASH.</summary>
    LruHash = 9,
    /// <summary>BPF_MAP_TYPE_STACK_TRACE.</summary>
    StackTrace = 7,
    /// <summary>BPF_MAP_TYPE_DEVMAP.</summary>
    DevMap = 14,
    /// <summary>BPF_MAP_TYPE_CPUMAP.</summary>
    CpuMap = 16,
    /// <summary>BPF_MAP_TYPE_XSKMAP.</summary>
    XskMap = 17,
    /// <summary>BPF_MAP_TYPE_QUEUE.</summary>
    Queue = 22,
    /// <summary>BPF_MAP_TYPE_STACK.</summary>
    Stack = 23,
    /// <summary>BPF_MAP_TYPE_DEVMAP_HASH.</summary>
    DevMapHash = 25,
    /// <summary>BPF_MAP_TYPE_RINGBUF.</summary>
    RingBuf = 27,
}

/// <summary>A map the program refers to (by index in <see cref="VerifierOptions.Maps"/>: lddw map_fd/map_idx imm).</summary>
/// <param name="Kind">Map type.</param>
/// <param name="KeySize">Key size in bytes.</param>
/// <param name="ValueSize">Value size in bytes.</param>
/// <param name="MaxEntries">Capacity (ring buffer: size in bytes).</param>
/// <param name="Name">Name for messages.</param>
public sealed record VerifierMap(VerifierMapKind Kind, int KeySize, int ValueSize, int MaxEntries, string Name = "");

/// <summary>How to verify a program.</summary>
public sealed class VerifierOptions
{
    /// <summary>Program type: decides the context layout, allowed helpers and return range.</summary>
    public ProgramType ProgramType { get; init; } = ProgramType.SocketFilter;

    /// <summary>Privileged (CAP_BPF + CAP_PERFMON) mode; unprivileged forbids pointer leaks, pointer comparisons and loops.</summary>
    public bool Privileged { get; init; } = true;

    /// <summary>Maps referred to by lddw pseudo instructions, by index.</summary>
    public IReadOnlyList<VerifierMap> Maps { get; init; } = [];

    /// <summary>Produce the kernel-style per-instruction log.</summary>
    public bool Log { get; init; }

    /// <summary>
    /// Register states at entry (R0-R9; R10 is always the frame pointer); null for the kernel's entry state
    /// (R1 = context, the rest unreadable). Used to verify code fragments under assumptions.
    /// </summary>
    public IReadOnlyList<RegisterState>? EntryRegisters { get; init; }

    /// <summary>
    /// What is known about the main frame's stack bytes at entry (512 entries, index 0 = fp-512); null for an
    /// uninitialized stack. Spill entries are not accepted here.
    /// </summary>
    public IReadOnlyList<StackByte>? EntryStack { get; init; }

    /// <summary>
    /// Verify a code fragment rather than a whole program: falling off the end ends a path, and exit checks neither
    /// R0 nor references.
    /// </summary>
    public bool CodeFragment { get; init; }

    /// <summary>
    /// The source line of an instruction (e.g. <c>prog.c:12: return ctx-&gt;len;</c>), or null when unknown; used for
    /// error messages and the log. Set from BTF line_info by <see cref="Verifier.Verify(BpfSharp.Elf.BpfObject, BpfSharp.Elf.ProgramSpec, VerifierOptions?)"/>.
    /// </summary>
    public Func<int, string?>? SourceLine { get; init; }

    /// <summary>Called with every state the analysis executes an instruction in (tests only).</summary>
    internal Action<int, AbstractState>? StepObserver { get; init; }

    /// <summary>Processed-instruction budget (the kernel's BPF_COMPLEXITY_LIMIT_INSNS).</summary>
    public int InstructionLimit { get; init; } = 1_000_000;
}

/// <summary>Stable identifiers of rejection reasons.</summary>
public enum VerifierErrorCode
{
    /// <summary>A register was read before being written (<c>R%d !read_ok</c>).</summary>
    UninitializedRegister = 1,
    /// <summary>Write to R10.</summary>
    FramePointerReadOnly,
    /// <summary>Stack access outside the 512-byte frame.</summary>
    StackOutOfBounds,
    /// <summary>Stack access not aligned to its size.</summary>
    MisalignedStackAccess,
    /// <summary>Read of stack bytes never written.</summary>
    UninitializedStackRead,
    /// <summary>Stack access with a variable offset.</summary>
    VariableStackAccess,
    /// <summary>Context access to a field that does not exist, is read-only or has the wrong size.</summary>
    InvalidContextAccess,
    /// <summary>Context access through a modified context pointer.</summary>
    ModifiedContextPointer,
    /// <summary>Map value access outside the value.</summary>
    MapValueOutOfBounds,
    /// <summary>Packet access not proven inside the packet.</summary>
    PacketOutOfBounds,
    /// <summary>Memory access through something that is not a valid pointer (scalar, nullable pointer...).</summary>
    InvalidMemoryAccess,
    /// <summary>Arithmetic not allowed on this pointer type or operation.</summary>
    PointerArithmeticProhibited,
    /// <summary>Helper argument of the wrong type, size or initialization.</summary>
    InvalidHelperArgument,
    /// <summary>Helper id the verifier does not know.</summary>
    UnknownHelper,
    /// <summary>Helper not available to this program type.</summary>
    HelperNotAllowed,
    /// <summary>R0 at exit outside the range the program type requires.</summary>
    InvalidReturnValue,
    /// <summary>A pointer would become visible to user space (unprivileged mode).</summary>
    PointerLeak,
    /// <summary>Pointer comparison in unprivileged mode.</summary>
    PointerComparison,
    /// <summary>Instruction no path reaches.</summary>
    UnreachableInstruction,
    /// <summary>Jump or call target outside the program.</summary>
    JumpOutOfRange,
    /// <summary>Loop in unprivileged mode.</summary>
    BackEdge,
    /// <summary>Loop whose state repeats exactly.</summary>
    InfiniteLoop,
    /// <summary>Processed-instruction budget exhausted.</summary>
    ProgramTooLarge,
    /// <summary>Constant division or modulo by zero, or a constant shift too wide.</summary>
    InvalidImmediate,
    /// <summary>Too many nested local calls.</summary>
    CallStackTooDeep,
    /// <summary>lddw refers to a map that does not exist, or an unsupported pseudo source.</summary>
    InvalidMapReference,
    /// <summary>Ring buffer reservation neither submitted nor discarded.</summary>
    UnreleasedReference,
    /// <summary>An instruction the verifier does not support.</summary>
    Unsupported,
    /// <summary>Falling off the end of the program.</summary>
    FallThroughEnd,
}

/// <summary>Why a program was rejected.</summary>
/// <param name="Code">Stable reason code.</param>
/// <param name="Pc">Instruction index.</param>
/// <param name="Message">Kernel-style message, e.g. <c>R1 !read_ok</c>.</param>
/// <param name="Instruction">The instruction, disassembled.</param>
/// <param name="State">Register state before the instruction.</param>
/// <param name="Path">Branch decisions on the way, e.g. <c>3:taken</c>.</param>
public sealed record VerifierError(VerifierErrorCode Code, int Pc, string Message, string Instruction, string State, IReadOnlyList<string> Path)
{
    /// <summary>The C source line of the instruction (<c>file.c:12: text</c>), when the program has line info.</summary>
    public string? Source { get; init; }

    /// <summary>
    /// One line: <c>5: (61) r0 = *(u32 *)(r1 +0): invalid bpf_context access off=0 size=4</c>, followed by
    /// <c> [at file.c:12: text]</c> when the source line is known.
    /// </summary>
    public override string ToString() => Source == null ? $"{Pc}: {Instruction}: {Message}" : $"{Pc}: {Instruction}: {Message} [at {Source}]";
}

/// <summary>Outcome of verification.</summary>
public sealed class VerificationResult
{
    internal VerificationResult(VerifierError? error, int processed, int peakStates, TimeSpan elapsed, string log, bool[] reached)
    {
        _reached = reached;
        Error = error;
        ProcessedInstructions = processed;
        PeakStates = peakStates;
        Elapsed = elapsed;
        Log = log;
    }

    private readonly bool[] _reached;

    /// <summary>Whether some path reached instruction <paramref name="pc"/> (before any error stopped the analysis).</summary>
    public bool WasReached(int pc) => pc >= 0 && pc < _reached.Length && _reached[pc];

    /// <summary>True when the program is safe.</summary>
    public bool Accepted => Error == null;

    /// <summary>The first error, or null.</summary>
    public VerifierError? Error { get; }

    /// <summary>Instructions processed over all paths (the kernel's <c>processed N insns</c>).</summary>
    public int ProcessedInstructions { get; }

    /// <summary>Most states stored for pruning at once.</summary>
    public int PeakStates { get; }

    /// <summary>Time spent.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Kernel-style log (empty unless <see cref="VerifierOptions.Log"/>).</summary>
    public string Log { get; }
}

/// <summary>Entry point: proves a program safe or reports the first violation.</summary>
public static partial class Verifier
{
    /// <summary>Verifies <paramref name="program"/>.</summary>
    public static VerificationResult Verify(BpfProgram program, VerifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(program);
        return new Analyzer(program, options ?? new VerifierOptions()).Run();
    }
}
