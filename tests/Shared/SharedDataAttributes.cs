using Xunit;

namespace BpfSharp.Testing;

/// <summary>A fact that is skipped, with the reason, when a path under ../shared is absent (a user's clone has none).</summary>
internal sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(string relativePath)
    {
        if (TestPaths.Shared(relativePath) is null)
            Skip = $"needs ../shared/{relativePath}, which is absent (it ships with the project's shared data, not with a clone)";
    }
}

/// <summary>A theory that is skipped, with the reason, when a path under ../shared is absent.</summary>
internal sealed class SharedDataTheoryAttribute : TheoryAttribute
{
    public SharedDataTheoryAttribute(string relativePath)
    {
        if (TestPaths.Shared(relativePath) is null)
            Skip = $"needs ../shared/{relativePath}, which is absent (it ships with the project's shared data, not with a clone)";
    }
}
