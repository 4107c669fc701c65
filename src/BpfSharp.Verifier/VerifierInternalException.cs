namespace BpfSharp.Verifier;

/// <summary>
/// A broken invariant inside the verifier itself (for example an abstract value that became empty where the
/// analysis proves it cannot). It signals a verifier bug, never a property of the program being verified.
/// </summary>
public sealed class VerifierInternalException : Exception
{
    /// <summary>Creates the exception with a description of the broken invariant.</summary>
    public VerifierInternalException(string message) : base("internal verifier error: " + message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public VerifierInternalException() : base("internal verifier error")
    {
    }

    /// <summary>Creates the exception wrapping a cause.</summary>
    public VerifierInternalException(string message, Exception innerException)
        : base("internal verifier error: " + message, innerException)
    {
    }
}
