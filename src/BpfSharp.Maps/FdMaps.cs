namespace BpfSharp.Maps;

/// <summary>
/// BPF_MAP_TYPE_ARRAY_OF_MAPS: an array whose values are references to inner maps compatible with
/// <see cref="MapSpec.InnerMap"/>. On the host side a value is the inner map's 4-byte <see cref="BpfMap.Id"/>
/// (the kernel takes a map fd on update and returns the map id on lookup); a program-side lookup returns the
/// inner map's <see cref="BpfMap.Handle"/> (null when the slot is empty), which engines pass back to map helpers.
/// </summary>
/// <remarks>Each slot holds a reference on its inner map, released when the slot is cleared or this map is freed.</remarks>
public sealed unsafe class ArrayOfMapsMap : BpfMap
{
    private readonly nint* _handles;
    private readonly BpfMap?[] _maps;
    private readonly Lock _lock = new();

    /// <summary>Creates the map (use <see cref="BpfMap.Create"/> for any type).</summary>
    public ArrayOfMapsMap(MapSpec spec, BpfMapOptions? options = null) : base(spec, options)
    {
        _maps = new BpfMap?[spec.MaxEntries];
        _handles = (nint*)NativeMemoryTracker.AllocZeroed((nuint)spec.MaxEntries * (nuint)sizeof(nint));
    }

    /// <summary>The inner map at <paramref name="index"/>, or null.</summary>
    public BpfMap? GetInner(uint index) => index < (uint)_maps.Length ? Volatile.Read(ref _maps[index]) : null;

    /// <summary>Stores <paramref name="inner"/> at <paramref name="index"/>; errors throw <see cref="BpfMapException"/>.</summary>
    public void SetInner(uint index, BpfMap inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        uint id = inner.Id;
        var e = UpdateElem(BitConverter.GetBytes(index), BitConverter.GetBytes(id));
        if (e != BpfErrno.None) throw new BpfMapException(e, $"map '{Name}': cannot store map '{inner.Name}' at {index}");
    }

    /// <inheritdoc />
    public override int HostValueSize => 4;

    /// <inheritdoc />
    public override byte* Lookup(byte* key)
    {
        uint index = *(uint*)key;
        return index < (uint)_maps.Length ? (byte*)Volatile.Read(ref _handles[index]) : null;
    }

    /// <inheritdoc />
    public override long Delete(byte* key)
    {
        uint index = *(uint*)key;
        if (index >= (uint)_maps.Length) return Err(BpfErrno.E2BIG);
        BpfMap? old;
        lock (_lock)
        {
            old = _maps[index];
            if (old is null) return Err(BpfErrno.ENOENT);
            Volatile.Write(ref _handles[index], 0);
            _maps[index] = null;
        }
        old.Release();
        return 0;
    }

    /// <inheritdoc />
    public override long GetNextKey(byte* key, byte* nextKey)
    {
        uint max = (uint)_maps.Length;
        uint index = key == null ? uint.MaxValue : *(uint*)key;
        if (index >= max) { *(uint*)nextKey = 0; return 0; }
        if (index == max - 1) return Err(BpfErrno.ENOENT);
        *(uint*)nextKey = index + 1;
        return 0;
    }

    /// <inheritdoc />
    protected override BpfErrno HostLookup(byte* key, byte* value)
    {
        var m = GetInner(*(uint*)key);
        if (m is null) return BpfErrno.ENOENT;
        *(uint*)value = m.Id;
        return BpfErrno.None;
    }

    /// <inheritdoc />
    protected override BpfErrno HostUpdate(byte* key, byte* value, ulong flags)
    {
        if (flags != (ulong)BpfUpdateFlags.Any) return BpfErrno.EINVAL;
        uint index = *(uint*)key;
        if (index >= (uint)_maps.Length) return BpfErrno.E2BIG;
        var inner = FromId(*(uint*)value);
        if (inner is null) return BpfErrno.EBADF;
        if (!Spec.InnerMap!.IsCompatibleInner(inner.Spec)) return BpfErrno.EINVAL;
        inner.AddRef();
        BpfMap? old;
        lock (_lock)
        {
            old = _maps[index];
            _maps[index] = inner;
            Volatile.Write(ref _handles[index], inner.Handle);
        }
        old?.Release();
        return BpfErrno.None;
    }

