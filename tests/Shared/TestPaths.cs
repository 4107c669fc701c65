namespace BpfSharp.Testing;

/// <summary>Locates the repository and the optional <c>../shared</c> data folder beside it.</summary>
internal static class TestPaths
{
    /// <summary>The folder holding <c>BpfSharp.sln</c>.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The shared data folder (<c>$BPFSHARP_SHARED</c> or <c>../shared</c> beside the repo), or null when absent.</summary>
    public static string? SharedDir { get; } = FindShared();

    /// <summary>A path inside the shared folder, or null when the folder or the entry is absent.</summary>
    public static string? Shared(string relative)
    {
        if (SharedDir is null) return null;
        var p = Path.Combine(SharedDir, relative);
        return File.Exists(p) || Directory.Exists(p) ? p : null;
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "BpfSharp.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("BpfSharp.sln not found above " + AppContext.BaseDirectory);
    }

    private static string? FindShared()
    {
        var env = Environment.GetEnvironmentVariable("BPFSHARP_SHARED");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        var p = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
        return Directory.Exists(p) ? p : null;
    }
}
