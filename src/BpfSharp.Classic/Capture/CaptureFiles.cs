using System.Buffers.Binary;

namespace BpfSharp.Classic.Capture;

/// <summary>A capture file that is not well-formed; names the byte offset and what was wrong.</summary>
public sealed class CaptureFormatException : Exception
{
    /// <summary>Creates the error at file offset <paramref name="offset"/>.</summary>
    public CaptureFormatException(long offset, string message) : base($"offset {offset}: {message}") => Offset = offset;

    /// <summary>Byte offset in the file where the problem was found.</summary>
    public long Offset { get; }
}

/// <summary>
/// One packet read from a capture file. <see cref="Data"/> aliases the reader's buffer and stays valid only until
/// the next read (this keeps reading allocation-free); copy it to keep it.
/// </summary>
public readonly struct CapturedPacket
{
    /// <summary>Creates a packet view.</summary>
    public CapturedPacket(ReadOnlyMemory<byte> data, uint originalLength, long timestampNanoseconds, int interfaceIndex, LinkType linkType)
    {
        Data = data;
        OriginalLength = originalLength;
        TimestampNanoseconds = timestampNanoseconds;
        InterfaceIndex = interfaceIndex;
        LinkType = linkType;
    }

    /// <summary>The captured bytes (possibly fewer than were on the wire).</summary>
    public ReadOnlyMemory<byte> Data { get; }
    /// <summary>Length of the packet on the wire.</summary>
    public uint OriginalLength { get; }
    /// <summary>Capture time in nanoseconds since the Unix epoch.</summary>
    public long TimestampNanoseconds { get; }
    /// <summary>Interface the packet was captured on (always 0 for pcap).</summary>
    public int InterfaceIndex { get; }
    /// <summary>Link-layer header type of <see cref="Data"/>.</summary>
    public LinkType LinkType { get; }

    /// <summary>The capture time as a UTC date (microsecond precision is kept; ticks are 100 ns).</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch.AddTicks(TimestampNanoseconds / 100);
}

/// <summary>Streams packets out of a pcap or pcapng file with constant memory.</summary>
public abstract class CaptureReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private byte[] _buffer = new byte[65536];
    private long _position;

    /// <summary>Wraps <paramref name="stream"/>; its current position is the start of the file.</summary>
    protected CaptureReader(Stream stream, bool leaveOpen)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Bytes consumed so far (for progress reporting).</summary>
    public long Position => _position;

    /// <summary>The file size when the stream knows it, else null.</summary>
    public long? Length => _stream.CanSeek ? _stream.Length : null;

    /// <summary>Reads the next packet; false at the clean end of the file.</summary>
    /// <exception cref="CaptureFormatException">The file is malformed or truncated mid-record.</exception>
    public abstract bool TryReadNext(out CapturedPacket packet);

    /// <summary>Opens a pcap or pcapng stream, choosing the format from its first four bytes.</summary>
    public static CaptureReader Open(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> magic = stackalloc byte[4];
        int got = ReadFully(stream, magic);
        if (got < 4)
            throw new CaptureFormatException(0, "file is shorter than a capture file header");
        uint m = BinaryPrimitives.ReadUInt32LittleEndian(magic);
        if (m == 0x0a0d0d0a)
            return new PcapNgReader(stream, leaveOpen, magic);
        return new PcapReader(stream, leaveOpen, magic);
    }

    /// <summary>Opens a capture file by path.</summary>
    public static CaptureReader Open(string path) =>
        Open(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan));

    private protected static int ReadFully(Stream s, Span<byte> dest)
    {
        int total = 0;
        while (total < dest.Length)
        {
            int n = s.Read(dest[total..]);
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    /// <summary>Reads exactly <paramref name="dest"/>.Length bytes; returns false only at a clean end (0 bytes).</summary>
    private protected bool ReadExact(Span<byte> dest, string what)
    {
        long start = _position;
        int got = ReadFully(_stream, dest);
        _position += got;
        if (got == 0 && dest.Length > 0)
            return false;
        if (got < dest.Length)
            throw new CaptureFormatException(start, $"file ends inside {what} ({got} of {dest.Length} bytes)");
        return true;
    }

    private protected void Advance(long count) => _position += count;

    /// <summary>Returns the internal buffer with at least <paramref name="size"/> bytes, filled from the stream.</summary>
    private protected byte[] ReadBody(int size, string what)
    {
        if (_buffer.Length < size)
            _buffer = new byte[Math.Max(size, _buffer.Length * 2)];
        if (size > 0 && !ReadExact(_buffer.AsSpan(0, size), what))
            throw new CaptureFormatException(_position, $"file ends before {what}");
        return _buffer;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes the stream unless it was to be left open.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing && !_leaveOpen)
            _stream.Dispose();
    }
}

