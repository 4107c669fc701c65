using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BpfSharp.Runtime.Contexts;

/// <summary>
/// A packet and the program context around it (<c>xdp_md</c> or <c>__sk_buff</c>), in native memory with head- and
/// tailroom so that <c>xdp_adjust_head/tail/meta</c> work as in the kernel. Reuse one per thread: loading a packet
/// copies it and allocates nothing.
/// </summary>
public sealed unsafe class PacketContext : IDisposable
{
    /// <summary>Headroom before the packet (the kernel's XDP_PACKET_HEADROOM).</summary>
    public const int Headroom = 256;

    /// <summary>Smallest packet the adjust helpers leave (ETH_HLEN).</summary>
    public const int MinimumLength = 14;

    private readonly int _bufferSize;
    private readonly MemoryRegion[] _regions = new MemoryRegion[3];
    private readonly int[] _pointerOffsets;   // runtime offsets of data, data_end, data_meta (-1: absent)
    private readonly int[] _uapiOffsets;
    private byte* _buffer;
    private byte* _ctx;
    private ulong _data, _dataEnd, _dataMeta;

    /// <summary>Creates a context for packets of up to <paramref name="maxPacketLength"/> bytes (plus tailroom).</summary>
    public PacketContext(ContextLayout layout, int maxPacketLength = 4096, int tailroom = 256)
    {
        ArgumentNullException.ThrowIfNull(layout);
        Layout = layout;
        MaxPacketLength = maxPacketLength;
        _bufferSize = Headroom + maxPacketLength + tailroom;
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)_bufferSize, 64);
        _ctx = (byte*)NativeMemory.AlignedAlloc((nuint)layout.RuntimeSize, 64);
        NativeMemory.Clear(_buffer, (nuint)_bufferSize);
        NativeMemory.Clear(_ctx, (nuint)layout.RuntimeSize);
        _pointerOffsets = [-1, -1, -1];
        _uapiOffsets = [-1, -1, -1];
        foreach (var f in layout.PointerFields)
        {
            int slot = f.Name switch { "data" => 0, "data_end" => 1, _ => 2 };
            _pointerOffsets[slot] = f.RuntimeOffset;
            _uapiOffsets[slot] = f.UapiOffset;
        }
    }

    /// <summary>The context layout (XDP or socket buffer).</summary>
    public ContextLayout Layout { get; }

    /// <summary>Largest packet <see cref="Load"/> accepts.</summary>
    public int MaxPacketLength { get; }

    /// <summary>Address of the runtime context struct (the program's r1).</summary>
    public ulong ContextAddress => (ulong)_ctx;

    /// <summary>Address of the first packet byte.</summary>
    public ulong Data => _data;

    /// <summary>One past the last packet byte.</summary>
    public ulong DataEnd => _dataEnd;

    /// <summary>Start of the metadata area before the packet (equal to <see cref="Data"/> when empty).</summary>
    public ulong DataMeta => _dataMeta;

    /// <summary>The packet as the program left it.</summary>
    public ReadOnlySpan<byte> Packet => new((void*)Data, (int)(DataEnd - Data));

    /// <summary>The packet as the program left it, writable (for the host).</summary>
    public Span<byte> PacketSpan => new((void*)Data, (int)(DataEnd - Data));

    /// <summary>Copies a packet in (data = data_meta = buffer + headroom) and resets the uapi fields to zero.</summary>
    public void Load(ReadOnlySpan<byte> packet)
    {
        if (packet.Length > MaxPacketLength)
            throw new ArgumentException($"packet of {packet.Length} bytes exceeds this context's {MaxPacketLength}", nameof(packet));
        byte* data = _buffer + Headroom;
        packet.CopyTo(new Span<byte>(data, packet.Length));
        NativeMemory.Clear(_ctx, (nuint)Layout.UapiSize);
        SetPointers((ulong)data, (ulong)(data + packet.Length), (ulong)data);
        if (Layout == ContextLayout.SkBuff) WriteU32(ContextLayout.SkBuffOffsets.Len, (uint)packet.Length);
    }

    /// <summary>Writes a 32-bit uapi field (ifindex, mark, protocol...).</summary>
    public void WriteU32(int uapiOffset, uint value)
    {
        if (uapiOffset < 0 || uapiOffset + 4 > Layout.UapiSize || Layout.FieldAt(uapiOffset) is not null)
            throw new ArgumentOutOfRangeException(nameof(uapiOffset), $"{uapiOffset} is not a scalar field of {Layout.Name}");
        Unsafe.WriteUnaligned(_ctx + uapiOffset, value);
    }

    /// <summary>Reads a 32-bit uapi field.</summary>
    public uint ReadU32(int uapiOffset)
    {
        if (uapiOffset < 0 || uapiOffset + 4 > Layout.UapiSize)
            throw new ArgumentOutOfRangeException(nameof(uapiOffset));
        return Unsafe.ReadUnaligned<uint>(_ctx + uapiOffset);
    }

    /// <summary>Grants the program the context and the packet and makes this context the helpers' host state.</summary>
    public void Prepare(RunContext run)
    {
        ArgumentNullException.ThrowIfNull(run);
        run.HostState = this;
        _regions[0] = new MemoryRegion((ulong)_ctx, (ulong)Layout.UapiSize, RegionKind.Context, Layout.UapiWritable);
        _regions[1] = new MemoryRegion((ulong)_ctx + (ulong)Layout.UapiSize, (ulong)(Layout.RuntimeSize - Layout.UapiSize), RegionKind.Context, false);
        _regions[2] = PacketRegion();
        run.SetRegions(_regions);
        run.PacketStart = Data;
        run.PacketLength = DataEnd - Data;
    }

    private MemoryRegion PacketRegion() => new(DataMeta, DataEnd - DataMeta, RegionKind.Packet, true);

    /// <summary>bpf_xdp_adjust_head: moves the packet start by <paramref name="delta"/>; 0 or -EINVAL.</summary>
    public long AdjustHead(RunContext run, long delta)
    {
        ulong data = Data + (ulong)delta, meta = DataMeta;
        ulong metaLength = Data - meta;
        if (data - metaLength < (ulong)_buffer || data > DataEnd - MinimumLength || delta is > int.MaxValue or < int.MinValue)
            return -Errno.EINVAL;
        SetPointers(data, DataEnd, data - metaLength);
        if (metaLength > 0) Buffer.MemoryCopy((void*)meta, (void*)(data - metaLength), metaLength, metaLength);
        Regrant(run);
        return 0;
    }

    /// <summary>bpf_xdp_adjust_tail: moves the packet end by <paramref name="delta"/>; 0 or -EINVAL.</summary>
    public long AdjustTail(RunContext run, long delta)
    {
        ulong end = DataEnd + (ulong)delta;
        if (end < Data + MinimumLength || end > (ulong)_buffer + (ulong)_bufferSize || delta is > int.MaxValue or < int.MinValue)
            return -Errno.EINVAL;
        if (delta > 0) NativeMemory.Clear((void*)DataEnd, (nuint)delta);
        SetPointers(Data, end, DataMeta);
        Regrant(run);
        return 0;
    }

    /// <summary>bpf_xdp_adjust_meta: moves the metadata start by <paramref name="delta"/>; 0 or -EINVAL.</summary>
    public long AdjustMeta(RunContext run, long delta)
    {
        ulong meta = DataMeta + (ulong)delta;
        if (meta < (ulong)_buffer || meta > Data || Data - meta > 32 || (Data - meta) % 4 != 0)
            return -Errno.EINVAL;
        SetPointers(Data, DataEnd, meta);
        Regrant(run);
        return 0;
    }

    private void Regrant(RunContext run)
    {
        run.ReplaceRegion(2, PacketRegion());
        run.PacketStart = Data;
        run.PacketLength = DataEnd - Data;
    }

    private void SetPointers(ulong data, ulong dataEnd, ulong dataMeta)
    {
        _data = data;
        _dataEnd = dataEnd;
        _dataMeta = dataMeta;
        Write(0, data);
        Write(1, dataEnd);
        Write(2, dataMeta);
    }

    private void Write(int slot, ulong value)
    {
        if (_pointerOffsets[slot] < 0) return;
        Unsafe.WriteUnaligned(_ctx + _pointerOffsets[slot], value);
        // The uapi copy holds the low bits, as a 32-bit read of the kernel's field would.
        Unsafe.WriteUnaligned(_ctx + _uapiOffsets[slot], (uint)value);
    }

    /// <summary>Frees the native memory.</summary>
    public void Dispose()
    {
        if (_buffer != null) { NativeMemory.AlignedFree(_buffer); _buffer = null; }
        if (_ctx != null) { NativeMemory.AlignedFree(_ctx); _ctx = null; }
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the native memory if <see cref="Dispose"/> was not called.</summary>
    ~PacketContext() => Dispose();
}

/// <summary>Linux errno values helpers return negated.</summary>
public static class Errno
{
    /// <summary>No such entry.</summary>
    public const int ENOENT = 2;
    /// <summary>Argument list too long (map full).</summary>
    public const int E2BIG = 7;
    /// <summary>Out of memory.</summary>
    public const int ENOMEM = 12;
    /// <summary>Bad address.</summary>
    public const int EFAULT = 14;
    /// <summary>Busy.</summary>
    public const int EBUSY = 16;
    /// <summary>Exists.</summary>
    public const int EEXIST = 17;
    /// <summary>Invalid argument.</summary>
    public const int EINVAL = 22;
    /// <summary>Not supported.</summary>
    public const int EOPNOTSUPP = 95;
}
