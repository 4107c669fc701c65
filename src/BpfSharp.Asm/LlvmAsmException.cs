namespace BpfSharp.Asm;

/// <summary>Thrown when LLVM-syntax assembly text is invalid; <see cref="Line"/> and <see cref="Column"/> say where.</summary>
public sealed class LlvmAsmException : FormatException
{
    /// <summary>Creates the exception for a position in the source (1-based line and column; 0 when unknown).</summary>
    public LlvmAsmException(string message, int line, int column)
        : base(line > 0 ? $"line {line}, column {column}: {message}" : message)
    {
        Line = line;
        Column = column;
        Reason = message;
    }

    /// <summary>Creates an exception without a position.</summary>
    public LlvmAsmException() : this("invalid assembly", 0, 0) { }

    /// <summary>Creates an exception without a position.</summary>
    public LlvmAsmException(string message) : this(message, 0, 0) { }

    /// <summary>Creates an exception without a position, with a cause.</summary>
    public LlvmAsmException(string message, Exception inner) : base(message, inner) => Reason = message;

    /// <summary>1-based source line of the error (0 when unknown).</summary>
    public int Line { get; }

    /// <summary>1-based column of the error (0 when unknown).</summary>
    public int Column { get; }

    /// <summary>What is wrong, without the position prefix.</summary>
    public string Reason { get; }
}
