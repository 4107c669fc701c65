namespace BpfSharp.Linux;

/// <summary>A bpf(2) command (or a related system call) failed; carries the errno and what was being done.</summary>
public class BpfException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BpfException(string operation, int errno, string? detail = null)
        : base(Format(operation, errno, detail))
    {
        Operation = operation;
        Errno = errno;
    }

    /// <summary>Creates the exception with an explicit message.</summary>
    public BpfException(string message, string operation, int errno, Exception? inner = null) : base(message, inner)
    {
        Operation = operation;
        Errno = errno;
    }

    /// <summary>The command or call that failed, e.g. <c>BPF_MAP_CREATE</c> or <c>perf_event_open</c>.</summary>
    public string Operation { get; }

    /// <summary>The errno value the kernel returned (positive), e.g. 22 for EINVAL.</summary>
    public int Errno { get; }

    /// <summary>The symbolic errno name (EINVAL, EPERM, ...) when known.</summary>
    public string ErrnoName => Errnos.Name(Errno);

    private static string Format(string operation, int errno, string? detail) =>
        $"{operation} failed: {Errnos.Name(errno)} ({errno}, {Native.LibC.ErrnoText(errno)})" +
        (string.IsNullOrEmpty(detail) ? "" : $": {detail}");
}

/// <summary>
/// The kernel verifier rejected a program (BPF_PROG_LOAD failed); <see cref="Log"/> has the full verifier log and
/// <see cref="Summary"/> the line(s) that say why.
/// </summary>
public sealed class BpfVerifierException : BpfException
{
    /// <summary>Creates the exception.</summary>
    public BpfVerifierException(int errno, string log, BpfProgramType programType)
        : this(errno, log, programType, null)
    {
    }

    /// <summary>Creates the exception, naming which program (e.g. "obj: program 'xdp_main' (xdp)") was rejected.</summary>
    public BpfVerifierException(int errno, string log, BpfProgramType programType, string? program)
        : base($"BPF_PROG_LOAD of {program ?? $"a {programType} program"} rejected ({Errnos.Name(errno)}): {Summarize(log, errno)}",
               "BPF_PROG_LOAD", errno)
    {
        Program = program;
        Log = log;
        Summary = Summarize(log, errno);
        ProgramType = programType;
    }

    /// <summary>The complete verifier log (may be empty when the load failed before verification).</summary>
    public string Log { get; }

    /// <summary>One line: the last meaningful line(s) of the log, or the errno text if the log is empty.</summary>
    public string Summary { get; }

    /// <summary>Which program was rejected, when the loader knew (object and function name), else null.</summary>
    public string? Program { get; }

    /// <summary>The program type that was being loaded.</summary>
    public BpfProgramType ProgramType { get; }

    /// <summary>
    /// The verifier ends its log with statistics ("processed N insns ...", "verification time ...");
    /// the reason is the last line before those. A failing instruction line ("12: (85) call ...") before it is kept.
    /// </summary>
    internal static string Summarize(string log, int errno)
    {
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int end = lines.Length - 1;
        while (end >= 0 && IsStatistics(lines[end]))
            end--;
        if (end < 0)
            return $"{Errnos.Name(errno)}: {Native.LibC.ErrnoText(errno)} (no verifier log)";
        string reason = lines[end];
        if (end > 0 && char.IsDigit(lines[end - 1][0]) && lines[end - 1].Contains(": (", StringComparison.Ordinal))
            return $"{reason} (at {lines[end - 1]})";
        return reason;
    }

    private static bool IsStatistics(string line) =>
        line.StartsWith("processed ", StringComparison.Ordinal) ||
        line.StartsWith("verification time", StringComparison.Ordinal) ||
        line.StartsWith("stack depth", StringComparison.Ordinal) ||
        line.StartsWith("max_states_per_insn", StringComparison.Ordinal) ||
        line.StartsWith("mark_read", StringComparison.Ordinal) ||
        line.StartsWith("peak_states", StringComparison.Ordinal) ||
        line.StartsWith("-- END PROG LOAD LOG --", StringComparison.Ordinal);
}

/// <summary>The running kernel lacks a feature (program/map type, helper, attach type, kprobes, tcx...).</summary>
public sealed class BpfNotSupportedException : NotSupportedException
{
    /// <summary>Creates the exception.</summary>
    public BpfNotSupportedException(string feature, string reason)
        : base($"{feature} is not supported by this kernel ({Environment.OSVersion.Version}): {reason}")
    {
        Feature = feature;
        Reason = reason;
    }

    /// <summary>Creates the exception from a failed probe.</summary>
    public BpfNotSupportedException(string feature, string reason, Exception inner)
        : base($"{feature} is not supported by this kernel: {reason}", inner)
    {
        Feature = feature;
        Reason = reason;
    }

    /// <summary>What is missing, e.g. "map type Arena" or "kprobes".</summary>
    public string Feature { get; }

    /// <summary>Why we believe so (the probe's errno or the missing file).</summary>
    public string Reason { get; }
}

/// <summary>Symbolic names of the errno values bpf() returns.</summary>
public static class Errnos
{
    /// <summary>Operation not permitted.</summary>
    public const int EPERM = 1;
    /// <summary>No such file or directory / element.</summary>
    public const int ENOENT = 2;
    /// <summary>No such process.</summary>
    public const int ESRCH = 3;
    /// <summary>Interrupted.</summary>
    public const int EINTR = 4;
    /// <summary>I/O error.</summary>
    public const int EIO = 5;
    /// <summary>Argument list too long (attr too big).</summary>
    public const int E2BIG = 7;
    /// <summary>Bad file descriptor.</summary>
    public const int EBADF = 9;
    /// <summary>Try again.</summary>
    public const int EAGAIN = 11;
    /// <summary>Out of memory.</summary>
    public const int ENOMEM = 12;
    /// <summary>Permission denied.</summary>
    public const int EACCES = 13;
    /// <summary>Bad address.</summary>
    public const int EFAULT = 14;
    /// <summary>Busy.</summary>
    public const int EBUSY = 16;
    /// <summary>Exists.</summary>
    public const int EEXIST = 17;
    /// <summary>No such device.</summary>
    public const int ENODEV = 19;
    /// <summary>Invalid argument.</summary>
    public const int EINVAL = 22;
    /// <summary>No space left (log buffer too small).</summary>
    public const int ENOSPC = 28;
    /// <summary>Out of range.</summary>
    public const int ERANGE = 34;
    /// <summary>Not implemented (no bpf syscall).</summary>
    public const int ENOSYS = 38;
    /// <summary>Not supported.</summary>
    public const int EOPNOTSUPP = 95;
    /// <summary>Not supported (kernel-internal ENOTSUPP leaks to user space as 524).</summary>
    public const int ENOTSUPP = 524;

    /// <summary>The symbolic name of an errno value.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => "EPERM", ENOENT => "ENOENT", ESRCH => "ESRCH", EINTR => "EINTR", EIO => "EIO", E2BIG => "E2BIG",
        EBADF => "EBADF", EAGAIN => "EAGAIN", ENOMEM => "ENOMEM", EACCES => "EACCES", EFAULT => "EFAULT",
        EBUSY => "EBUSY", EEXIST => "EEXIST", ENODEV => "ENODEV", EINVAL => "EINVAL", ENOSPC => "ENOSPC",
        ERANGE => "ERANGE", ENOSYS => "ENOSYS", EOPNOTSUPP => "EOPNOTSUPP", ENOTSUPP => "ENOTSUPP",
        _ => $"errno{errno}",
    };
}