    /// <inheritdoc />
    protected override void FreeNative()
    {
        for (int i = 0; i < _maps.Length; i++)
        {
            _maps[i]?.Release();
            _maps[i] = null;
        }
        NativeMemoryTracker.Free((byte*)_handles, (nuint)_maps.Length * (nuint)sizeof(nint));
    }
}

/// <summary>
/// BPF_MAP_TYPE_HASH_OF_MAPS: a hash map whose values are inner map references (host side: the 4-byte
/// <see cref="BpfMap.Id"/>; program side: lookups return the inner map's <see cref="BpfMap.Handle"/>).
/// </summary>
public sealed unsafe class HashOfMapsMap : HashMap
{
    /// <summary>Creates the map (use <see cref="BpfMap.Create"/> for any type).</summary>
    public HashOfMapsMap(MapSpec spec, BpfMapOptions? options = null) : base(spec, options, sizeof(nint)) { }

    /// <inheritdoc />
    public override int HostValueSize => 4;

    /// <summary>The inner map stored under <paramref name="key"/>, or null.</summary>
    public BpfMap? GetInner(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize) throw new ArgumentException($"key is {key.Length} bytes; map '{Name}' has {KeySize}-byte keys", nameof(key));
        fixed (byte* k = key) return FromHandle((nint)Lookup(k));
    }

    /// <summary>Stores <paramref name="inner"/> under <paramref name="key"/>; errors throw <see cref="BpfMapException"/>.</summary>
    public void SetInner(ReadOnlySpan<byte> key, BpfMap inner, BpfUpdateFlags flags = BpfUpdateFlags.Any)
    {
        ArgumentNullException.ThrowIfNull(inner);
        var e = UpdateElem(key, BitConverter.GetBytes(inner.Id), flags);
        if (e != BpfErrno.None) throw new BpfMapException(e, $"map '{Name}': cannot store map '{inner.Name}'");
    }

    /// <inheritdoc />
    public override byte* Lookup(byte* key)
    {
        byte* storage = LookupStorage(key);
        return storage == null ? null : (byte*)Volatile.Read(ref *(nint*)storage);
    }

    /// <inheritdoc />
    public override long Update(byte* key, byte* value, ulong flags) => Err(BpfErrno.EOPNOTSUPP); // programs cannot store maps

    /// <inheritdoc />
    protected override BpfErrno HostLookup(byte* key, byte* value)
    {
        var m = FromHandle((nint)Lookup(key));
        if (m is null) return BpfErrno.ENOENT;
        *(uint*)value = m.Id;
        return BpfErrno.None;
    }

    /// <inheritdoc />
    protected override BpfErrno HostUpdate(byte* key, byte* value, ulong flags)
    {
        // The kernel resolves the inner map before looking at the flags (bpf_fd_htab_map_update_elem).
        var inner = FromId(*(uint*)value);
        if (inner is null) return BpfErrno.EBADF;
        if (!Spec.InnerMap!.IsCompatibleInner(inner.Spec)) return BpfErrno.EINVAL;
        inner.AddRef();
        nint handle = inner.Handle;
        var e = ToErrno(UpdateCore(key, (byte*)&handle, flags, allCpus: false));
        if (e != BpfErrno.None) inner.Release();
        return e;
    }

    /// <inheritdoc />
    protected override BpfErrno HostLookupAndDelete(byte* key, byte* value) => BpfErrno.ENOTSUPP;

    private protected override void WriteNewValue(byte* storage, byte* value, bool allCpus) => *(nint*)storage = *(nint*)value;

    // Like the kernel (since 6.7), replacing an inner map swaps the pointer in place; the element keeps its
    // position in the bucket, which the differential test against the kernel observes through get-next-key.
    private protected override bool UpdatesInPlace => true;

    private protected override void UpdateInPlace(byte* storage, byte* value, bool allCpus) =>
        FromHandle(Interlocked.Exchange(ref *(nint*)storage, *(nint*)value))?.Release();

    private protected override void OnValueRemoved(byte* storage) => FromHandle(*(nint*)storage)?.Release();
}

