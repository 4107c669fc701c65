using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BpfSharp.Runtime;

/// <summary>
/// Per-thread execution state shared by the engines: the stack frames, the memory regions the host granted, the
/// instruction budget. Reuse one per thread across runs: nothing here allocates per run.
/// </summary>
public sealed unsafe class RunContext : IDisposable
{
    /// <summary>Bytes of stack per call frame (the eBPF limit).</summary>
    public const int FrameSize = 512;

    /// <summary>The kernel's maximum call depth (MAX_CALL_FRAMES).</summary>
    public const int DefaultMaxCallDepth = 8;

    private MemoryRegion[] _regions = new MemoryRegion[8];
    private int _fixedRegionCount;
    private int _regionCount;
    private int _lastHit;
    private byte* _stack;

    /// <summary>Creates a context with stack for <paramref name="maxCallDepth"/> frames.</summary>
    public RunContext(int maxCallDepth = DefaultMaxCallDepth)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCallDepth, 1);
        MaxCallDepth = maxCallDepth;
        StackSize = maxCallDepth * FrameSize;
        _stack = (byte*)NativeMemory.AlignedAlloc((nuint)StackSize, 64);
        NativeMemory.Clear(_stack, (nuint)StackSize);
    }

    /// <summary>Maximum nesting of local calls, including the entry frame.</summary>
    public int MaxCallDepth { get; }

    /// <summary>Total stack bytes (all frames).</summary>
    public int StackSize { get; }

    /// <summary>Lowest stack address; frame 0's r10 is <c>StackBase + StackSize</c>, deeper frames lie below.</summary>
    public ulong StackBase => (ulong)_stack;

    /// <summary>One past the highest stack address (r10 of the entry frame).</summary>
    public ulong StackTop => (ulong)_stack + (ulong)StackSize;

    /// <summary>Most instructions a run may execute before it faults with <see cref="BpfFaultKind.BudgetExceeded"/>.</summary>
    public long InstructionBudget { get; set; } = long.MaxValue;

    /// <summary>Instructions executed by the last run (set by engines that count).</summary>
    public long InstructionsExecuted { get; set; }

    /// <summary>The current CPU id that per-CPU maps and <c>get_smp_processor_id</c> see.</summary>
    public int CpuId { get; set; }

    /// <summary>Where <c>trace_printk</c> output goes (null: discarded).</summary>
    public Action<string>? TraceSink { get; set; }

    /// <summary>Arbitrary host state for helpers (the program's object, hook arguments...).</summary>
    public object? HostState { get; set; }

    /// <summary>Packet bounds for the legacy LD ABS/IND loads (0 length: none).</summary>
    public ulong PacketStart { get; set; }

    /// <summary>Packet length for the legacy LD ABS/IND loads.</summary>
    public ulong PacketLength { get; set; }

    /// <summary>The regions currently granted (fixed ones first, then those helpers granted during the run).</summary>
    public ReadOnlySpan<MemoryRegion> Regions => _regions.AsSpan(0, _regionCount);

    /// <summary>Replaces the host-granted regions for the next runs.</summary>
    public void SetRegions(ReadOnlySpan<MemoryRegion> regions)
    {
        if (_regions.Length < regions.Length) _regions = new MemoryRegion[regions.Length * 2];
        regions.CopyTo(_regions);
        _fixedRegionCount = _regionCount = regions.Length;
        _lastHit = 0;
    }

    /// <summary>Grants one more host region for the next runs.</summary>
    public void AddRegion(MemoryRegion region)
    {
        _regionCount = _fixedRegionCount;
        GrantRegion(region);
        _fixedRegionCount = _regionCount;
    }

    /// <summary>Removes all host-granted regions.</summary>
    public void ClearRegions() => _fixedRegionCount = _regionCount = _lastHit = 0;

    /// <summary>Grants a region for the rest of the current run (helpers handing out map values and the like).</summary>
    public void GrantRegion(MemoryRegion region)
    {
        for (int i = _fixedRegionCount; i < _regionCount; i++)
        {
            if (_regions[i].Start == region.Start && _regions[i].Length >= region.Length) return;
        }
        if (_regionCount == _regions.Length) Array.Resize(ref _regions, _regions.Length * 2);
        _regions[_regionCount++] = region;
    }

    /// <summary>Called by engines at the start of each run: drops the regions granted during the previous run.</summary>
    public void BeginRun()
    {
        _regionCount = _fixedRegionCount;
        if (_lastHit >= _regionCount) _lastHit = 0;
    }

    /// <summary>
    /// Checks an access against the granted regions (the stack, from <paramref name="stackLow"/> up, is checked by the
    /// caller's fast path) and returns the address; throws <see cref="BpfFaultException"/> otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public byte* CheckSlow(ulong address, int size, bool write, int pc, ulong stackLow)
    {
        if (address - stackLow <= StackTop - stackLow - (ulong)size && StackTop - stackLow >= (ulong)size)
            return (byte*)address;
        var regions = _regions;
        int n = _regionCount;
        int hit = _lastHit;
        if (hit < n && regions[hit].Contains(address, size))
        {
            if (!write || regions[hit].Writable) return (byte*)address;
        }
        for (int i = 0; i < n; i++)
        {
            if (regions[i].Contains(address, size))
            {
                _lastHit = i;
                if (write && !regions[i].Writable)
                    throw new BpfFaultException(new BpfFault(BpfFaultKind.ReadOnlyWrite, pc,
                        $"write of {size} bytes at 0x{address:x} into read-only {regions[i]}"));
                return (byte*)address;
            }
        }
        throw new BpfFaultException(new BpfFault(BpfFaultKind.OutOfBounds, pc, DescribeMiss(address, size, write, stackLow)));
    }

    private string DescribeMiss(ulong address, int size, bool write, ulong stackLow)
    {
        var stack = new MemoryRegion(stackLow, StackTop - stackLow, RegionKind.Stack, true);
        MemoryRegion nearest = stack;
        ulong best = Distance(stack, address);
        foreach (var r in Regions)
        {
            ulong d = Distance(r, address);
            if (d < best) { best = d; nearest = r; }
        }
        string relation = address >= nearest.Start ? $"{address - nearest.Start} bytes past its start" : $"{nearest.Start - address} bytes before it";
        return $"{(write ? "write" : "read")} of {size} bytes at 0x{address:x} is outside every granted region (nearest: {nearest}, {relation})";
    }

    private static ulong Distance(MemoryRegion r, ulong address) =>
        address < r.Start ? r.Start - address : address >= r.End ? address - r.End + 1 : 0;

    /// <summary>Frees the stack.</summary>
    public void Dispose()
    {
        if (_stack != null)
        {
            NativeMemory.AlignedFree(_stack);
            _stack = null;
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the stack if <see cref="Dispose"/> was not called.</summary>
    ~RunContext() => Dispose();
}
