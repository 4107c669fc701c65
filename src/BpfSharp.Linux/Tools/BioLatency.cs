namespace BpfSharp.Linux.Tools;

/// <summary>
/// A log2 latency histogram: <see cref="Counts"/>[k] counts values in [2^k, 2^(k+1)) microseconds (slot 0 also
/// holds 0 µs), as bcc's biolatency prints it.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Wraps per-slot counts.</summary>
    public LatencyHistogram(IReadOnlyList<ulong> counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        Counts = counts;
        ulong total = 0;
        foreach (ulong c in counts) total += c;
        Total = total;
    }

    /// <summary>Count per log2 slot.</summary>
    public IReadOnlyList<ulong> Counts { get; }

    /// <summary>Number of recorded latencies.</summary>
    public ulong Total { get; }

    /// <summary>Lower bound of slot <paramref name="slot"/> in µs.</summary>
    public static ulong SlotLow(int slot) => slot == 0 ? 0 : 1UL << slot;

    /// <summary>Exclusive upper bound of slot <paramref name="slot"/> in µs.</summary>
    public static ulong SlotHigh(int slot) => slot >= 63 ? ulong.MaxValue : 1UL << (slot + 1);

    /// <summary>
    /// The latency below which <paramref name="percent"/>% of requests fall, in µs, interpolated linearly inside
    /// its log2 slot (the histogram keeps nothing finer). 0 when empty.
    /// </summary>
    public double Percentile(double percent)
    {
        if (percent is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(percent), percent, "between 0 and 100");
        if (Total == 0) return 0;
        double rank = percent / 100.0 * Total;
        ulong seen = 0;
        for (int k = 0; k < Counts.Count; k++)
        {
            ulong c = Counts[k];
            if (c == 0) continue;
            if (seen + c >= rank)
            {
                double within = (rank - seen) / c;
                double low = SlotLow(k), high = SlotHigh(k);
                return low + within * (high - low);
            }
            seen += c;
        }
        return SlotHigh(Counts.Count - 1);
    }
}

/// <summary>
/// biolatency: block I/O latency from block:block_rq_issue to block:block_rq_complete, summarised in the kernel as
/// a log2 histogram of microseconds. Requests are matched by (device, sector).
/// </summary>
public sealed class BioLatency : IDisposable
{
    /// <summary>Number of histogram slots.</summary>
    public const int Slots = 64;

    private readonly KernelObject _object;
    private readonly BpfLink _issue;
    private readonly BpfLink _complete;

    private BioLatency(KernelObject obj, BpfLink issue, BpfLink complete)
    {
        _object = obj;
        _issue = issue;
        _complete = complete;
    }

    /// <summary>Loads the programs and attaches them to the two block tracepoints.</summary>
    public static BioLatency Start()
    {
        var obj = KernelObject.Load(ToolObjects.Load("biolatency"));
        BpfLink? issue = null;
        try
        {
            issue = obj.Program("rq_issue").AttachTracepoint("block", "block_rq_issue");
            var complete = obj.Program("rq_complete").AttachTracepoint("block", "block_rq_complete");
            return new BioLatency(obj, issue, complete);
        }
        catch
        {
            issue?.Dispose();
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Reads the current histogram.</summary>
    public LatencyHistogram Snapshot()
    {
        var counts = new ulong[Slots];
        var map = _object.Map("hist");
        for (uint k = 0; k < Slots; k++)
            counts[k] = map.TryLookup(k, out ulong v) ? v : 0;
        return new LatencyHistogram(counts);
    }

    /// <summary>Zeroes the histogram (for interval output).</summary>
    public void Reset()
    {
        var map = _object.Map("hist");
        for (uint k = 0; k < Slots; k++) map.Update(k, 0UL);
    }

    /// <summary>Detaches and closes everything.</summary>
    public void Dispose()
    {
        _complete.Dispose();
        _issue.Dispose();
        _object.Dispose();
    }
}
