using System.Buffers.Binary;
using System.Net;

namespace BpfSharp.Linux.Tools;

/// <summary>What the XDP program knows about one IPv4 source.</summary>
/// <param name="Address">Source address.</param>
/// <param name="TotalPackets">Packets seen from it since it was first seen (or its LRU entry was evicted).</param>
/// <param name="WindowPackets">Packets in the current rate window.</param>
/// <param name="AverageGapMicroseconds">Moving average (weight 1/8) of the time between its packets.</param>
/// <param name="Dropped">Packets dropped for exceeding the rate.</param>
/// <param name="Alerts">Windows in which it crossed the threshold.</param>
public sealed record DdosSource(IPAddress Address, ulong TotalPackets, ulong WindowPackets, double AverageGapMicroseconds, ulong Dropped, ulong Alerts);

/// <summary>Totals over all sources.</summary>
/// <param name="Passed">Packets passed to the stack.</param>
/// <param name="Dropped">Packets dropped.</param>
/// <param name="Alerts">Source/window pairs that crossed the threshold.</param>
public readonly record struct DdosStats(ulong Passed, ulong Dropped, ulong Alerts);

/// <summary>
/// ddos: an XDP program on one interface that tracks per-source IPv4 packet rate and inter-arrival time, drops a
/// source's packets once it sends more than <c>maxPackets</c> within a window, and counts an alert the first time
/// it does so in each window. Non-IPv4 traffic passes untouched. Per-source updates are not atomic across CPUs
/// (an approximation that errs by a few packets under contention, as rate limiters of this kind accept).
/// </summary>
public sealed class DdosDetector : IDisposable
{
    private const int StateSize = 56;
    private readonly KernelObject _object;
    private readonly BpfLink _link;

    private DdosDetector(KernelObject obj, BpfLink link)
    {
        _object = obj;
        _link = link;
    }

    /// <summary>
    /// Loads the program, sets the threshold and attaches it to <paramref name="ifindex"/> (in the calling
    /// thread's network namespace).
    /// </summary>
    /// <param name="ifindex">Interface index.</param>
    /// <param name="maxPackets">Packets a source may send per window before it is dropped.</param>
    /// <param name="window">Window length (default 1 s).</param>
    /// <param name="mode">XDP attach mode.</param>
    public static DdosDetector Start(int ifindex, ulong maxPackets = 1000, TimeSpan? window = null, XdpMode mode = XdpMode.Default)
    {
        if (maxPackets == 0) throw new ArgumentOutOfRangeException(nameof(maxPackets), "must be at least 1");
        var windowLength = window ?? TimeSpan.FromSeconds(1);
        if (windowLength <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(window), windowLength, "must be positive");
        var obj = KernelObject.Load(ToolObjects.Load("ddos"));
        try
        {
            var config = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(config, maxPackets);
            BinaryPrimitives.WriteUInt64LittleEndian(config.AsSpan(8), (ulong)windowLength.Ticks * 100);
            obj.Map("config").Update(new byte[4], config);
            var link = obj.Program("ddos").AttachXdp(ifindex, mode);
            return new DdosDetector(obj, link);
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Totals since the program was loaded.</summary>
    public DdosStats Stats()
    {
        var map = _object.Map("stats");
        ulong Read(uint k) => map.TryLookup(k, out ulong v) ? v : 0;
        return new DdosStats(Read(0), Read(1), Read(2));
    }

    /// <summary>Every tracked source.</summary>
    public IReadOnlyList<DdosSource> Sources()
    {
        var list = new List<DdosSource>();
        foreach (var (key, value) in _object.Map("sources").Entries())
        {
            if (value.Length < StateSize) continue;
            var v = value.AsSpan();
            list.Add(new DdosSource(
                new IPAddress(key.AsSpan(0, 4)),
                BinaryPrimitives.ReadUInt64LittleEndian(v[32..]),
                BinaryPrimitives.ReadUInt64LittleEndian(v[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(v[24..]) / 1000.0,
                BinaryPrimitives.ReadUInt64LittleEndian(v[40..]),
                BinaryPrimitives.ReadUInt64LittleEndian(v[48..])));
        }
        return list;
    }

    /// <summary>Detaches the program and closes everything.</summary>
    public void Dispose()
    {
        _link.Dispose();
        _object.Dispose();
    }
}
