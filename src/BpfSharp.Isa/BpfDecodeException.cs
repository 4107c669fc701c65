namespace BpfSharp.Isa;

/// <summary>Why a byte sequence is not a valid eBPF program, and at which instruction.</summary>
/// <param name="Index">Slot index of the offending instruction (-1 for whole-program errors).</param>
/// <param name="Message">What is wrong, in lower case with no trailing full stop.</param>
public sealed record DecodeError(int Index, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => Index >= 0 ? $"instruction {Index}: {Message}" : Message;
}

/// <summary>Thrown when bytecode is not a valid program; <see cref="InstructionIndex"/> names where.</summary>
public sealed class BpfDecodeException : FormatException
{
    /// <summary>Creates the exception from a decode error.</summary>
    public BpfDecodeException(DecodeError error) : base(error.ToString()) => Error = error;

    /// <summary>Creates an exception with a message (for serializers and tests).</summary>
    public BpfDecodeException() : this(new DecodeError(-1, "invalid program")) { }

    /// <summary>Creates an exception with a message (for serializers and tests).</summary>
    public BpfDecodeException(string message) : this(new DecodeError(-1, message)) { }

    /// <summary>Creates an exception with a message and cause.</summary>
    public BpfDecodeException(string message, Exception inner) : base(message, inner) => Error = new DecodeError(-1, message);

    /// <summary>The structured error.</summary>
    public DecodeError Error { get; }

    /// <summary>Slot index of the offending instruction, or -1.</summary>
    public int InstructionIndex => Error.Index;
}
