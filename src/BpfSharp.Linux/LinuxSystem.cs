using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>Facts about the running Linux system that the BPF backend needs.</summary>
public static class LinuxSystem
{
    private static int _possibleCpus;

    /// <summary>
    /// Number of possible CPUs (from /sys/devices/system/cpu/possible, e.g. "0-3" → 4): the number of slots the
    /// kernel copies for per-CPU map values.
    /// </summary>
    public static int PossibleCpuCount
    {
        get
        {
            if (_possibleCpus == 0)
                _possibleCpus = ParseCpuList(File.Exists("/sys/devices/system/cpu/possible")
                    ? File.ReadAllText("/sys/devices/system/cpu/possible") : $"0-{Environment.ProcessorCount - 1}");
            return _possibleCpus;
        }
    }

    /// <summary>CPUs that are online (from /sys/devices/system/cpu/online), as a list of ids.</summary>
    public static IReadOnlyList<int> OnlineCpus()
    {
        string text = File.Exists("/sys/devices/system/cpu/online") ? File.ReadAllText("/sys/devices/system/cpu/online") : $"0-{Environment.ProcessorCount - 1}";
        var cpus = new List<int>();
        foreach (string part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            int lo = int.Parse(dash < 0 ? part : part[..dash]);
            int hi = dash < 0 ? lo : int.Parse(part[(dash + 1)..]);
            for (int c = lo; c <= hi; c++)
                cpus.Add(c);
        }
        return cpus;
    }

    /// <summary>Highest CPU id + 1 of a kernel CPU list such as "0-3,5".</summary>
    public static int ParseCpuList(string text)
    {
        int max = -1;
        foreach (string part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            max = Math.Max(max, int.Parse(dash < 0 ? part : part[(dash + 1)..]));
        }
        return max + 1;
    }

    /// <summary>Whether the process runs with effective uid 0.</summary>
    public static bool IsRoot => OperatingSystem.IsLinux() && LibC.GetEuid() == 0;

    /// <summary>The interface index of a network device in the calling thread's network namespace.</summary>
    public static int InterfaceIndex(string name)
    {
        uint ix = LibC.IfNameToIndex(name);
        if (ix == 0)
            throw new BpfException("if_nametoindex", System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), $"interface '{name}'");
        return (int)ix;
    }

    /// <summary>The system page size in bytes.</summary>
    public static int PageSize => LibC.PageSize;
}
