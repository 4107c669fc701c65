using System.Runtime.InteropServices;
using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>
/// tracefs and bpffs: BPF tracepoints need tracefs (event ids and formats), pinning needs bpffs. Neither is
/// mounted on a fresh minimal machine; <see cref="EnsureTracefs"/> and <see cref="EnsureBpffs"/> mount them and
/// report that they did (via the return value and <see cref="Notice"/>).
/// </summary>
public static class SpecialFileSystems
{
    /// <summary>The standard tracefs mount point.</summary>
    public const string TracefsPath = "/sys/kernel/tracing";

    /// <summary>The standard bpffs mount point.</summary>
    public const string BpffsPath = "/sys/fs/bpf";

    /// <summary>Raised with a human-readable line whenever this class mounts something.</summary>
    public static event Action<string>? Notice;

    private static readonly List<string> Mounted = [];

    /// <summary>Mount points this process mounted with <see cref="EnsureTracefs"/> / <see cref="EnsureBpffs"/> (for cleanup).</summary>
    public static IReadOnlyList<string> MountedByThisProcess
    {
        get
        {
            lock (Gate)
                return [.. Mounted];
        }
    }

    /// <summary>Whether a file system of <paramref name="fsType"/> is mounted exactly at <paramref name="path"/> (per /proc/self/mounts).</summary>
    public static bool IsMounted(string path, string fsType)
    {
        if (!File.Exists("/proc/self/mounts"))
            return false;
        foreach (string line in File.ReadLines("/proc/self/mounts"))
        {
            string[] f = line.Split(' ');
            if (f.Length >= 3 && f[1] == path && f[2] == fsType)
                return true;
        }
        return false;
    }

    /// <summary>Mounts tracefs at /sys/kernel/tracing if needed. Returns true if this call mounted it.</summary>
    public static bool EnsureTracefs() => Ensure(TracefsPath, "tracefs");

    /// <summary>Mounts bpffs at /sys/fs/bpf if needed. Returns true if this call mounted it.</summary>
    public static bool EnsureBpffs() => Ensure(BpffsPath, "bpf");

    /// <summary>
    /// Mounts a private bpffs instance at <paramref name="directory"/> (created if needed), e.g. for tests that
    /// must not touch the system's /sys/fs/bpf. Unmount with <see cref="Unmount"/>.
    /// </summary>
    public static void MountBpffs(string directory)
    {
        Directory.CreateDirectory(directory);
        DoMount(directory, "bpf");
    }

    /// <summary>Unmounts a mount point (lazy detach, so busy mounts do not fail).</summary>
    public static void Unmount(string path)
    {
        const int MntDetach = 2;
        if (LibC.Umount2(path, MntDetach) != 0)
            throw new BpfException("umount2", Marshal.GetLastPInvokeError(), path);
    }

    private static readonly Lock Gate = new();

    private static bool Ensure(string path, string fsType)
    {
        lock (Gate)
        {
            if (IsMounted(path, fsType))
                return false;
            if (!Directory.Exists(path))
                throw new BpfNotSupportedException(fsType, $"mount point {path} does not exist");
            DoMount(path, fsType);
            Mounted.Add(path);
            Notice?.Invoke($"mounted {fsType} at {path} (it was not mounted)");
            return true;
        }
    }

    private static void DoMount(string path, string fsType)
    {
        if (LibC.Mount(fsType, path, fsType, 0, 0) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errnos.ENODEV)
                throw new BpfNotSupportedException(fsType, "the kernel does not know this file system type");
            throw new BpfException("mount", errno, $"{fsType} at {path}");
        }
    }
}

/// <summary>Tracepoint metadata from tracefs: event ids and field offsets of the context record.</summary>
public static class Tracefs
{
    /// <summary>The directory of one event, mounting tracefs first if needed.</summary>
    public static string EventDirectory(string category, string name)
    {
        SpecialFileSystems.EnsureTracefs();
        string dir = Path.Combine(SpecialFileSystems.TracefsPath, "events", category, name);
        if (!Directory.Exists(dir))
            throw new BpfNotSupportedException($"tracepoint {category}:{name}", $"{dir} does not exist");
        return dir;
    }

    /// <summary>The perf event id of a tracepoint (events/CATEGORY/NAME/id).</summary>
    public static int EventId(string category, string name) =>
        int.Parse(File.ReadAllText(Path.Combine(EventDirectory(category, name), "id")).Trim());

    /// <summary>
    /// The byte offset and size of a field in the tracepoint's context record, parsed from its format file
    /// (lines like <c>field:pid_t pid;	offset:12;	size:4;	signed:1;</c>).
    /// </summary>
    public static (int Offset, int Size) Field(string category, string name, string field)
    {
        string format = File.ReadAllText(Path.Combine(EventDirectory(category, name), "format"));
        foreach (string raw in format.Split('\n'))
        {
            string line = raw.Trim();
            if (!line.StartsWith("field:", StringComparison.Ordinal))
                continue;
            string[] parts = line.Split(';', StringSplitOptions.TrimEntries);
            string decl = parts[0]["field:".Length..];
            int bracket = decl.IndexOf('[', StringComparison.Ordinal);
            string declName = (bracket >= 0 ? decl[..bracket] : decl).Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1];
            if (declName != field)
                continue;
            int offset = int.Parse(parts.First(p => p.StartsWith("offset:", StringComparison.Ordinal))["offset:".Length..]);
            int size = int.Parse(parts.First(p => p.StartsWith("size:", StringComparison.Ordinal))["size:".Length..]);
            return (offset, size);
        }
        throw new KeyNotFoundException($"Tracepoint {category}:{name} has no field '{field}'.");
    }
}
