using System.Runtime.InteropServices;

namespace BpfSharp.Maps;

/// <summary>Counts the native bytes held by maps, so tests and hosts can check that disposal frees everything.</summary>
public static class NativeMemoryTracker
{
    private static long s_liveBytes;
    private static long s_liveBlocks;

    /// <summary>Bytes currently allocated by all maps in this process.</summary>
    public static long LiveBytes => Interlocked.Read(ref s_liveBytes);

    /// <summary>Native blocks currently allocated by all maps in this process.</summary>
    public static long LiveBlocks => Interlocked.Read(ref s_liveBlocks);

    /// <summary>Allocates zeroed, 8-byte aligned native memory (lazily zeroed pages for large blocks).</summary>
    internal static unsafe byte* AllocZeroed(nuint bytes)
    {
        if (bytes == 0) bytes = 8;
        byte* p;
        try
        {
            // calloc-backed: large blocks come from fresh zero pages, so a big array costs nothing until touched.
            p = (byte*)NativeMemory.AllocZeroed(bytes);
        }
        catch (OutOfMemoryException)
        {
            throw new BpfMapException(BpfErrno.ENOMEM, $"cannot allocate {bytes} bytes of map memory");
        }
        if (((nuint)p & 7) != 0)
        {
            // Not expected from any 64-bit allocator; fall back to an explicitly aligned block.
            NativeMemory.Free(p);
            p = (byte*)NativeMemory.AlignedAlloc(bytes, 8);
            NativeMemory.Clear(p, bytes);
        }
        Interlocked.Add(ref s_liveBytes, (long)bytes);
        Interlocked.Increment(ref s_liveBlocks);
        return p;
    }

    /// <summary>Frees a block from <see cref="AllocZeroed"/>.</summary>
    internal static unsafe void Free(byte* p, nuint bytes)
    {
        if (p == null) return;
        if (bytes == 0) bytes = 8;
        NativeMemory.Free(p);
        Interlocked.Add(ref s_liveBytes, -(long)bytes);
        Interlocked.Decrement(ref s_liveBlocks);
    }
}

/// <summary>
/// Fixed-size elements carved from native chunks that are never moved or freed before the owner is disposed,
/// so element addresses are stable. Retired elements are recycled only after <see cref="BpfEpoch"/> says no
/// program scope can still hold them.
/// </summary>
internal sealed unsafe class ElementPool : IDisposable
{
    private readonly nuint _elementSize;
    private readonly Lock _lock = new();
    private readonly List<(nint Ptr, nuint Bytes)> _chunks = [];
    private nint[] _free = new nint[64];
    private int _freeCount;
    private readonly Queue<(nint Element, long Epoch)> _limbo = new();
    private int _nextChunkElements;
    private readonly int _maxChunkElements;

    public ElementPool(nuint elementSize, uint expectedElements)
    {
        _elementSize = (elementSize + 7) & ~(nuint)7;
        _nextChunkElements = (int)Math.Clamp(expectedElements, 1u, 64u);
        _maxChunkElements = (int)Math.Clamp(expectedElements, 64u, 65536u);
    }

    public nuint ElementSize => _elementSize;

    /// <summary>Elements in limbo (retired, not yet reusable).</summary>
    public int LimboCount { get { lock (_lock) return _limbo.Count; } }

    /// <summary>A zeroed element.</summary>
    public byte* Allocate()
    {
        byte* e;
        lock (_lock)
        {
            if (_freeCount == 0) Reclaim();
            if (_freeCount == 0) Grow();
            e = (byte*)_free[--_freeCount];
        }
        NativeMemory.Clear(e, _elementSize);
        return e;
    }

    /// <summary>Moves up to <paramref name="dest"/>.Length free elements (not zeroed) into <paramref name="dest"/>; returns how many.</summary>
    public int TakeBatch(Span<nint> dest)
    {
        lock (_lock)
        {
            if (_freeCount < dest.Length) Reclaim();
            if (_freeCount == 0) Grow();
            int n = Math.Min(dest.Length, _freeCount);
            for (int i = 0; i < n; i++) dest[i] = _free[--_freeCount];
            return n;
        }
    }

    /// <summary>Gives reusable elements back to the shared free list.</summary>
    public void ReturnBatch(ReadOnlySpan<nint> elements)
    {
        lock (_lock)
            foreach (var e in elements) PushFree(e);
    }

    /// <summary>Returns an element that no reader has seen (never published) for immediate reuse.</summary>
    public void FreeUnpublished(byte* e)
    {
        lock (_lock) PushFree((nint)e);
    }

    /// <summary>Retires an unlinked element: reusable once all current program scopes have ended.</summary>
    public void Retire(byte* e)
    {
        long tag = BpfEpoch.Current;
        lock (_lock) _limbo.Enqueue(((nint)e, tag));
    }

    private void Reclaim()
    {
        if (_limbo.Count == 0) return;
        long minActive = BpfEpoch.MinimumActive();
        while (_limbo.Count > 0 && _limbo.Peek().Epoch < minActive)
            PushFree(_limbo.Dequeue().Element);
        if (_limbo.Count > 0) BpfEpoch.Advance(); // let the blocked ones become free once current scopes end
    }

    private void Grow()
    {
        int n = _nextChunkElements;
        nuint bytes = _elementSize * (nuint)n;
        byte* chunk = NativeMemoryTracker.AllocZeroed(bytes);
        _chunks.Add(((nint)chunk, bytes));
        for (int i = n - 1; i >= 0; i--) PushFree((nint)(chunk + (nuint)i * _elementSize));
        _nextChunkElements = Math.Min(n * 2, _maxChunkElements);
    }

    private void PushFree(nint e)
    {
        if (_freeCount == _free.Length) Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = e;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var (ptr, bytes) in _chunks) NativeMemoryTracker.Free((byte*)ptr, bytes);
            _chunks.Clear();
            _freeCount = 0;
            _limbo.Clear();
        }
    }
}
