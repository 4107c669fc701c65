using BpfSharp.Isa;

namespace BpfSharp.Linux;

/// <summary>
/// A program verified and loaded into the kernel. Dispose closes its descriptor; the kernel frees the program
/// once no link, pin or map references it any more.
/// </summary>
public sealed partial class KernelProgram : IDisposable
{
    private KernelProgram(BpfProgramHandle handle, BpfProgramType type, string verifierLog, string? name)
    {
        Handle = handle;
        Type = type;
        VerifierLog = verifierLog;
        Name = name ?? "";
    }

    /// <summary>Loads a program; throws <see cref="BpfVerifierException"/> (with the kernel's log) when rejected.</summary>
    public static KernelProgram Load(ReadOnlySpan<RawInstruction> instructions, BpfProgramType type, string license = "GPL", string? name = null) =>
        Load(instructions, new ProgramLoadOptions { Type = type, License = license, Name = name });

    /// <summary>Loads a program with full control over BPF_PROG_LOAD's parameters.</summary>
    public static KernelProgram Load(ReadOnlySpan<RawInstruction> instructions, ProgramLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var handle = BpfSyscall.ProgLoad(options, instructions, out string log);
        return new KernelProgram(handle, options.Type, log, options.Name);
    }

    /// <summary>Opens a program pinned in bpffs.</summary>
    public static KernelProgram OpenPinned(string path)
    {
        var handle = new BpfProgramHandle(BpfSyscall.ObjGet(path));
        var info = BpfSyscall.GetProgramInfo(handle);
        return new KernelProgram(handle, info.Type, "", info.Name);
    }

    /// <summary>The program descriptor.</summary>
    public BpfProgramHandle Handle { get; }

    /// <summary>The descriptor number.</summary>
    public int Fd => Handle.Fd;

    /// <summary>Program type.</summary>
    public BpfProgramType Type { get; }

    /// <summary>Name given at load.</summary>
    public string Name { get; }

    /// <summary>The verifier log of the load, if a log level was requested (empty otherwise).</summary>
    public string VerifierLog { get; }

    /// <summary>
    /// Runs the program once (or <paramref name="repeat"/> times) on <paramref name="data"/> with BPF_PROG_TEST_RUN
    /// and returns r0, the kernel-measured mean ns per run, and the output data.
    /// </summary>
    public TestRunResult TestRun(ReadOnlySpan<byte> data, uint repeat = 0) =>
        BpfSyscall.ProgTestRun(Handle, new TestRunOptions { DataIn = data.ToArray(), Repeat = repeat });

    /// <summary>BPF_PROG_TEST_RUN with all options (context in/out, flags, CPU).</summary>
    public TestRunResult TestRun(TestRunOptions options) => BpfSyscall.ProgTestRun(Handle, options);

    /// <summary>The kernel's description of the program (id, tag, JIT size, run statistics).</summary>
    public ProgramInfo GetInfo() => BpfSyscall.GetProgramInfo(Handle);

    /// <summary>Pins the program at <paramref name="path"/> in a bpffs mount.</summary>
    public void Pin(string path) => BpfSyscall.ObjPin(Handle, path);

    /// <summary>Closes the descriptor.</summary>
    public void Dispose() => Handle.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{Type} program '{Name}' (fd {Fd})";
}

/// <summary>The kernel verifier's verdict on a program.</summary>
/// <param name="Accepted">Whether BPF_PROG_LOAD succeeded.</param>
/// <param name="Errno">0 when accepted; otherwise the errno (EACCES: unsafe program, EINVAL: malformed, E2BIG: too large...).</param>
/// <param name="Log">The verifier log (level 1 for rejections; level as requested for acceptances).</param>
/// <param name="Summary">One line saying why (last meaningful log line), empty when accepted.</param>
/// <param name="VerifiedInstructions">Instructions processed by the verifier, when accepted.</param>
public sealed record KernelVerdict(bool Accepted, int Errno, string Log, string Summary, uint VerifiedInstructions);

