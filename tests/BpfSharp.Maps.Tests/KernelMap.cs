using BpfSharp.Isa;
using System.Runtime.InteropServices;
using BpfSharp.Maps;

namespace BpfSharp.Maps.Tests;

/// <summary>
/// A real kernel map through the bpf() syscall, for differential tests only (the Linux backend proper is
/// another project). Every call returns the kernel's errno (0 on success).
/// </summary>
internal sealed unsafe class KernelMap : IDisposable
{
    private const int BPF_MAP_CREATE = 0, BPF_MAP_LOOKUP_ELEM = 1, BPF_MAP_UPDATE_ELEM = 2, BPF_MAP_DELETE_ELEM = 3,
        BPF_MAP_GET_NEXT_KEY = 4, BPF_MAP_LOOKUP_AND_DELETE_ELEM = 21, BPF_MAP_FREEZE = 22;

    [DllImport("libc", SetLastError = true, EntryPoint = "syscall")]
    private static extern long Syscall(long number, long cmd, void* attr, long size);

    [DllImport("libc", SetLastError = true, EntryPoint = "close")]
    private static extern int Close(int fd);

    private static long SyscallNumber => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 321,
        Architecture.Arm64 => 280,
        _ => -1,
    };

    private static readonly Lazy<string?> s_unavailable = new(Probe);

    /// <summary>Null when bpf() works here, else why not.</summary>
    public static string? Unavailable => s_unavailable.Value;

    /// <summary>Number of possible CPUs (the kernel's per-CPU value count).</summary>
    public static int PossibleCpus { get; } = ReadPossibleCpus();

    public int Fd { get; }
    public MapSpec Spec { get; }

    private KernelMap(int fd, MapSpec spec) { Fd = fd; Spec = spec; }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (SyscallNumber < 0) return "unsupported architecture for the bpf() syscall number";
        int e = TryCreate(new MapSpec("probe", BpfMapType.Array, 4, 4, 1), out var m);
        if (e != 0) return $"bpf(BPF_MAP_CREATE) failed with errno {e} (need root or CAP_BPF)";
        m!.Dispose();
        return null;
    }

    private static int ReadPossibleCpus()
    {
        try
        {
            var text = File.ReadAllText("/sys/devices/system/cpu/possible").Trim();
            int count = 0;
            foreach (var part in text.Split(','))
            {
                var r = part.Split('-');
                count += r.Length == 1 ? 1 : int.Parse(r[1]) - int.Parse(r[0]) + 1;
            }
            return count;
        }
        catch (IOException) { return Environment.ProcessorCount; }
    }

    private static int Call(int cmd, byte* attr, int size)
    {
        long rc = Syscall(SyscallNumber, cmd, attr, size);
        return rc < 0 ? -Marshal.GetLastPInvokeError() : (int)rc;
    }

    /// <summary>Creates a kernel map; returns 0 or the errno.</summary>
    public static int TryCreate(MapSpec spec, out KernelMap? map, int innerFd = 0)
    {
        byte* attr = stackalloc byte[128];
        new Span<byte>(attr, 128).Clear();
        ((uint*)attr)[0] = (uint)spec.Type;
        ((uint*)attr)[1] = spec.KeySize;
        ((uint*)attr)[2] = spec.ValueSize;
        ((uint*)attr)[3] = spec.MaxEntries;
        ((uint*)attr)[4] = (uint)spec.Flags;
        ((uint*)attr)[5] = (uint)innerFd;
        int rc = Call(BPF_MAP_CREATE, attr, 128);
        map = rc >= 0 ? new KernelMap(rc, spec) : null;
        return rc >= 0 ? 0 : -rc;
    }

    private int ElemOp(int cmd, ReadOnlySpan<byte> key, Span<byte> valueOrNext, ulong flags, bool nullKey = false)
    {
        byte* attr = stackalloc byte[32];
        new Span<byte>(attr, 32).Clear();
        fixed (byte* k = key)
        fixed (byte* v = valueOrNext)
        {
            *(uint*)attr = (uint)Fd;
            *(ulong*)(attr + 8) = nullKey || key.IsEmpty ? 0 : (ulong)k;
            *(ulong*)(attr + 16) = valueOrNext.IsEmpty ? 0 : (ulong)v;
            *(ulong*)(attr + 24) = flags;
            int rc = Call(cmd, attr, 32);
            return rc < 0 ? -rc : 0;
        }
    }

    public int Lookup(ReadOnlySpan<byte> key, Span<byte> value) => ElemOp(BPF_MAP_LOOKUP_ELEM, key, value, 0);

    public int Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong flags)
    {
        fixed (byte* v = value)
            return ElemOp(BPF_MAP_UPDATE_ELEM, key, new Span<byte>(v, value.Length), flags);
    }

    public int Delete(ReadOnlySpan<byte> key) => ElemOp(BPF_MAP_DELETE_ELEM, key, default, 0);

    /// <summary>An empty key means NULL (first key).</summary>
    public int GetNextKey(ReadOnlySpan<byte> key, Span<byte> next) => ElemOp(BPF_MAP_GET_NEXT_KEY, key, next, 0, nullKey: key.IsEmpty);

    public int LookupAndDelete(ReadOnlySpan<byte> key, Span<byte> value) => ElemOp(BPF_MAP_LOOKUP_AND_DELETE_ELEM, key, value, 0);

    /// <summary>The kernel's id of this map (BPF_OBJ_GET_INFO_BY_FD), or -errno.</summary>
    public int KernelId()
    {
        byte* info = stackalloc byte[128];
        new Span<byte>(info, 128).Clear();
        byte* attr = stackalloc byte[16];
        *(uint*)attr = (uint)Fd;
        *(uint*)(attr + 4) = 128;
        *(ulong*)(attr + 8) = (ulong)info;
        int rc = Call(15, attr, 16); // BPF_OBJ_GET_INFO_BY_FD
        return rc < 0 ? rc : (int)((uint*)info)[1]; // struct bpf_map_info: type, id, ...
    }

    public int Freeze()
    {
        byte* attr = stackalloc byte[8];
        *(ulong*)attr = 0;
        *(uint*)attr = (uint)Fd;
        int rc = Call(BPF_MAP_FREEZE, attr, 8);
        return rc < 0 ? -rc : 0;
    }

    public void Dispose() => _ = Close(Fd);
}
