using System.Runtime.InteropServices;
using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>
/// A Linux file descriptor owned by .NET: closed exactly once when disposed or finalized.
/// Subclasses say what kind of kernel object the descriptor refers to.
/// </summary>
public abstract class FileDescriptorHandle : SafeHandle
{
    /// <summary>Wraps <paramref name="fd"/>; when <paramref name="ownsHandle"/> it is closed on dispose.</summary>
    protected FileDescriptorHandle(int fd, bool ownsHandle) : base(-1, ownsHandle) => SetHandle(fd);

    /// <inheritdoc/>
    public override bool IsInvalid => handle < 0;

    /// <summary>The descriptor number (valid only while this handle is open).</summary>
    public int Fd => (int)handle;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;

    /// <summary>Keeps the descriptor open for the duration of a system call that uses its number.</summary>
    internal Lease Borrow()
    {
        ObjectDisposedException.ThrowIf(IsClosed, this);
        bool added = false;
        DangerousAddRef(ref added);
        return new Lease(this, (int)handle);
    }

    /// <summary>A reference on an open descriptor, released on dispose.</summary>
    internal readonly struct Lease(FileDescriptorHandle owner, int fd) : IDisposable
    {
        /// <summary>The descriptor number.</summary>
        public int Fd { get; } = fd;

        /// <inheritdoc/>
        public void Dispose() => owner.DangerousRelease();
    }
}

/// <summary>A descriptor of a kernel BPF map.</summary>
public sealed class BpfMapHandle : FileDescriptorHandle
{
    /// <summary>Takes ownership of a map descriptor (e.g. one inherited or received over a socket).</summary>
    public BpfMapHandle(int fd, bool ownsHandle = true) : base(fd, ownsHandle) { }
}

/// <summary>A descriptor of a loaded kernel BPF program.</summary>
public sealed class BpfProgramHandle : FileDescriptorHandle
{
    /// <summary>Takes ownership of a program descriptor.</summary>
    public BpfProgramHandle(int fd, bool ownsHandle = true) : base(fd, ownsHandle) { }
}

/// <summary>A descriptor of a BPF link; closing the last reference to an unpinned link detaches it.</summary>
public sealed class BpfLinkHandle : FileDescriptorHandle
{
    /// <summary>Takes ownership of a link descriptor.</summary>
    public BpfLinkHandle(int fd, bool ownsHandle = true) : base(fd, ownsHandle) { }
}

/// <summary>A descriptor of kernel-loaded BTF.</summary>
public sealed class BtfHandle : FileDescriptorHandle
{
    /// <summary>Takes ownership of a BTF descriptor.</summary>
    public BtfHandle(int fd, bool ownsHandle = true) : base(fd, ownsHandle) { }
}

/// <summary>A perf event descriptor (perf_event_open), or another plain descriptor such as the stats fd.</summary>
public sealed class PerfEventHandle : FileDescriptorHandle
{
    /// <summary>Takes ownership of a perf event descriptor.</summary>
    public PerfEventHandle(int fd, bool ownsHandle = true) : base(fd, ownsHandle) { }
}
