using BpfSharp.Elf;

namespace BpfSharp.Linux.Tools;

/// <summary>
/// The tools' BPF objects, built from examples/tools/&lt;tool&gt;/*.bpf.c by their build.sh and embedded in this
/// assembly so users need no clang.
/// </summary>
public static class ToolObjects
{
    /// <summary>Reads the embedded object for a tool ("execsnoop", "biolatency", "ddos").</summary>
    public static BpfObject Load(string tool)
    {
        string resource = $"BpfSharp.Linux.Tools.{tool}.bpf.o";
        using var stream = typeof(ToolObjects).Assembly.GetManifestResourceStream(resource)
            ?? throw new FileNotFoundException($"no embedded BPF object '{resource}' (tools: execsnoop, biolatency, ddos)");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return BpfObject.Load(copy.ToArray(), tool);
    }
}
