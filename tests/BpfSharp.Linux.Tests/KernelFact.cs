using BpfSharp.Linux;
using Xunit;

namespace BpfSharp.Linux.Tests;

/// <summary>
/// A fact that runs only where bpf() works (Linux, root or CAP_BPF); elsewhere it is reported as skipped with
/// the reason. Extra requirements can be named: "tracefs", "netns" (ip tool), "uprobe", "kprobe", "tcx".
/// </summary>
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute(params string[] requires)
    {
        if (!BpfSyscall.IsAvailable(out string reason))
        {
            Skip = "bpf() unavailable: " + reason;
            return;
        }
        foreach (string r in requires)
        {
            string? why = Requirements.Check(r);
            if (why is not null)
            {
                Skip = why;
                return;
            }
        }
    }
}

/// <summary>Same as <see cref="KernelFactAttribute"/> for theories.</summary>
public sealed class KernelTheoryAttribute : TheoryAttribute
{
    public KernelTheoryAttribute()
    {
        if (!BpfSyscall.IsAvailable(out string reason))
            Skip = "bpf() unavailable: " + reason;
    }
}

internal static class Requirements
{
    public static string? Check(string requirement) => requirement switch
    {
        "netns" => FindTool("ip") is null ? "the 'ip' tool (iproute2) is not installed" : null,
        "uprobe" => File.Exists("/sys/bus/event_source/devices/uprobe/type") ? null : "no uprobe PMU (CONFIG_UPROBE_EVENTS off)",
        "tracefs" => Directory.Exists("/sys/kernel/tracing") ? null : "no /sys/kernel/tracing directory (CONFIG_TRACING off)",
        "btf" => File.Exists("/sys/kernel/btf/vmlinux") ? null : "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF off)",
        _ => null,
    };

    public static string? FindTool(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':').Concat(["/usr/sbin", "/sbin"]))
        {
            string p = Path.Combine(dir, name);
            if (File.Exists(p))
                return p;
        }
        return null;
    }
}
