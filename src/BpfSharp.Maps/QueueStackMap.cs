using BpfSharp.Isa;
namespace BpfSharp.Maps;

/// <summary>
/// BPF_MAP_TYPE_QUEUE (FIFO) and BPF_MAP_TYPE_STACK (LIFO): values without keys, in a ring of
/// <c>max_entries + 1</c> slots as in the kernel. Push with BPF_EXIST on a full map overwrites the oldest value.
/// </summary>
/// <remarks>
/// Host operations map like the syscall: update = push, lookup = peek, lookup-and-delete = pop; delete and
/// get-next-key give EINVAL. Operations are serialised by one lock (the kernel uses a spinlock).
/// </remarks>
public sealed unsafe class QueueStackMap : BpfMap
{
    private readonly byte* _elements;
    private readonly nuint _bytes;
    private readonly uint _size;
    private readonly bool _isStack;
    private readonly Lock _lock = new();
    private uint _head;
    private uint _tail;

    /// <summary>Creates the queue or stack (use <see cref="BpfMap.Create"/> for any type).</summary>
    public QueueStackMap(MapSpec spec, BpfMapOptions? options = null) : base(spec, options)
    {
        _isStack = spec.Type == BpfMapType.Stack;
        _size = spec.MaxEntries + 1;
        _bytes = (nuint)_size * spec.ValueSize;
        _elements = NativeMemoryTracker.AllocZeroed(_bytes);
    }

    /// <summary>Number of values held.</summary>
    public int Count
    {
        get
        {
            lock (_lock) return (int)(_head >= _tail ? _head - _tail : _size - _tail + _head);
        }
    }

    /// <inheritdoc />
    public override long Push(byte* value, ulong flags)
    {
        bool replace = (flags & (ulong)BpfUpdateFlags.Exist) != 0;
        if ((flags & (ulong)BpfUpdateFlags.NoExist) != 0 || flags > (ulong)BpfUpdateFlags.Exist) return Err(BpfErrno.EINVAL);
        lock (_lock)
        {
            uint nextHead = _head + 1 >= _size ? 0 : _head + 1;
            if (nextHead == _tail)
            {
                if (!replace) return Err(BpfErrno.E2BIG);
                _tail = _tail + 1 >= _size ? 0 : _tail + 1; // drop the oldest
            }
            Buffer.MemoryCopy(value, _elements + (nuint)_head * (nuint)ValueSize, ValueSize, ValueSize);
            _head = nextHead;
        }
        return 0;
    }

    /// <inheritdoc />
    public override long Pop(byte* value) => Take(value, remove: true);

    /// <inheritdoc />
    public override long Peek(byte* value) => Take(value, remove: false);

    private long Take(byte* value, bool remove)
    {
        lock (_lock)
        {
            if (_head == _tail) return Err(BpfErrno.ENOENT);
            uint index;
            if (_isStack)
            {
                index = _head == 0 ? _size - 1 : _head - 1;
                if (remove) _head = index;
            }
            else
            {
                index = _tail;
                if (remove) _tail = _tail + 1 >= _size ? 0 : _tail + 1;
            }
            Buffer.MemoryCopy(_elements + (nuint)index * (nuint)ValueSize, value, ValueSize, ValueSize);
        }
        return 0;
    }

    /// <inheritdoc />
    public override long Update(byte* key, byte* value, ulong flags) => Err(BpfErrno.EINVAL);

    /// <inheritdoc />
    public override long Delete(byte* key) => Err(BpfErrno.EINVAL);

    /// <inheritdoc />
    public override long GetNextKey(byte* key, byte* nextKey) => Err(BpfErrno.EINVAL);

    /// <inheritdoc />
    protected override BpfErrno HostLookup(byte* key, byte* value) => ToErrno(Peek(value));

    /// <inheritdoc />
    protected override BpfErrno HostUpdate(byte* key, byte* value, ulong flags) => ToErrno(Push(value, flags));

    /// <inheritdoc />
    protected override BpfErrno HostLookupAndDelete(byte* key, byte* value) => ToErrno(Pop(value));

    /// <summary>Pushes a value from the host; errors throw <see cref="BpfMapException"/>.</summary>
    public void Push(ReadOnlySpan<byte> value, BpfUpdateFlags flags = BpfUpdateFlags.Any) => Update(ReadOnlySpan<byte>.Empty, value, flags);

    /// <summary>Pops a value from the host; false when empty.</summary>
    public bool TryPop(Span<byte> value)
    {
        var e = LookupAndDeleteElem(ReadOnlySpan<byte>.Empty, value);
        if (e == BpfErrno.ENOENT) return false;
        if (e != BpfErrno.None) throw new BpfMapException(e, $"map '{Name}': pop failed");
        return true;
    }

    /// <summary>Peeks at the next value from the host; false when empty.</summary>
    public bool TryPeek(Span<byte> value) => TryLookup(ReadOnlySpan<byte>.Empty, value);

    /// <inheritdoc />
    protected override void FreeNative() => NativeMemoryTracker.Free(_elements, _bytes);
}
