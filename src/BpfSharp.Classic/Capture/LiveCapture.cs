using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;

namespace BpfSharp.Classic.Capture;

/// <summary>Live capture failed (no such interface, no permission, a rejected filter...).</summary>
public sealed class LiveCaptureException : Exception
{
    /// <summary>Creates the exception with the failing step and the errno it produced.</summary>
    public LiveCaptureException(string message, int errno) : base(errno == 0 ? message : $"{message}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})") => Errno = errno;

    /// <summary>The Linux errno, or 0 when the failure was not a system call.</summary>
    public int Errno { get; }
}

/// <summary>
/// Captures packets from one Linux interface through an AF_PACKET raw socket, with a classic BPF filter attached in
/// the kernel (<c>SO_ATTACH_FILTER</c>) so only matching packets reach user space.
/// </summary>
/// <remarks>
/// The filter is attached before the socket is bound to a protocol, so no unfiltered packet can be queued in between.
/// On loopback every packet is seen twice (once leaving, once arriving); like libpcap we keep only the arriving copy.
/// </remarks>
public sealed unsafe partial class LiveCapture : IDisposable
{
    private const int AfPacket = 17, SockRaw = 3, SolSocket = 1, SoAttachFilter = 26, SoRcvTimeo = 20;
    private const ushort EthPAll = 0x0003;
    private const int MsgTrunc = 0x20, Eintr = 4, Eagain = 11;
    private const byte PacketOutgoing = 4;
    private const ushort ArphrdEther = 1, ArphrdLoopback = 772, ArphrdNone = 0xfffe;

    private readonly int _fd;
    private readonly bool _isLoopback;
    private readonly byte[] _buffer = new byte[262144];

    /// <summary>Opens a capture on <paramref name="interfaceName"/> with <paramref name="filter"/> attached.</summary>
    /// <param name="interfaceName">A Linux interface name such as <c>lo</c> or <c>eth0</c>.</param>
    /// <param name="filter">A program compiled for <see cref="LinkTypeOf"/> of the interface; it must pass
    /// <see cref="CbpfValidator"/>.</param>
    /// <exception cref="LiveCaptureException">The interface does not exist, the caller lacks CAP_NET_RAW, or the
    /// kernel rejected the filter.</exception>
    public LiveCapture(string interfaceName, ReadOnlySpan<CbpfInstruction> filter)
    {
        ArgumentNullException.ThrowIfNull(interfaceName);
        CbpfValidator.Validate(filter);
        LinkType = LinkTypeOf(interfaceName, out ushort hardwareType);
        _isLoopback = hardwareType == ArphrdLoopback;
        uint index = if_nametoindex(interfaceName);
        if (index == 0)
            throw new LiveCaptureException($"interface '{interfaceName}'", Marshal.GetLastPInvokeError());

        // Protocol 0: the socket receives nothing until bound, so the filter is in place before the first packet.
        _fd = socket(AfPacket, SockRaw, 0);
        if (_fd < 0)
            throw new LiveCaptureException("socket(AF_PACKET)", Marshal.GetLastPInvokeError());
        try
        {
            var slots = new ulong[filter.Length];
            for (int i = 0; i < filter.Length; i++)
                slots[i] = filter[i].Code | (ulong)filter[i].Jt << 16 | (ulong)filter[i].Jf << 24 | (ulong)filter[i].K << 32;
            fixed (ulong* code = slots)
            {
                var prog = new SockFprog { Length = (ushort)filter.Length, Filter = code };
                if (setsockopt(_fd, SolSocket, SoAttachFilter, &prog, (uint)sizeof(SockFprog)) != 0)
                    throw new LiveCaptureException("setsockopt(SO_ATTACH_FILTER)", Marshal.GetLastPInvokeError());
            }
            var address = new SockaddrLl { Family = AfPacket, Protocol = BinaryPrimitives.ReverseEndianness(EthPAll), InterfaceIndex = (int)index };
            if (bind(_fd, &address, (uint)sizeof(SockaddrLl)) != 0)
                throw new LiveCaptureException($"bind to '{interfaceName}'", Marshal.GetLastPInvokeError());
        }
        catch
        {
            close(_fd);
            throw;
        }
    }

    /// <summary>The link type of the captured frames.</summary>
    public LinkType LinkType { get; }

    /// <summary>The link type tcpdump would use for <paramref name="interfaceName"/>, read from sysfs.</summary>
    /// <exception cref="LiveCaptureException">No such interface, or a hardware type we cannot filter.</exception>
    public static LinkType LinkTypeOf(string interfaceName, out ushort hardwareType)
    {
        ArgumentNullException.ThrowIfNull(interfaceName);
        string path = $"/sys/class/net/{interfaceName}/type";
        if (interfaceName.Contains('/', StringComparison.Ordinal) || !File.Exists(path))
            throw new LiveCaptureException($"no such interface '{interfaceName}'", 0);
        hardwareType = ushort.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);
        return hardwareType switch
        {
            ArphrdEther or ArphrdLoopback => LinkType.Ethernet,
            ArphrdNone => LinkType.Raw,
            _ => throw new LiveCaptureException($"interface '{interfaceName}' has hardware type {hardwareType}, which has no supported link type", 0),
        };
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the next packet the filter accepted.
    /// </summary>
    /// <returns>False when the timeout passed with no packet.</returns>
    /// <remarks>The packet's data is a fresh copy, truncated to the filter's verdict as the kernel does.</remarks>
    public bool TryReceive(TimeSpan timeout, out CapturedPacket packet)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                packet = default;
                return false;
            }
            // Never zero: a zero SO_RCVTIMEO means "block forever".
            long micros = Math.Max(1000, (long)left.TotalMicroseconds);
            var tv = new Timeval { Seconds = micros / 1_000_000, Microseconds = micros % 1_000_000 };
            if (setsockopt(_fd, SolSocket, SoRcvTimeo, &tv, (uint)sizeof(Timeval)) != 0)
                throw new LiveCaptureException("setsockopt(SO_RCVTIMEO)", Marshal.GetLastPInvokeError());
            SockaddrLl from;
            uint fromLength = (uint)sizeof(SockaddrLl);
            long got;
            fixed (byte* buffer = _buffer)
                got = recvfrom(_fd, buffer, (nuint)_buffer.Length, MsgTrunc, &from, &fromLength);
            if (got < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Eagain or Eintr)
                    continue;
                throw new LiveCaptureException("recvfrom", errno);
            }
            if (_isLoopback && from.PacketType == PacketOutgoing)
                continue;
            long now = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
            int captured = (int)Math.Min(got, _buffer.Length);
            packet = new CapturedPacket(_buffer.AsSpan(0, captured).ToArray(), (uint)got, now, from.InterfaceIndex, LinkType);
            return true;
        }
    }

    /// <summary>Closes the socket.</summary>
    public void Dispose() => close(_fd);

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public ulong* Filter;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int InterfaceIndex;
        public ushort HardwareType;
        public byte PacketType;
        public byte AddressLength;
        public ulong Address;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timeval
    {
        public long Seconds;
        public long Microseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, SockaddrLl* address, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long recvfrom(int fd, byte* buffer, nuint length, int flags, SockaddrLl* from, uint* fromLength);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint if_nametoindex(string name);
}
