namespace BpfSharp.Classic.Filter;

/// <summary>A filter expression that cannot be compiled; the message is worded like libpcap's.</summary>
public class FilterCompileException : Exception
{
    /// <summary>Creates the error; <paramref name="column"/> is the 1-based column it refers to, 0 if none.</summary>
    public FilterCompileException(string message, int column = 0) : base(message) => Column = column;

    /// <summary>1-based column in the expression where the problem was found, or 0 when it concerns the whole expression.</summary>
    public int Column { get; }
}

/// <summary>The expression does not follow the pcap-filter grammar (tcpdump: "syntax error").</summary>
public sealed class FilterSyntaxException : FilterCompileException
{
    /// <summary>Creates the error at 1-based <paramref name="column"/>.</summary>
    public FilterSyntaxException(string message, int column) : base(message, column) { }
}