/// <summary>
/// BPF_MAP_TYPE_PROG_ARRAY: program references for tail calls. What a "program" is belongs to the runtime: a
/// slot holds an opaque object plus the 4-byte handle the host sees (the kernel takes a program fd on update and
/// returns the program id on lookup). A raw host update stores the handle and asks <see cref="ProgramResolver"/>
/// (when set) for the object.
/// </summary>
public sealed unsafe class ProgramArrayMap : BpfMap
{
    private readonly object?[] _programs;
    private readonly uint[] _handles;
    private readonly Lock _lock = new();

    /// <summary>Creates the map (use <see cref="BpfMap.Create"/> for any type).</summary>
    public ProgramArrayMap(MapSpec spec, BpfMapOptions? options = null) : base(spec, options)
    {
        _programs = new object?[spec.MaxEntries];
        _handles = new uint[spec.MaxEntries];
    }

    /// <summary>Turns a 4-byte handle from a raw host update into the runtime's program object (null: reject with EBADF).</summary>
    public Func<uint, object?>? ProgramResolver { get; set; }

    /// <summary>The program for a tail call to <paramref name="index"/>, or null (out of range or empty): the tail call falls through.</summary>
    public object? GetProgram(uint index) => index < (uint)_programs.Length ? Volatile.Read(ref _programs[index]) : null;

    /// <summary>Stores <paramref name="program"/> at <paramref name="index"/> with host-visible <paramref name="handle"/>.</summary>
    public void SetProgram(uint index, object program, uint handle = 0)
    {
        ArgumentNullException.ThrowIfNull(program);
        ThrowIfDisposed();
        if (!HostCanWrite) throw new BpfMapException(BpfErrno.EPERM, $"map '{Name}' is read-only or frozen");
        if (index >= (uint)_programs.Length) throw new BpfMapException(BpfErrno.E2BIG, $"map '{Name}': index {index} >= max_entries {_programs.Length}");
        lock (_lock)
        {
            _handles[index] = handle;
            Volatile.Write(ref _programs[index], program);
        }
    }

    /// <inheritdoc />
    public override long Delete(byte* key)
    {
        uint index = *(uint*)key;
        if (index >= (uint)_programs.Length) return Err(BpfErrno.E2BIG);
        lock (_lock)
        {
            if (_programs[index] is null) return Err(BpfErrno.ENOENT);
            Volatile.Write(ref _programs[index], null);
            _handles[index] = 0;
        }
        return 0;
    }

    /// <inheritdoc />
    public override long GetNextKey(byte* key, byte* nextKey)
    {
        uint max = (uint)_programs.Length;
        uint index = key == null ? uint.MaxValue : *(uint*)key;
        if (index >= max) { *(uint*)nextKey = 0; return 0; }
        if (index == max - 1) return Err(BpfErrno.ENOENT);
        *(uint*)nextKey = index + 1;
        return 0;
    }

    /// <inheritdoc />
    protected override BpfErrno HostLookup(byte* key, byte* value)
    {
        uint index = *(uint*)key;
        if (index >= (uint)_programs.Length) return BpfErrno.ENOENT;
        lock (_lock)
        {
            if (_programs[index] is null) return BpfErrno.ENOENT;
            *(uint*)value = _handles[index];
        }
        return BpfErrno.None;
    }

    /// <inheritdoc />
    protected override BpfErrno HostUpdate(byte* key, byte* value, ulong flags)
    {
        if (flags != (ulong)BpfUpdateFlags.Any) return BpfErrno.EINVAL;
        uint index = *(uint*)key;
        if (index >= (uint)_programs.Length) return BpfErrno.E2BIG;
        uint handle = *(uint*)value;
        object? program = ProgramResolver is { } resolve ? resolve(handle) : handle;
        if (program is null) return BpfErrno.EBADF;
        lock (_lock)
        {
            _handles[index] = handle;
            Volatile.Write(ref _programs[index], program);
        }
        return BpfErrno.None;
    }

    /// <inheritdoc />
    protected override void FreeNative() => Array.Clear(_programs);
}
