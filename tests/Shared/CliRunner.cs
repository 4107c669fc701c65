using System.Diagnostics;

namespace BpfSharp.Testing;

/// <summary>Runs the built <c>bpfsharp</c> command as a separate process, as a user or an external runner would.</summary>
internal static class CliRunner
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "bpfsharp.dll");

    public static (int ExitCode, string Stdout, string Stderr) Run(string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            throw new TimeoutException("bpfsharp " + string.Join(' ', args) + " did not finish in 120 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
