namespace BpfSharp.Runtime;

/// <summary>Why an engine stopped a program. One vocabulary for the interpreter and the JIT.</summary>
public enum BpfFaultKind
{
    /// <summary>A load, store or atomic touched memory outside every region the host granted.</summary>
    OutOfBounds,
    /// <summary>A store or atomic targeted a region granted read-only.</summary>
    ReadOnlyWrite,
    /// <summary>The instruction budget ran out (runaway program).</summary>
    BudgetExceeded,
    /// <summary>Local calls nested deeper than the maximum call depth.</summary>
    CallDepthExceeded,
    /// <summary>A helper id with no registered helper (callx, or a program not checked at load).</summary>
    UnknownHelper,
    /// <summary>Execution ran past the last instruction without exit.</summary>
    FellOffEnd,
    /// <summary>A helper reported an error that ends the program.</summary>
    HelperFailed,
    /// <summary>An instruction the engine does not execute (kfunc calls, BTF-id loads without a kernel).</summary>
    Unsupported,
}

/// <summary>A fault: what went wrong, at which instruction, with details a person can act on.</summary>
/// <param name="Kind">The fault class.</param>
/// <param name="Pc">Slot index of the instruction that faulted.</param>
/// <param name="Detail">Human-readable detail (the access, the region, the helper id...).</param>
public sealed record BpfFault(BpfFaultKind Kind, int Pc, string Detail)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Kind} at pc {Pc}: {Detail}";
}

/// <summary>Thrown by an engine when a program faults; the program's effects up to the fault remain.</summary>
public sealed class BpfFaultException : Exception
{
    /// <summary>Creates the exception for a fault.</summary>
    public BpfFaultException(BpfFault fault) : base(fault.ToString()) => Fault = fault;

    /// <summary>Creates an exception with a message.</summary>
    public BpfFaultException() : this(new BpfFault(BpfFaultKind.Unsupported, -1, "fault")) { }

    /// <summary>Creates an exception with a message.</summary>
    public BpfFaultException(string message) : this(new BpfFault(BpfFaultKind.Unsupported, -1, message)) { }

    /// <summary>Creates an exception with a message and a cause.</summary>
    public BpfFaultException(string message, Exception inner) : base(message, inner) =>
        Fault = new BpfFault(BpfFaultKind.HelperFailed, -1, message);

    /// <summary>The fault.</summary>
    public BpfFault Fault { get; }
}
