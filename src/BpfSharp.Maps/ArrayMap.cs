using BpfSharp.Isa;
namespace BpfSharp.Maps;

/// <summary>
/// BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY: <c>max_entries</c> zero-initialised values indexed by a
/// 4-byte key, preallocated, never deleted. Value slots are 8-byte aligned (value size rounded up to 8).
/// </summary>
/// <remarks>
/// Updates copy the value in place without a lock, as the kernel does: a concurrent reader can see a partly
/// written value. Atomic instructions in programs act directly on the slot.
/// Program-side operations on a per-CPU array touch the slot of <see cref="BpfCpu.Current"/>; host operations
/// exchange all CPUs' values.
/// </remarks>
public sealed unsafe class ArrayMap : BpfMap
{
    private readonly byte* _data;
    private readonly nuint _bytes;
    private readonly uint _stride;
    private readonly uint _max;
    private readonly int _cpus;

    /// <summary>Creates the array (use <see cref="BpfMap.Create"/> for any type).</summary>
    public ArrayMap(MapSpec spec, BpfMapOptions? options = null) : base(spec, options)
    {
        if (spec.Type is not (BpfMapType.Array or BpfMapType.PerCpuArray))
            throw new MapSpecException(BpfErrno.EINVAL, spec.Name, $"{spec.Type} is not an array type");
        _stride = MapSpec.RoundUp8(spec.ValueSize);
        _max = spec.MaxEntries;
        _cpus = CpuCount;
        _bytes = (nuint)_stride * _max * (nuint)_cpus;
        _data = NativeMemoryTracker.AllocZeroed(_bytes);
    }

    /// <summary>Start of the value area (slot i at i * round_up(value_size, 8); per-CPU: (i * cpus + cpu) * stride).</summary>
    public byte* Data => _data;

    /// <summary>Bytes between consecutive value slots (value size rounded up to 8), for engines that inline lookups.</summary>
    public int ValueStride => (int)_stride;

    private int CurrentCpu
    {
        get
        {
            int c = BpfCpu.Current;
            return c < _cpus ? c : c % _cpus;
        }
    }

    /// <inheritdoc />
    public override byte* Lookup(byte* key)
    {
        uint index = *(uint*)key;
        if (index >= _max) return null;
        return _cpus == 1 ? _data + (nuint)index * _stride : _data + ((nuint)index * (nuint)_cpus + (nuint)CurrentCpu) * _stride;
    }

    /// <inheritdoc />
    public override byte* LookupPerCpu(byte* key, uint cpu)
    {
        uint index = *(uint*)key;
        if (index >= _max || cpu >= (uint)_cpus) return null;
        return _data + ((nuint)index * (nuint)_cpus + cpu) * _stride;
    }

    /// <inheritdoc />
    public override long Update(byte* key, byte* value, ulong flags)
    {
        if ((flags & ~(ulong)BpfUpdateFlags.Lock) > (ulong)BpfUpdateFlags.Exist) return Err(BpfErrno.EINVAL);
        uint index = *(uint*)key;
        if (index >= _max) return Err(BpfErrno.E2BIG);
        if ((flags & (ulong)BpfUpdateFlags.NoExist) != 0) return Err(BpfErrno.EEXIST);
        if ((flags & (ulong)BpfUpdateFlags.Lock) != 0) return Err(BpfErrno.EINVAL);
        byte* slot = Lookup(key);
        Buffer.MemoryCopy(value, slot, ValueSize, ValueSize);
        return 0;
    }

    /// <inheritdoc />
    public override long Delete(byte* key) => Err(BpfErrno.EINVAL);

    /// <inheritdoc />
    public override long GetNextKey(byte* key, byte* nextKey)
    {
        uint index = key == null ? uint.MaxValue : *(uint*)key;
        if (index >= _max) { *(uint*)nextKey = 0; return 0; }
        if (index == _max - 1) return Err(BpfErrno.ENOENT);
        *(uint*)nextKey = index + 1;
        return 0;
    }

    /// <inheritdoc />
    public override long ForEachElement(MapElementVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        long n = 0;
        for (uint i = 0; i < _max; i++)
        {
            uint k = i;
            n++;
            if (!visitor((byte*)&k, Lookup((byte*)&k))) break;
        }
        return n;
    }

    /// <inheritdoc />
    protected override BpfErrno HostLookup(byte* key, byte* value)
    {
        uint index = *(uint*)key;
        if (index >= _max) return BpfErrno.ENOENT;
        if (_cpus == 1)
        {
            Buffer.MemoryCopy(_data + (nuint)index * _stride, value, ValueSize, ValueSize);
        }
        else
        {
            // All CPUs' slots are contiguous and already padded to 8, matching the syscall layout.
            nuint n = _stride * (nuint)_cpus;
            Buffer.MemoryCopy(_data + (nuint)index * n, value, (long)n, (long)n);
        }
        return BpfErrno.None;
    }

    /// <inheritdoc />
    protected override BpfErrno HostUpdate(byte* key, byte* value, ulong flags)
    {
        if (_cpus == 1) return ToErrno(Update(key, value, flags));
        if (flags > (ulong)BpfUpdateFlags.Exist) return BpfErrno.EINVAL;
        uint index = *(uint*)key;
        if (index >= _max) return BpfErrno.E2BIG;
        if (flags == (ulong)BpfUpdateFlags.NoExist) return BpfErrno.EEXIST;
        for (int c = 0; c < _cpus; c++)
            Buffer.MemoryCopy(value + c * _stride, _data + ((nuint)index * (nuint)_cpus + (nuint)c) * _stride, ValueSize, ValueSize);
        return BpfErrno.None;
    }

    /// <inheritdoc />
    protected override void FreeNative() => NativeMemoryTracker.Free(_data, _bytes);
}
