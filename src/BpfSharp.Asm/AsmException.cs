namespace BpfSharp.Asm;

/// <summary>Thrown when assembler text is invalid; names the line and column (both 1-based).</summary>
public sealed class AsmException : FormatException
{
    /// <summary>Creates the exception for a position in the source text.</summary>
    public AsmException(string message, int line, int column)
        : base($"line {line}, column {column}: {message}")
    {
        Reason = message;
        Line = line;
        Column = column;
    }

    /// <summary>Creates an exception without a position.</summary>
    public AsmException() : this("invalid assembly", 0, 0) { }

    /// <summary>Creates an exception without a position.</summary>
    public AsmException(string message) : this(message, 0, 0) { }

    /// <summary>Creates an exception with a cause.</summary>
    public AsmException(string message, Exception inner) : base(message, inner) => Reason = message;

    /// <summary>What is wrong, without the position.</summary>
    public string Reason { get; } = "";

    /// <summary>1-based line of the error (0 when unknown).</summary>
    public int Line { get; }

    /// <summary>1-based column of the error (0 when unknown).</summary>
    public int Column { get; }
}

/// <summary>The two assembler syntaxes BpfSharp reads and writes.</summary>
public enum AsmSyntax
{
    /// <summary>The LLVM / kernel verifier log syntax (<c>r0 = 1</c>, <c>if r1 s&gt; 0x5 goto +3</c>).</summary>
    Llvm,
    /// <summary>The eBPF conformance suite's (ubpf) syntax (<c>mov %r0, 1</c>, <c>ldxw %r0, [%r1+4]</c>).</summary>
    Conformance,
}
