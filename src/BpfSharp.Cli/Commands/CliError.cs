namespace BpfSharp.Cli.Commands;

/// <summary>An error the CLI reports as one line on stderr with a non-zero exit code.</summary>
internal sealed class CliError(string message) : Exception(message);

/// <summary>Runs a command body, turning expected failures into one-line errors and exit code 1.</summary>
internal static class CliGuard
{
    public static int Run(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is CliError or FormatException or IOException or UnauthorizedAccessException
                                      or Runtime.BpfFaultException or Runtime.BpfLoadException or ArgumentException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 1;
        }
    }
}
