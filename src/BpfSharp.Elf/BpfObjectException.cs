namespace BpfSharp.Elf;

/// <summary>
/// The one error type of the object loader: the file is not a well-formed eBPF ELF object, or something in it
/// cannot be resolved. The message names the section, symbol, offset or index and says what is wrong.
/// </summary>
public sealed class BpfObjectException : Exception
{
    /// <summary>Creates an error with a message.</summary>
    public BpfObjectException() : base("invalid eBPF object") { }

    /// <summary>Creates an error with a message.</summary>
    public BpfObjectException(string message) : base(message) { }

    /// <summary>Creates an error with a message and the underlying cause.</summary>
    public BpfObjectException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates an error that names where in the object it happened.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="section">The section involved, if any.</param>
    /// <param name="fileOffset">The byte offset in the file involved, if known.</param>
    public BpfObjectException(string message, string? section, long? fileOffset)
        : base(Compose(message, section, fileOffset))
    {
        Section = section;
        FileOffset = fileOffset;
    }

    /// <summary>The section the error is about, when there is one.</summary>
    public string? Section { get; }

    /// <summary>The file offset the error is about, when known.</summary>
    public long? FileOffset { get; }

    private static string Compose(string message, string? section, long? fileOffset)
    {
        var where = section is null ? "" : $"section '{section}': ";
        var at = fileOffset is null ? "" : $" (file offset 0x{fileOffset.Value:x})";
        return where + message + at;
    }
}