/// <summary>
/// The running kernel as a reference implementation: ask its verifier whether a program is safe, and run a
/// program in the kernel to compare results with our interpreter / JIT.
/// </summary>
/// <remarks>
/// Needs root (or CAP_BPF + CAP_PERFMON/CAP_NET_ADMIN) on Linux; check <see cref="IsAvailable"/> first and skip
/// otherwise. Programs that use maps must carry the map fds in their <c>lddw</c> instructions (see
/// <see cref="KernelMap.LoadInstruction"/>). PROG_TEST_RUN supports socket filter, sched_cls/act, XDP, cgroup skb,
/// lwt, flow dissector, sk_lookup, raw tracepoint, tracing and syscall programs; XDP and skb programs need at
/// least 14 bytes (an Ethernet header) of packet data.
/// </remarks>
public static class KernelOracle
{
    /// <summary>Whether the kernel can be used here; <paramref name="reason"/> explains a false answer.</summary>
    public static bool IsAvailable(out string reason) => BpfSyscall.IsAvailable(out reason);

    /// <summary>
    /// Submits the program to the kernel verifier. True when accepted; <paramref name="log"/> always has the
    /// verifier's log (level 1 output for rejections, statistics for acceptances).
    /// </summary>
    public static bool TryVerify(ReadOnlySpan<RawInstruction> instructions, BpfProgramType type, out string log)
    {
        var verdict = Verify(instructions, type);
        log = verdict.Log;
        return verdict.Accepted;
    }

    /// <summary>Submits the program to the kernel verifier and returns the full verdict.</summary>
    public static KernelVerdict Verify(ReadOnlySpan<RawInstruction> instructions, BpfProgramType type, string license = "GPL", uint logLevel = 1)
    {
        BpfSyscall.EnsureAvailable();
        if (instructions.IsEmpty)
            return new KernelVerdict(false, Errnos.EINVAL, "", "empty program", 0);
        var options = new ProgramLoadOptions { Type = type, License = license, LogLevel = logLevel };
        int fd = BpfSyscall.TryProgLoad(options, instructions, logLevel, out string log, out int errno);
        if (fd < 0)
            return new KernelVerdict(false, errno, log, BpfVerifierException.Summarize(log, errno), 0);
        using var handle = new BpfProgramHandle(fd);
        uint verified = BpfSyscall.GetProgramInfo(handle).VerifiedInstructions;
        return new KernelVerdict(true, 0, log, "", verified);
    }

    /// <summary>
    /// Loads the program, runs it with BPF_PROG_TEST_RUN on <paramref name="data"/> (<paramref name="repeat"/>
    /// times) and unloads it. Throws <see cref="BpfVerifierException"/> if the verifier rejects it.
    /// </summary>
    public static TestRunResult TestRun(ReadOnlySpan<RawInstruction> instructions, BpfProgramType type, ReadOnlySpan<byte> data, uint repeat = 0, ReadOnlySpan<byte> context = default)
    {
        BpfSyscall.EnsureAvailable();
        using var program = KernelProgram.Load(instructions, type);
        return program.TestRun(new TestRunOptions
        {
            DataIn = data.ToArray(),
            ContextIn = context.ToArray(),
            // raw_tracepoint / tracing test runs reject a context-out buffer.
            ContextOutSize = type is BpfProgramType.RawTracepoint or BpfProgramType.Tracing ? 0 : context.Length,
            Repeat = repeat,
        });
    }