/// <summary>Reads classic pcap files: either byte order, microsecond or nanosecond timestamps.</summary>
public sealed class PcapReader : CaptureReader
{
    private const int MaxRecord = 256 * 1024 * 1024;
    private readonly bool _bigEndian;
    private readonly bool _nanos;

    internal PcapReader(Stream stream, bool leaveOpen, ReadOnlySpan<byte> magic) : base(stream, leaveOpen)
    {
        uint le = BinaryPrimitives.ReadUInt32LittleEndian(magic);
        (_bigEndian, _nanos) = le switch
        {
            0xa1b2c3d4 => (false, false),
            0xa1b23c4d => (false, true),
            0xd4c3b2a1 => (true, false),
            0x4d3cb2a1 => (true, true),
            _ => throw new CaptureFormatException(0, $"unknown capture file magic 0x{le:x8}"),
        };
        Span<byte> header = stackalloc byte[20];
        Advance(4);
        if (!ReadExact(header, "the pcap file header"))
            throw new CaptureFormatException(4, "file ends inside the pcap file header");
        ushort major = U16(header);
        if (major != 2)
            throw new CaptureFormatException(4, $"unsupported pcap version {major}.{U16(header[2..])}");
        SnapLength = U32(header[12..]);
        LinkType = (LinkType)(U32(header[16..]) & 0x03ffffff);
    }

    /// <summary>Snapshot length recorded in the header.</summary>
    public uint SnapLength { get; }

    /// <summary>Link type of every packet in the file.</summary>
    public LinkType LinkType { get; }

    /// <summary>True when timestamps are in nanoseconds.</summary>
    public bool NanosecondTimestamps => _nanos;

    private ushort U16(ReadOnlySpan<byte> b) => _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);
    private uint U32(ReadOnlySpan<byte> b) => _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

    /// <inheritdoc/>
    public override bool TryReadNext(out CapturedPacket packet)
    {
        packet = default;
        Span<byte> rec = stackalloc byte[16];
        long at = Position;
        if (!ReadExact(rec, "a packet record header"))
            return false;
        uint sec = U32(rec), frac = U32(rec[4..]), incl = U32(rec[8..]), orig = U32(rec[12..]);
        if (incl > MaxRecord)
            throw new CaptureFormatException(at, $"packet record claims {incl} captured bytes");
        var buf = ReadBody((int)incl, "packet data");
        long ns = sec * 1_000_000_000L + (_nanos ? frac : frac * 1000L);
        packet = new CapturedPacket(buf.AsMemory(0, (int)incl), orig, ns, 0, LinkType);
        return true;
    }
}

/// <summary>Reads pcapng files: section header, interface description, enhanced and simple packet blocks
/// (several interfaces and sections, either byte order); other blocks are skipped.</summary>
public sealed class PcapNgReader : CaptureReader
{
    private const int MaxBlock = 256 * 1024 * 1024;
    private bool _bigEndian;
    private readonly List<(LinkType Link, uint SnapLength, long TicksPerSecond, long Offset)> _interfaces = new();

    internal PcapNgReader(Stream stream, bool leaveOpen, ReadOnlySpan<byte> magic) : base(stream, leaveOpen)
    {
        Advance(4);
        ReadSectionHeader(0);
    }

    /// <summary>Interfaces declared so far in the current section (link type and snapshot length).</summary>
    public IReadOnlyList<(LinkType Link, uint SnapLength)> Interfaces =>
        _interfaces.Select(i => (i.Link, i.SnapLength)).ToList();

