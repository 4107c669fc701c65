using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BpfSharp.Isa;

namespace BpfSharp.Linux;

/// <summary>
/// A map living in the kernel, reached through bpf(). Offers the byte-span API (keys and values as raw bytes,
/// exactly as BPF programs see them) and unmanaged generic overloads that reinterpret a struct's bytes.
/// </summary>
/// <remarks>
/// The shape (TryLookup / Update / Delete / Keys) mirrors the userspace map API so the two can share an
/// abstraction. For per-CPU maps a value is <see cref="ValueStride"/> × CPUs bytes: use the PerCpu overloads.
/// Queue, stack and bloom filter maps have no keys: use <see cref="Push"/>, <see cref="TryPop"/>, <see cref="TryPeek"/>.
/// </remarks>
public sealed class KernelMap : IDisposable
{
    private KernelMap(BpfMapHandle handle, MapInfo info)
    {
        Handle = handle;
        Type = info.Type;
        KeySize = (int)info.KeySize;
        ValueSize = (int)info.ValueSize;
        MaxEntries = (int)info.MaxEntries;
        Name = info.Name;
        Flags = info.Flags;
    }

    /// <summary>Creates a map in the kernel.</summary>
    public static KernelMap Create(MapCreateOptions options)
    {
        var handle = BpfSyscall.MapCreate(options);
        try
        {
            return new KernelMap(handle, BpfSyscall.GetMapInfo(handle));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Creates a map in the kernel from its basic parameters.</summary>
    public static KernelMap Create(BpfMapType type, int keySize, int valueSize, int maxEntries, MapCreateFlags flags = MapCreateFlags.None, string? name = null) =>
        Create(new MapCreateOptions { Type = type, KeySize = (uint)keySize, ValueSize = (uint)valueSize, MaxEntries = (uint)maxEntries, Flags = flags, Name = name });

    /// <summary>
    /// Creates a kernel map from the userspace map description shared with <c>BpfSharp.Maps</c> (the same
    /// <see cref="Maps.MapSpec"/> an object file yields). For map-in-map types a throw-away inner map of the
    /// template is created to describe the slots. Names longer than 15 characters are truncated (kernel limit).
    /// </summary>
    public static KernelMap Create(Maps.MapSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        KernelMap? inner = spec.InnerMap is null ? null : Create(spec.InnerMap);
        try
        {
            return Create(new MapCreateOptions
            {
                Type = (BpfMapType)(int)spec.Type,
                KeySize = spec.KeySize,
                ValueSize = spec.ValueSize,
                MaxEntries = spec.MaxEntries,
                Flags = (MapCreateFlags)(uint)spec.Flags,
                Name = spec.Name,
                InnerMap = inner?.Handle,
            });
        }
        finally
        {
            inner?.Dispose();
        }
    }

    /// <summary>Wraps an existing map descriptor (takes ownership of the handle).</summary>
    public static KernelMap FromHandle(BpfMapHandle handle) => new(handle, BpfSyscall.GetMapInfo(handle));

    /// <summary>Opens a map pinned in bpffs.</summary>
    public static KernelMap OpenPinned(string path) => FromHandle(new BpfMapHandle(BpfSyscall.ObjGet(path)));

    /// <summary>The map descriptor.</summary>
    public BpfMapHandle Handle { get; }

    /// <summary>The descriptor number, for patching <c>lddw rX, map_fd</c> instructions.</summary>
    public int Fd => Handle.Fd;

    /// <summary>Map type.</summary>
    public BpfMapType Type { get; }

    /// <summary>Key size in bytes.</summary>
    public int KeySize { get; }

    /// <summary>Value size in bytes (per CPU, for per-CPU maps).</summary>
    public int ValueSize { get; }

    /// <summary>Capacity.</summary>
    public int MaxEntries { get; }

    /// <summary>Name given at creation.</summary>
    public string Name { get; }

    /// <summary>Creation flags.</summary>
    public MapCreateFlags Flags { get; }

    /// <summary>Whether values are per CPU (lookups return one value per possible CPU).</summary>
    public bool IsPerCpu => Type is BpfMapType.PercpuArray or BpfMapType.PercpuHash or BpfMapType.LruPercpuHash or BpfMapType.PercpuCgroupStorage;

    /// <summary>Bytes between consecutive CPUs' values in a per-CPU value buffer (value size rounded up to 8).</summary>
    public int ValueStride => (ValueSize + 7) & ~7;

    /// <summary>Bytes a lookup writes: <see cref="ValueSize"/>, or stride × possible CPUs for per-CPU maps.</summary>
    public int ValueBufferSize => IsPerCpu ? ValueStride * LinuxSystem.PossibleCpuCount : ValueSize;

    /// <summary>Two instruction slots <c>lddw dst, map</c> (BPF_PSEUDO_MAP_FD) that load this map for helper calls.</summary>
    public (RawInstruction First, RawInstruction Second) LoadInstruction(byte dst) =>
        (new RawInstruction(0x18, dst, 1, 0, Fd), new RawInstruction(0, 0, 0, 0, 0));

    private void CheckKey(int length)
    {
        if (length != KeySize)
            throw new ArgumentException($"Map '{Name}' ({Type}) has {KeySize}-byte keys; got {length} bytes.");
    }

    private void CheckValue(int length)
    {
        if (length != ValueBufferSize)
            throw new ArgumentException($"Map '{Name}' ({Type}) needs a {ValueBufferSize}-byte value buffer" +
                (IsPerCpu ? $" ({ValueStride} × {LinuxSystem.PossibleCpuCount} CPUs)" : "") + $"; got {length} bytes.");
    }

    /// <summary>Looks up <paramref name="key"/>; on success copies the value into <paramref name="value"/>.</summary>
    public bool TryLookup(ReadOnlySpan<byte> key, Span<byte> value)
    {
        CheckKey(key.Length);
        CheckValue(value.Length);
        return BpfSyscall.MapLookup(Handle, key, value);
    }

    /// <summary>Looks up a key and returns a copy of the value, or null when absent.</summary>
    public byte[]? Lookup(ReadOnlySpan<byte> key)
    {
        byte[] value = new byte[ValueBufferSize];
        return TryLookup(key, value) ? value : null;
    }

    /// <summary>Creates or replaces the value of a key according to <paramref name="flags"/>.</summary>
    public void Update(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        CheckKey(key.Length);
        CheckValue(value.Length);
        BpfSyscall.MapUpdate(Handle, key, value, flags);
    }

    /// <summary>Deletes a key; false when it was absent. (Array elements cannot be deleted: EINVAL.)</summary>
    public bool Delete(ReadOnlySpan<byte> key)
    {
        CheckKey(key.Length);
        return BpfSyscall.MapDelete(Handle, key);
    }

    /// <summary>Looks up and removes a key atomically.</summary>
    public bool TryLookupAndDelete(ReadOnlySpan<byte> key, Span<byte> value)
    {
        CheckKey(key.Length);
        CheckValue(value.Length);
        return BpfSyscall.MapLookupAndDelete(Handle, key, value);
    }

    /// <summary>The key after <paramref name="key"/> (the first key when empty); false at the end.</summary>
    public bool TryGetNextKey(ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        if (!key.IsEmpty)
            CheckKey(key.Length);
        CheckKey(nextKey.Length);
        return BpfSyscall.MapGetNextKey(Handle, key, nextKey);
    }

    /// <summary>
    /// Enumerates all keys with GET_NEXT_KEY. Concurrent deletions by programs may restart a hash walk from the
    /// first key (kernel behaviour); each yielded array is fresh.
    /// </summary>
    public IEnumerable<byte[]> Keys()
    {
        byte[] current = [];
        while (true)
        {
            byte[] next = new byte[KeySize];
            if (!BpfSyscall.MapGetNextKey(Handle, current, next))
                yield break;
            yield return next;
            current = next;
        }
    }

    /// <summary>
    /// All (key, value) pairs as copies: batched (LOOKUP_BATCH) where the map type supports it, otherwise key by
    /// key. Same shape as the userspace maps' <c>Entries()</c>.
    /// </summary>
    public IEnumerable<(byte[] Key, byte[] Value)> Entries()
    {
        bool batched = Type is BpfMapType.Hash or BpfMapType.Array or BpfMapType.PercpuHash or BpfMapType.PercpuArray
            or BpfMapType.LruHash or BpfMapType.LruPercpuHash;
        if (batched)
        {
            foreach (var e in LookupBatch())
                yield return e;
            yield break;
        }
        foreach (byte[] key in Keys())
        {
            byte[] value = new byte[ValueBufferSize];
            if (BpfSyscall.MapLookup(Handle, key, value))   // skip keys deleted meanwhile
                yield return (key, value);
        }
    }

    /// <summary>All (key, value) pairs as unmanaged structs.</summary>
    public IEnumerable<(TKey Key, TValue Value)> Entries<TKey, TValue>() where TKey : unmanaged where TValue : unmanaged
    {
        if (Unsafe.SizeOf<TKey>() != KeySize || Unsafe.SizeOf<TValue>() != ValueBufferSize)
            throw new ArgumentException($"Map '{Name}' has {KeySize}-byte keys and {ValueBufferSize}-byte values; " +
                $"{typeof(TKey).Name} is {Unsafe.SizeOf<TKey>()} and {typeof(TValue).Name} is {Unsafe.SizeOf<TValue>()} bytes.");
        foreach (var (k, v) in Entries())
            yield return (MemoryMarshal.Read<TKey>(k), MemoryMarshal.Read<TValue>(v));
    }

    /// <summary>Pushes a value onto a queue, stack or bloom filter (BPF_EXIST on a full queue/stack evicts the oldest).</summary>
    public void Push(ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        CheckValue(value.Length);
        BpfSyscall.MapUpdate(Handle, [], value, flags);
    }

    /// <summary>Pops the head of a queue or the top of a stack; false when empty.</summary>
    public bool TryPop(Span<byte> value)
    {
        CheckValue(value.Length);
        return BpfSyscall.MapLookupAndDelete(Handle, [], value);
    }

    /// <summary>Reads the head of a queue / top of a stack without removing it; for a bloom filter, tests membership of <paramref name="value"/>.</summary>
    public bool TryPeek(Span<byte> value)
    {
        CheckValue(value.Length);
        return BpfSyscall.MapLookup(Handle, [], value);
    }

    /// <summary>Updates <paramref name="count"/> elements in one call (packed keys then packed values); returns the number updated.</summary>
    public int UpdateBatch(ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, int count, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        if (keys.Length < count * KeySize || values.Length < count * ValueBufferSize)
            throw new ArgumentException($"Batch of {count}: need {count * KeySize} key bytes and {count * ValueBufferSize} value bytes; got {keys.Length} and {values.Length}.");
        return BpfSyscall.MapUpdateBatch(Handle, keys, values, count, flags);
    }

    /// <summary>Deletes <paramref name="count"/> packed keys in one call; returns the number deleted.</summary>
    public int DeleteBatch(ReadOnlySpan<byte> keys, int count)
    {
        if (keys.Length < count * KeySize)
            throw new ArgumentException($"Batch of {count}: need {count * KeySize} key bytes; got {keys.Length}.");
        return BpfSyscall.MapDeleteBatch(Handle, keys, count);
    }

    /// <summary>
    /// Reads every element with LOOKUP_BATCH, <paramref name="batchSize"/> elements per call; yields (key, value) copies.
    /// With <paramref name="andDelete"/> the elements are removed as they are read.
    /// </summary>
    public IEnumerable<(byte[] Key, byte[] Value)> LookupBatch(int batchSize = 256, bool andDelete = false)
    {
        int tokenSize = Math.Max(KeySize, 8);
        byte[] inBatch = [], outBatch = new byte[tokenSize];
        byte[] keys = new byte[batchSize * KeySize], values = new byte[batchSize * ValueBufferSize];
        bool done = false;
        while (!done)
        {
            int n = BpfSyscall.MapLookupBatch(Handle, inBatch, outBatch, keys, values, batchSize, out done, andDelete);
            for (int i = 0; i < n; i++)
                yield return (keys.AsSpan(i * KeySize, KeySize).ToArray(), values.AsSpan(i * ValueBufferSize, ValueBufferSize).ToArray());
            inBatch = (byte[])outBatch.Clone();
        }
    }

    /// <summary>Makes the map read-only from user space (BPF_MAP_FREEZE).</summary>
    public void Freeze() => BpfSyscall.MapFreeze(Handle);

    /// <summary>Pins the map at <paramref name="path"/> in a bpffs mount.</summary>
    public void Pin(string path) => BpfSyscall.ObjPin(Handle, path);

    /// <summary>The kernel's description of the map.</summary>
    public MapInfo GetInfo() => BpfSyscall.GetMapInfo(Handle);

    // ---------------------------------------------------------------- typed overloads

    private static ReadOnlySpan<byte> Bytes<T>(in T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value));

    /// <summary>Looks up a key given as an unmanaged struct; the value's size must equal the map's value size.</summary>
    public bool TryLookup<TKey, TValue>(in TKey key, out TValue value) where TKey : unmanaged where TValue : unmanaged
    {
        value = default;
        return TryLookup(Bytes(in key), MemoryMarshal.AsBytes(new Span<TValue>(ref value)));
    }

    /// <summary>Creates or replaces a value given as unmanaged structs.</summary>
    public void Update<TKey, TValue>(in TKey key, in TValue value, MapUpdateFlags flags = MapUpdateFlags.Any) where TKey : unmanaged where TValue : unmanaged =>
        Update(Bytes(in key), Bytes(in value), flags);

    /// <summary>Deletes a key given as an unmanaged struct.</summary>
    public bool Delete<TKey>(in TKey key) where TKey : unmanaged => Delete(Bytes(in key));

    /// <summary>Enumerates the keys as unmanaged structs.</summary>
    public IEnumerable<TKey> Keys<TKey>() where TKey : unmanaged
    {
        if (Unsafe.SizeOf<TKey>() != KeySize)
            throw new ArgumentException($"Map '{Name}' has {KeySize}-byte keys; {typeof(TKey).Name} is {Unsafe.SizeOf<TKey>()} bytes.");
        foreach (byte[] k in Keys())
            yield return MemoryMarshal.Read<TKey>(k);
    }

    /// <summary>Reads a per-CPU value: one <typeparamref name="TValue"/> per possible CPU.</summary>
    public TValue[]? LookupPerCpu<TKey, TValue>(in TKey key) where TKey : unmanaged where TValue : unmanaged
    {
        if (Unsafe.SizeOf<TValue>() != ValueSize)
            throw new ArgumentException($"Map '{Name}' has {ValueSize}-byte values; {typeof(TValue).Name} is {Unsafe.SizeOf<TValue>()} bytes.");
        byte[] buf = new byte[ValueBufferSize];
        if (!TryLookup(Bytes(in key), buf))
            return null;
        var result = new TValue[LinuxSystem.PossibleCpuCount];
        for (int cpu = 0; cpu < result.Length; cpu++)
            result[cpu] = MemoryMarshal.Read<TValue>(buf.AsSpan(cpu * ValueStride));
        return result;
    }

    /// <summary>Pushes an unmanaged value onto a queue, stack or bloom filter.</summary>
    public void Push<TValue>(in TValue value, MapUpdateFlags flags = MapUpdateFlags.Any) where TValue : unmanaged => Push(Bytes(in value), flags);

    /// <summary>Pops an unmanaged value from a queue or stack.</summary>
    public bool TryPop<TValue>(out TValue value) where TValue : unmanaged
    {
        value = default;
        return TryPop(MemoryMarshal.AsBytes(new Span<TValue>(ref value)));
    }

    /// <summary>Closes the map descriptor (the map lives on while programs or pins reference it).</summary>
    public void Dispose() => Handle.Dispose();

    /// <inheritdoc/>
    public override string ToString() => $"{Type} map '{Name}' (fd {Fd}, key {KeySize} B, value {ValueSize} B, max {MaxEntries})";
}