    /// <summary>
    /// Runs a program in the kernel with the conformance-suite calling convention used by our own engines:
    /// r1 points to a private copy of <paramref name="memory"/>, r2 is its length, and the result is the full
    /// 64-bit r0. Returns a rejected verdict (with the verifier log) instead of throwing when the kernel refuses it.
    /// </summary>
    /// <remarks>
    /// The kernel only returns the low 32 bits of r0 from PROG_TEST_RUN and gives programs no plain memory
    /// argument, so the program is wrapped: a small main function writes the memory bytes into its own stack,
    /// sets r1/r2, calls the unchanged program as a bpf-to-bpf subprogram and returns r0 (one run) or r0 &gt;&gt; 32
    /// (a second run). Consequences: memory is limited to what fits in the 512-byte stack together with the
    /// program's own stack, stack accesses must be aligned (the kernel enforces that for stack pointers), and
    /// programs must pass the kernel verifier (bounded loops, initialised registers...). Runs as a socket filter.
    /// </remarks>
    public static KernelRunResult RunWithMemory(ReadOnlySpan<RawInstruction> program, ReadOnlySpan<byte> memory)
    {
        BpfSyscall.EnsureAvailable();
        if (program.IsEmpty)
            return new KernelRunResult(false, 0, Errnos.EINVAL, "", "empty program");
        if (memory.Length > 504)
            return new KernelRunResult(false, 0, Errnos.E2BIG, "", $"{memory.Length} bytes of memory do not fit in the kernel's 512-byte stack");
        var low = Wrap(program, memory, high: false);
        var options = new ProgramLoadOptions { Type = BpfProgramType.SocketFilter };
        int fd = BpfSyscall.TryProgLoad(options, low, 1, out string log, out int errno);
        if (fd < 0)
            return new KernelRunResult(false, 0, errno, log, BpfVerifierException.Summarize(log, errno));
        ulong lo, hi;
        var input = new TestRunOptions { DataIn = new byte[64], DataOutSize = 0 };
        using (var h = new BpfProgramHandle(fd))
            lo = BpfSyscall.ProgTestRun(h, input).ReturnValue;
        using (var h2 = BpfSyscall.ProgLoad(options, Wrap(program, memory, high: true), out _))
            hi = BpfSyscall.ProgTestRun(h2, input).ReturnValue;
        return new KernelRunResult(true, (hi << 32) | lo, 0, log, "");
    }

    private static RawInstruction[] Wrap(ReadOnlySpan<RawInstruction> program, ReadOnlySpan<byte> memory, bool high)
    {
        var main = new List<RawInstruction>();
        int padded = (memory.Length + 7) & ~7;
        for (int i = 0; i < padded; i += 4)
        {
            int word = 0;
            for (int b = 0; b < 4 && i + b < memory.Length; b++)
                word |= memory[i + b] << (8 * b);
            main.Add(new RawInstruction(0x62, 10, 0, (short)(i - padded), word));   // *(u32 *)(r10 - padded + i) = word
        }
        if (padded > 0)
        {
            main.Add(new RawInstruction(0xbf, 1, 10, 0, 0));               // r1 = r10
            main.Add(new RawInstruction(0x07, 1, 0, 0, -padded));          // r1 += -padded
        }
        else
        {
            main.Add(new RawInstruction(0xb7, 1, 0, 0, 0));                // r1 = 0
        }
        main.Add(new RawInstruction(0xb7, 2, 0, 0, memory.Length));        // r2 = length
        int tail = high ? 2 : 1;                                           // slots between the call and the program: [r0 >>= 32,] exit
        main.Add(new RawInstruction(0x85, 0, 1, 0, tail));                 // call pc+1+tail = the program's first slot (BPF_PSEUDO_CALL)
        if (high)
            main.Add(new RawInstruction(0x77, 0, 0, 0, 32));               // r0 >>= 32
        main.Add(new RawInstruction(0x95, 0, 0, 0, 0));                    // exit
        var result = new RawInstruction[main.Count + program.Length];
        main.CopyTo(result);
        program.CopyTo(result.AsSpan(main.Count));
        return result;
    }
}

/// <summary>The outcome of <see cref="KernelOracle.RunWithMemory"/>.</summary>
/// <param name="Accepted">Whether the kernel verifier accepted the (wrapped) program.</param>
/// <param name="Result">The 64-bit r0 when accepted.</param>
/// <param name="Errno">The load errno when rejected.</param>
/// <param name="Log">The verifier log.</param>
/// <param name="Summary">One line saying why it was rejected.</param>
public sealed record KernelRunResult(bool Accepted, ulong Result, int Errno, string Log, string Summary);
