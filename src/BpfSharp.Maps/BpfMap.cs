using BpfSharp.Isa;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BpfSharp.Maps;

/// <summary>Options for creating maps.</summary>
public sealed record BpfMapOptions
{
    /// <summary>Number of CPUs per-CPU maps keep a value for (default: <see cref="Environment.ProcessorCount"/>).</summary>
    public int CpuCount { get; init; } = Environment.ProcessorCount;

    /// <summary>Default options.</summary>
    public static BpfMapOptions Default { get; } = new();
}

/// <summary>Visits one element during <see cref="BpfMap.ForEachElement"/>; return false to stop.</summary>
public unsafe delegate bool MapElementVisitor(byte* key, byte* value);

/// <summary>
/// A userspace eBPF map in native memory. Two surfaces:
/// <list type="bullet">
/// <item>Program-facing raw operations (<see cref="Lookup(byte*)"/>, <see cref="Update(byte*, byte*, ulong)"/>, ...)
/// with the semantics and negative-errno results of the kernel's helpers; allocation-free, used by the
/// interpreter and the JIT.</item>
/// <item>Host operations shaped like the bpf() syscall (<see cref="LookupElem"/>, <see cref="UpdateElem"/>, ...,
/// returning <see cref="BpfErrno"/>), with per-CPU maps exchanging all CPUs' values, plus throwing and typed
/// conveniences (<see cref="TryLookup{TKey, TValue}"/>, <see cref="Update{TKey, TValue}"/>, <see cref="Entries()"/>).</item>
/// </list>
/// </summary>
/// <remarks>
/// Value pointers returned by <see cref="Lookup(byte*)"/> point into native memory that never moves while the
/// element exists; see <see cref="BpfEpoch"/> for when memory of deleted elements is reused. Element updates
/// of hash maps publish a new element atomically (readers see the old or the new value, never a mix); array
/// and per-CPU updates copy in place and, as in the kernel, a concurrent reader may see a partly copied value.
/// A map is reference counted: <see cref="Dispose()"/> drops the owner's reference, and map-in-map slots hold
/// their own, so an inner map stays alive while an outer map refers to it.
/// </remarks>
public abstract unsafe class BpfMap : IDisposable
{
    private static readonly ConcurrentDictionary<uint, BpfMap> s_byId = new();
    private static int s_nextId;

    private GCHandle _self;
    private int _refs = 1;
    private int _ownerReleased;
    private int _frozen;

    /// <summary>Creates the common state after validating <paramref name="spec"/>.</summary>
    protected BpfMap(MapSpec spec, BpfMapOptions? options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        options ??= BpfMapOptions.Default;
        if (options.CpuCount < 1) throw new ArgumentOutOfRangeException(nameof(options), "CpuCount must be at least 1");
        Spec = spec;
        CpuCount = spec.IsPerCpu ? options.CpuCount : 1;
        Id = (uint)Interlocked.Increment(ref s_nextId);
        _self = GCHandle.Alloc(this, GCHandleType.Normal);
        s_byId[Id] = this;
    }

    /// <summary>Creates a map of the type <paramref name="spec"/> names, after the kernel's creation checks.</summary>
    /// <exception cref="MapSpecException">The kernel would reject the spec; <see cref="BpfMapException.Errno"/> says how.</exception>
    public static BpfMap Create(MapSpec spec, BpfMapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        return spec.Type switch
        {
            BpfMapType.Array or BpfMapType.PerCpuArray => new ArrayMap(spec, options),
            BpfMapType.Hash or BpfMapType.PerCpuHash or BpfMapType.LruHash or BpfMapType.LruPerCpuHash => new HashMap(spec, options),
            BpfMapType.HashOfMaps => new HashOfMapsMap(spec, options),
            BpfMapType.ArrayOfMaps => new ArrayOfMapsMap(spec, options),
            BpfMapType.ProgArray => new ProgramArrayMap(spec, options),
            BpfMapType.LpmTrie => new LpmTrieMap(spec, options),
            BpfMapType.Queue or BpfMapType.Stack => new QueueStackMap(spec, options),
            BpfMapType.RingBuf => new RingBufferMap(spec, options),
            _ => throw new MapSpecException(BpfErrno.EOPNOTSUPP, spec.Name, $"map type {spec.Type} is not implemented by the userspace runtime"),
        };
    }

