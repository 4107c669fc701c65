namespace BpfSharp.Maps;

/// <summary>
/// Linux errno values used by map operations. Program-facing operations return them negated
/// (<c>-(long)BpfErrno.ENOENT</c>), exactly as kernel helpers do.
/// </summary>
public enum BpfErrno
{
    /// <summary>Success.</summary>
    None = 0,
    /// <summary>Operation not permitted (read-only or frozen map written by the host).</summary>
    EPERM = 1,
    /// <summary>No such element.</summary>
    ENOENT = 2,
    /// <summary>Argument list too long: map full, index out of range, or a size over the limit.</summary>
    E2BIG = 7,
    /// <summary>Bad file descriptor (here: unknown map or program handle).</summary>
    EBADF = 9,
    /// <summary>Try again (ring buffer full).</summary>
    EAGAIN = 11,
    /// <summary>Out of memory.</summary>
    ENOMEM = 12,
    /// <summary>Bad address.</summary>
    EFAULT = 14,
    /// <summary>Device or resource busy (map already frozen).</summary>
    EBUSY = 16,
    /// <summary>Element already exists.</summary>
    EEXIST = 17,
    /// <summary>Invalid argument.</summary>
    EINVAL = 22,
    /// <summary>No space left (LPM trie full).</summary>
    ENOSPC = 28,
    /// <summary>Operation not supported (POSIX EOPNOTSUPP).</summary>
    EOPNOTSUPP = 95,
    /// <summary>Operation not supported (kernel-internal ENOTSUPP, 524, which bpf() returns for some map operations).</summary>
    ENOTSUPP = 524,
}

/// <summary>A map operation failed; <see cref="Errno"/> is the errno the kernel would return for the same request.</summary>
public class BpfMapException : Exception
{
    /// <summary>Creates an exception with an errno and a message naming what was wrong.</summary>
    public BpfMapException(BpfErrno errno, string message) : base($"{message} ({errno})") => Errno = errno;

    /// <summary>Creates an exception with the default message.</summary>
    public BpfMapException() : this(BpfErrno.EINVAL, "invalid map operation") { }

    /// <summary>Creates an exception with a message and errno EINVAL.</summary>
    public BpfMapException(string message) : this(BpfErrno.EINVAL, message) { }

    /// <summary>Creates an exception wrapping another.</summary>
    public BpfMapException(string message, Exception innerException) : base(message, innerException) => Errno = BpfErrno.EINVAL;

    /// <summary>The kernel errno this failure corresponds to.</summary>
    public BpfErrno Errno { get; }
}

/// <summary>Map creation was rejected by the same rule the kernel's BPF_MAP_CREATE applies.</summary>
public sealed class MapSpecException : BpfMapException
{
    /// <summary>Creates the exception.</summary>
    public MapSpecException(BpfErrno errno, string mapName, string message)
        : base(errno, $"map '{mapName}': {message}") => MapName = mapName;

    /// <summary>Creates an exception with the default message.</summary>
    public MapSpecException() : this(BpfErrno.EINVAL, "", "invalid map spec") { }

    /// <summary>Creates an exception with a message and errno EINVAL.</summary>
    public MapSpecException(string message) : this(BpfErrno.EINVAL, "", message) { }

    /// <summary>Creates an exception wrapping another.</summary>
    public MapSpecException(string message, Exception innerException) : base(message, innerException) => MapName = "";

    /// <summary>The name of the rejected map.</summary>
    public string MapName { get; }
}
