using System.Runtime.InteropServices;

namespace BpfSharp.Linux.Native;

/// <summary>
/// The handful of libc entry points the kernel backend needs, bound with source-generated P/Invoke.
/// Every call that can fail sets errno, read back with <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    // syscall(2) is variadic in C; on x86-64 and arm64 Linux, integer arguments of a variadic call travel in the
    // same registers as a fixed-arity call, and glibc's syscall() does not read %al, so a fixed signature is sound.
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall3(long number, long a1, long a2, long a3);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    internal static partial long Syscall5(long number, long a1, long a2, long a3, long a4, long a5);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport(Lib, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(nint addr, nuint length);

    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, nint arg);

    [LibraryImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Lib, EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial int EpollCreate1(int flags);

    [LibraryImport(Lib, EntryPoint = "epoll_ctl", SetLastError = true)]
    internal static partial int EpollCtl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Lib, EntryPoint = "epoll_wait", SetLastError = true)]
    internal static partial int EpollWait(int epfd, EpollEvent* events, int maxEvents, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initval, int flags);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, void* buf, nuint count);

    [LibraryImport(Lib, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Mount(string source, string target, string fsType, ulong flags, nint data);

    [LibraryImport(Lib, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Umount2(string target, int flags);

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "setns", SetLastError = true)]
    internal static partial int SetNs(int fd, int nsType);

    [LibraryImport(Lib, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial uint IfNameToIndex(string name);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    internal static partial uint GetEuid();

    [LibraryImport(Lib, EntryPoint = "getpid")]
    internal static partial int GetPid();

    [LibraryImport(Lib, EntryPoint = "get_nprocs_conf")]
    internal static partial int GetNprocsConf();

    [LibraryImport(Lib, EntryPoint = "sysconf")]
    internal static partial long SysConf(int name);

    [LibraryImport(Lib, EntryPoint = "strerror")]
    internal static partial nint StrError(int errnum);

    internal const int ProtRead = 1, ProtWrite = 2;
    internal const int MapShared = 1;
    internal static readonly nint MapFailed = -1;
    internal const int OCloexec = 0x80000, ORdonly = 0;
    internal const int EpollCloexec = 0x80000;
    internal const int EpollCtlAdd = 1;
    internal const uint EpollIn = 1;
    internal const int EfdCloexec = 0x80000, EfdNonblock = 0x800;
    internal const int ClonNewNet = 0x40000000;
    internal const int ScPageSize = 30;

    /// <summary>struct epoll_event: packed on x86-64 (12 bytes), naturally aligned (16 bytes) elsewhere.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    /// <summary>The text of an errno value, as strerror(3) gives it.</summary>
    internal static string ErrnoText(int errno)
    {
        nint p = StrError(errno);
        return p == 0 ? $"errno {errno}" : Marshal.PtrToStringUTF8(p) ?? $"errno {errno}";
    }

    /// <summary>The system page size.</summary>
    internal static int PageSize => (int)SysConf(ScPageSize);
}