    /// <summary>The attributes the map was created with.</summary>
    public MapSpec Spec { get; }

    /// <summary>Map name.</summary>
    public string Name => Spec.Name;

    /// <summary>Map type.</summary>
    public BpfMapType Type => Spec.Type;

    /// <summary>Key size in bytes.</summary>
    public int KeySize => (int)Spec.KeySize;

    /// <summary>Value size in bytes as programs see it (one CPU's value for per-CPU maps).</summary>
    public int ValueSize => (int)Spec.ValueSize;

    /// <summary>Capacity (for ring buffers: data bytes).</summary>
    public int MaxEntries => (int)Spec.MaxEntries;

    /// <summary>Creation flags.</summary>
    public BpfMapFlags Flags => Spec.Flags;

    /// <summary>CPUs with a value slot (1 unless per-CPU).</summary>
    public int CpuCount { get; }

    /// <summary>
    /// Size of a value on the host side: <see cref="ValueSize"/>, except per-CPU maps (value size rounded up to
    /// 8, times <see cref="CpuCount"/>, like the syscall API) and fd maps (a 4-byte id).
    /// </summary>
    public virtual int HostValueSize => Spec.IsPerCpu ? (int)MapSpec.RoundUp8(Spec.ValueSize) * CpuCount : ValueSize;

    /// <summary>Process-unique map id (like the kernel's map id); map-in-map values refer to inner maps by it.</summary>
    public uint Id { get; }

    /// <summary>
    /// An opaque non-zero handle for engines (what a map pointer in a program register holds); valid until the
    /// map is released. <see cref="FromHandle"/> maps it back.
    /// </summary>
    public nint Handle => GCHandle.ToIntPtr(_self);

    /// <summary>True once <see cref="Freeze"/> succeeded: the host may no longer write.</summary>
    public bool IsFrozen => Volatile.Read(ref _frozen) != 0;

    /// <summary>BPF_F_RDONLY_PROG: programs may not write (the verifier reads this).</summary>
    public bool IsReadOnlyForPrograms => (Flags & BpfMapFlags.ReadOnlyProg) != 0;

    /// <summary>BPF_F_WRONLY_PROG: programs may not read (the verifier reads this).</summary>
    public bool IsWriteOnlyForPrograms => (Flags & BpfMapFlags.WriteOnlyProg) != 0;

    /// <summary>True once the last reference is gone and native memory is freed.</summary>
    public bool IsDisposed => Volatile.Read(ref _refs) <= 0;

    /// <summary>The live map with this handle, or null.</summary>
    public static BpfMap? FromHandle(nint handle) =>
        handle == 0 ? null : GCHandle.FromIntPtr(handle).Target as BpfMap;

    /// <summary>The live map with this id, or null.</summary>
    public static BpfMap? FromId(uint id) => s_byId.TryGetValue(id, out var m) ? m : null;

    // ---------------------------------------------------------------- program-facing (helper semantics)

    /// <summary>bpf_map_lookup_elem: the value's address, or null. Per-CPU maps give the current CPU's slot (<see cref="BpfCpu"/>).</summary>
    public virtual byte* Lookup(byte* key) => null;

    /// <summary>bpf_map_update_elem: 0 or a negative errno.</summary>
    public virtual long Update(byte* key, byte* value, ulong flags) => -(long)BpfErrno.EOPNOTSUPP;

    /// <summary>bpf_map_delete_elem: 0 or a negative errno.</summary>
    public virtual long Delete(byte* key) => -(long)BpfErrno.EOPNOTSUPP;

    /// <summary>Next key in iteration order after <paramref name="key"/> (null: the first); 0 or a negative errno (-ENOENT at the end).</summary>
    public virtual long GetNextKey(byte* key, byte* nextKey) => -(long)BpfErrno.EOPNOTSUPP;

    /// <summary>bpf_map_push_elem (queue/stack): 0 or a negative errno.</summary>
    public virtual long Push(byte* value, ulong flags) => -(long)BpfErrno.EOPNOTSUPP;