    private uint U32(ReadOnlySpan<byte> b) => _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);
    private ushort U16(ReadOnlySpan<byte> b) => _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

    // Called with the block type already consumed.
    private void ReadSectionHeader(long blockStart)
    {
        Span<byte> head = stackalloc byte[8];
        if (!ReadExact(head, "a section header block"))
            throw new CaptureFormatException(blockStart, "file ends inside a section header block");
        uint bom = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
        _bigEndian = bom switch
        {
            0x1a2b3c4d => false,
            0x4d3c2b1a => true,
            _ => throw new CaptureFormatException(blockStart + 8, $"bad byte-order magic 0x{bom:x8}"),
        };
        uint total = U32(head);
        if (total < 28 || total % 4 != 0 || total > MaxBlock)
            throw new CaptureFormatException(blockStart + 4, $"bad section header block length {total}");
        ReadBody((int)total - 12, "section header block");
        _interfaces.Clear();
    }

    /// <inheritdoc/>
    public override bool TryReadNext(out CapturedPacket packet)
    {
        packet = default;
        Span<byte> head = stackalloc byte[8];
        while (true)
        {
            long start = Position;
            if (!ReadExact(head[..4], "a block header"))
                return false;
            uint rawType = BinaryPrimitives.ReadUInt32LittleEndian(head);
            if (rawType == 0x0a0d0d0a)
            {
                        ReadSectionHeader(start);
                continue;
            }
            if (!ReadExact(head[4..8], "a block header"))
                throw new CaptureFormatException(start, "file ends inside a block header");
            uint type = U32(head);
            uint total = U32(head[4..]);
            if (total < 12 || total % 4 != 0 || total > MaxBlock)
                throw new CaptureFormatException(start + 4, $"bad block length {total} for block type 0x{type:x}");
            int bodyLen = (int)total - 12;
            var body = ReadBody(bodyLen + 4, "block body").AsSpan(0, bodyLen + 4);
            if (U32(body[bodyLen..]) != total)
                throw new CaptureFormatException(start + total - 4, "trailing block length does not match the leading one");
            body = body[..bodyLen];
            switch (type)
            {
                case 1: // interface description
                    {
                        if (bodyLen < 8)
                            throw new CaptureFormatException(start, "interface description block too short");
                        var link = (LinkType)U16(body);
                        uint snap = U32(body[4..]);
                        long tps = 1_000_000;
                        ParseInterfaceOptions(body[8..], ref tps, start);
                        _interfaces.Add((link, snap, tps, start));
                        continue;
                    }
                case 6: // enhanced packet
                    {
                        if (bodyLen < 20)
                            throw new CaptureFormatException(start, "enhanced packet block too short");
                        int iface = (int)U32(body);
                        if (iface >= _interfaces.Count)
                            throw new CaptureFormatException(start + 8, $"packet refers to undeclared interface {iface}");
                        ulong ts = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
                        uint caplen = U32(body[12..]), orig = U32(body[16..]);
                        if (caplen > bodyLen - 20)
                            throw new CaptureFormatException(start + 20, $"captured length {caplen} exceeds the block");
                        var itf = _interfaces[iface];
                        long ns = ToNanos(ts, itf.TicksPerSecond);
                        packet = new CapturedPacket(CurrentBuffer.AsMemory(20, (int)caplen), orig, ns, iface, itf.Link);
                        return true;
                    }
                case 3: // simple packet
                    {
                        if (_interfaces.Count == 0)
                            throw new CaptureFormatException(start, "simple packet block before any interface");
                        if (bodyLen < 4)
                            throw new CaptureFormatException(start, "simple packet block too short");
                        uint orig = U32(body);
                        var itf = _interfaces[0];
                        uint cap = Math.Min(orig, (uint)(bodyLen - 4));
                        if (itf.SnapLength != 0)
                            cap = Math.Min(cap, itf.SnapLength);
                        packet = new CapturedPacket(CurrentBuffer.AsMemory(4, (int)cap), orig, 0, 0, itf.Link);
                        return true;
                    }
                case 2: // obsolete packet block
                    {
                        if (bodyLen < 20)
                            throw new CaptureFormatException(start, "packet block too short");
                        int iface = U16(body);
                        if (iface >= _interfaces.Count)
                            throw new CaptureFormatException(start + 8, $"packet refers to undeclared interface {iface}");
                        ulong ts = ((ulong)U32(body[4..]) << 32) | U32(body[8..]);
                        uint caplen = U32(body[12..]), orig = U32(body[16..]);
                        if (caplen > bodyLen - 20)
                            throw new CaptureFormatException(start + 20, $"captured length {caplen} exceeds the block");
                        var itf = _interfaces[iface];
                        packet = new CapturedPacket(CurrentBuffer.AsMemory(20, (int)caplen), orig, ToNanos(ts, itf.TicksPerSecond), iface, itf.Link);
                        return true;
                    }
                default:
                    continue; // name resolution, statistics, custom blocks...
            }
        }
    }

    private byte[] CurrentBuffer => ReadBody(0, "");

    private static long ToNanos(ulong ticks, long ticksPerSecond)
    {
        if (ticksPerSecond == 1_000_000_000)
            return (long)ticks;
        long sec = (long)(ticks / (ulong)ticksPerSecond);
        long rem = (long)(ticks % (ulong)ticksPerSecond);
        return sec * 1_000_000_000 + rem * 1_000_000_000 / ticksPerSecond;
    }

    private void ParseInterfaceOptions(ReadOnlySpan<byte> opts, ref long ticksPerSecond, long blockStart)
    {
        int p = 0;
        while (p + 4 <= opts.Length)
        {
            ushort code = U16(opts[p..]);
            ushort len = U16(opts[(p + 2)..]);
            if (code == 0)
                break;
            if (p + 4 + len > opts.Length)
                throw new CaptureFormatException(blockStart, $"interface option {code} overruns its block");
            if (code == 9 && len >= 1) // if_tsresol
            {
                byte r = opts[p + 4];
                int exp = r & 0x7f;
                if (exp > 18)
                    throw new CaptureFormatException(blockStart, $"timestamp resolution exponent {exp} is too large");
                ticksPerSecond = (r & 0x80) != 0 ? 1L << exp : (long)Math.Pow(10, exp);
            }
            p += 4 + ((len + 3) & ~3);
        }
    }
}