    /// <summary>bpf_map_pop_elem (queue/stack): 0 or a negative errno.</summary>
    public virtual long Pop(byte* value) => -(long)BpfErrno.EOPNOTSUPP;

    /// <summary>bpf_map_peek_elem (queue/stack): 0 or a negative errno.</summary>
    public virtual long Peek(byte* value) => -(long)BpfErrno.EOPNOTSUPP;

    /// <summary>bpf_map_lookup_percpu_elem: the value slot of CPU <paramref name="cpu"/>, or null (also for cpu out of range).</summary>
    public virtual byte* LookupPerCpu(byte* key, uint cpu) => null;

    /// <summary>
    /// bpf_for_each_map_elem: calls <paramref name="visitor"/> with each element's key and value address (current
    /// CPU's slot for per-CPU maps) until it returns false; returns the number of elements visited, or a negative errno.
    /// </summary>
    public virtual long ForEachElement(MapElementVisitor visitor) => -(long)BpfErrno.EOPNOTSUPP;

    // ---------------------------------------------------------------- host operations shaped like bpf()

    /// <summary>BPF_MAP_LOOKUP_ELEM: copies the value (all CPUs' values for per-CPU maps) into <paramref name="value"/>.</summary>
    public BpfErrno LookupElem(ReadOnlySpan<byte> key, Span<byte> value)
    {
        ThrowIfDisposed();
        CheckKey(key, allowEmpty: false);
        CheckValue(value.Length);
        if ((Flags & BpfMapFlags.WriteOnly) != 0) return BpfErrno.EPERM;
        fixed (byte* k = key)
        fixed (byte* v = value)
            return HostLookup(k, v);
    }

    /// <summary>BPF_MAP_UPDATE_ELEM with <paramref name="flags"/>.</summary>
    public BpfErrno UpdateElem(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, BpfUpdateFlags flags = BpfUpdateFlags.Any)
    {
        ThrowIfDisposed();
        CheckKey(key, allowEmpty: false);
        CheckValue(value.Length);
        if (!HostCanWrite) return BpfErrno.EPERM;
        if ((flags & BpfUpdateFlags.Lock) != 0) return BpfErrno.EINVAL; // no bpf_spin_lock in values
        fixed (byte* k = key)
        fixed (byte* v = value)
            return HostUpdate(k, v, (ulong)flags);
    }

    /// <summary>BPF_MAP_DELETE_ELEM.</summary>
    public BpfErrno DeleteElem(ReadOnlySpan<byte> key)
    {
        ThrowIfDisposed();
        CheckKey(key, allowEmpty: false);
        if (!HostCanWrite) return BpfErrno.EPERM;
        fixed (byte* k = key)
            return HostDelete(k);
    }

    /// <summary>BPF_MAP_GET_NEXT_KEY; an empty <paramref name="key"/> means "no key" (start of iteration).</summary>
    public BpfErrno GetNextKey(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        ThrowIfDisposed();
        CheckKey(key, allowEmpty: true);
        if (nextKey.Length != KeySize) throw new ArgumentException($"next key buffer is {nextKey.Length} bytes; map '{Name}' has {KeySize}-byte keys", nameof(nextKey));
        if ((Flags & BpfMapFlags.WriteOnly) != 0) return BpfErrno.EPERM;
        fixed (byte* k = key)
        fixed (byte* n = nextKey)
            return ToErrno(GetNextKey(key.IsEmpty ? null : k, n));
    }

    /// <summary>BPF_MAP_LOOKUP_AND_DELETE_ELEM (queue/stack pop, hash maps).</summary>
    public BpfErrno LookupAndDeleteElem(ReadOnlySpan<byte> key, Span<byte> value)
    {
        ThrowIfDisposed();
        CheckKey(key, allowEmpty: false);
        CheckValue(value.Length);
        if ((Flags & BpfMapFlags.WriteOnly) != 0 || !HostCanWrite) return BpfErrno.EPERM;
        fixed (byte* k = key)
        fixed (byte* v = value)
            return HostLookupAndDelete(k, v);
    }