/// <summary>Writes classic pcap files (little-endian, microsecond or nanosecond timestamps).</summary>
public sealed class PcapWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _nanos;
    private readonly bool _leaveOpen;

    /// <summary>Writes the file header for <paramref name="linkType"/> to <paramref name="stream"/>.</summary>
    public PcapWriter(Stream stream, LinkType linkType, uint snapLength = 262144, bool nanosecondTimestamps = false, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _nanos = nanosecondTimestamps;
        _leaveOpen = leaveOpen;
        Span<byte> h = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(h, _nanos ? 0xa1b23c4du : 0xa1b2c3d4u);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], (uint)linkType);
        _stream.Write(h);
    }

    /// <summary>Appends one packet record.</summary>
    public void Write(ReadOnlySpan<byte> data, uint originalLength, long timestampNanoseconds)
    {
        Span<byte> rec = stackalloc byte[16];
        long sec = timestampNanoseconds / 1_000_000_000;
        long frac = timestampNanoseconds % 1_000_000_000;
        BinaryPrimitives.WriteUInt32LittleEndian(rec, (uint)sec);
        BinaryPrimitives.WriteUInt32LittleEndian(rec[4..], (uint)(_nanos ? frac : frac / 1000));
        BinaryPrimitives.WriteUInt32LittleEndian(rec[8..], (uint)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(rec[12..], originalLength);
        _stream.Write(rec);
        _stream.Write(data);
    }

    /// <summary>Appends a packet read from another capture.</summary>
    public void Write(in CapturedPacket packet) => Write(packet.Data.Span, packet.OriginalLength, packet.TimestampNanoseconds);

    /// <inheritdoc/>
    public void Dispose()
    {
        _stream.Flush();
        if (!_leaveOpen)
            _stream.Dispose();
    }
}