    /// <summary>BPF_MAP_FREEZE: from now on the host may not write; programs still may (unless BPF_F_RDONLY_PROG). EPERM when already frozen or BPF_F_RDONLY.</summary>
    public BpfErrno Freeze()
    {
        ThrowIfDisposed();
        if (!HostCanWrite) return BpfErrno.EPERM; // the kernel checks write permission first, so a second freeze is EPERM too
        return Interlocked.CompareExchange(ref _frozen, 1, 0) == 0 ? BpfErrno.None : BpfErrno.EBUSY;
    }

    /// <summary>Whether the host may write (not frozen, not BPF_F_RDONLY).</summary>
    protected bool HostCanWrite => !IsFrozen && (Flags & BpfMapFlags.ReadOnly) == 0;

    /// <summary>Host lookup of a validated request; the default copies <see cref="ValueSize"/> bytes from <see cref="Lookup(byte*)"/>.</summary>
    protected virtual BpfErrno HostLookup(byte* key, byte* value)
    {
        byte* p = Lookup(key);
        if (p == null) return BpfErrno.ENOENT;
        Buffer.MemoryCopy(p, value, HostValueSize, HostValueSize);
        return BpfErrno.None;
    }

    /// <summary>Host update of a validated request; the default is the program-facing update.</summary>
    protected virtual BpfErrno HostUpdate(byte* key, byte* value, ulong flags) => ToErrno(Update(key, value, flags));

    /// <summary>Host delete of a validated request; the default is the program-facing delete.</summary>
    protected virtual BpfErrno HostDelete(byte* key) => ToErrno(Delete(key));

    /// <summary>Host lookup-and-delete; unsupported (ENOTSUPP) unless overridden, like the kernel for most types.</summary>
    protected virtual BpfErrno HostLookupAndDelete(byte* key, byte* value) => BpfErrno.ENOTSUPP;

    /// <summary>Converts a helper return code (0 or negative errno) to <see cref="BpfErrno"/>.</summary>
    protected static BpfErrno ToErrno(long rc) => rc >= 0 ? BpfErrno.None : (BpfErrno)(int)-rc;

    /// <summary>Negative errno as a helper returns it.</summary>
    protected static long Err(BpfErrno e) => -(long)e;

    // ---------------------------------------------------------------- convenience host API

    /// <summary>Looks a key up; false when absent. Other errors throw <see cref="BpfMapException"/>.</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value)
    {
        var e = LookupElem(key, value);
        if (e == BpfErrno.ENOENT) return false;
        ThrowOnError(e, "lookup");
        return true;
    }

    /// <summary>Creates or updates an element; errors throw <see cref="BpfMapException"/> with the kernel's errno.</summary>
    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, BpfUpdateFlags flags = BpfUpdateFlags.Any) =>
        ThrowOnError(UpdateElem(key, value, flags), "update");

    /// <summary>Deletes an element; false when absent. Other errors throw <see cref="BpfMapException"/>.</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        var e = DeleteElem(key);
        if (e == BpfErrno.ENOENT) return false;
        ThrowOnError(e, "delete");
        return true;
    }

    /// <summary>Typed lookup: <typeparamref name="TKey"/> must be <see cref="KeySize"/> bytes, <typeparamref name="TValue"/> <see cref="HostValueSize"/>.</summary>
    public bool TryLookup<TKey, TValue>(in TKey key, out TValue value) where TKey : unmanaged where TValue : unmanaged
    {
        CheckStruct<TKey>(KeySize, "key");
        CheckStruct<TValue>(HostValueSize, "value");
        value = default;
        return TryLookup(AsBytes(in key), MemoryMarshal.AsBytes(new Span<TValue>(ref value)));
    }

    /// <summary>Typed update.</summary>
    public void Update<TKey, TValue>(in TKey key, in TValue value, BpfUpdateFlags flags = BpfUpdateFlags.Any) where TKey : unmanaged where TValue : unmanaged
    {
        CheckStruct<TKey>(KeySize, "key");
        CheckStruct<TValue>(HostValueSize, "value");
        Update(AsBytes(in key), AsBytes(in value), flags);
    }

    /// <summary>Typed delete.</summary>
    public bool Delete<TKey>(in TKey key) where TKey : unmanaged
    {
        CheckStruct<TKey>(KeySize, "key");
        return Delete(AsBytes(in key));
    }

    /// <summary>
    /// Per-CPU typed lookup: one <typeparamref name="TValue"/> per CPU (each slot is the value size rounded up to 8
    /// bytes; <typeparamref name="TValue"/> must be <see cref="ValueSize"/> bytes). Null when the key is absent.
    /// </summary>
    public TValue[]? LookupPerCpu<TKey, TValue>(in TKey key) where TKey : unmanaged where TValue : unmanaged
    {
        CheckStruct<TKey>(KeySize, "key");
        CheckStruct<TValue>(ValueSize, "per-CPU value");
        var buf = new byte[HostValueSize];
        if (!TryLookup(AsBytes(in key), buf)) return null;
        int stride = (int)MapSpec.RoundUp8(Spec.ValueSize);
        var result = new TValue[CpuCount];
        for (int c = 0; c < result.Length; c++) result[c] = MemoryMarshal.Read<TValue>(buf.AsSpan(c * stride));
        return result;
    }

    /// <summary>Keys in the map's iteration order (via get-next-key; concurrent changes may skip or repeat keys, as in the kernel).</summary>
    public IEnumerable<byte[]> Keys()
    {
        byte[]? key = null;
        for (;;)
        {
            var next = new byte[KeySize];
            if (GetNextKey(key ?? [], next) != BpfErrno.None) yield break;
            yield return next;
            key = next;
        }
    }

    /// <summary>Copies of all (key, value) pairs; elements deleted during iteration are skipped.</summary>
    public IEnumerable<(byte[] Key, byte[] Value)> Entries()
    {
        foreach (var key in Keys())
        {
            var value = new byte[HostValueSize];
            if (LookupElem(key, value) == BpfErrno.None) yield return (key, value);
        }
    }

    /// <summary>Typed copies of all (key, value) pairs.</summary>
    public IEnumerable<(TKey Key, TValue Value)> Entries<TKey, TValue>() where TKey : unmanaged where TValue : unmanaged
    {
        CheckStruct<TKey>(KeySize, "key");
        CheckStruct<TValue>(HostValueSize, "value");
        foreach (var (k, v) in Entries())
            yield return (MemoryMarshal.Read<TKey>(k), MemoryMarshal.Read<TValue>(v));
    }

    private void ThrowOnError(BpfErrno e, string op)
    {
        if (e != BpfErrno.None) throw new BpfMapException(e, $"map '{Name}' ({Type}): {op} failed");
    }

    private static ReadOnlySpan<byte> AsBytes<T>(in T v) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in v));

    private void CheckStruct<T>(int expected, string what) where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() != expected)
            throw new ArgumentException($"{what} type {typeof(T).Name} is {Unsafe.SizeOf<T>()} bytes; map '{Name}' needs {expected}");
    }

    private void CheckKey(ReadOnlySpan<byte> key, bool allowEmpty)
    {
        if (key.Length != KeySize && !(allowEmpty && key.IsEmpty))
            throw new ArgumentException($"key is {key.Length} bytes; map '{Name}' has {KeySize}-byte keys", nameof(key));
    }

    private void CheckValue(int length)
    {
        if (length != HostValueSize)
            throw new ArgumentException($"value buffer is {length} bytes; map '{Name}' has {HostValueSize}-byte host values", nameof(length));
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> after the map was released.</summary>
    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    // ---------------------------------------------------------------- lifetime

    /// <summary>Adds a reference (a map-in-map slot holding this map).</summary>
    internal void AddRef()
    {
        ObjectDisposedException.ThrowIf(Interlocked.Increment(ref _refs) <= 1, this);
    }

    /// <summary>Drops a reference; the last one frees native memory.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _refs) != 0) return;
        s_byId.TryRemove(Id, out _);
        FreeNative();
        _self.Free();
    }

    /// <summary>Frees the map's native memory; called once, when the last reference goes.</summary>
    protected abstract void FreeNative();

    /// <summary>Drops the owner's reference (idempotent).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _ownerReleased, 1) == 0) Release();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Type} '{Name}' key {KeySize} value {ValueSize} max_entries {MaxEntries} flags {Flags}";
}
