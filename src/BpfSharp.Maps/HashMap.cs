using BpfSharp.Isa;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BpfSharp.Maps;

/// <summary>
/// BPF_MAP_TYPE_HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH.
/// </summary>
/// <remarks>
/// <para>Layout follows the kernel so iteration order can match it: <c>roundup_pow_of_two(max_entries)</c> buckets,
/// jhash of the key with a random seed (0 with BPF_F_ZERO_SEED), new elements pushed at the head of their
/// bucket, get-next-key walking the bucket chain then the following buckets.</para>
/// <para>Concurrency: lookups are lock-free; writers take one of a set of striped bucket locks. An update of an
/// existing key publishes a fresh element and unlinks the old one, so readers see either whole value (per-CPU
/// maps update in place, as in the kernel). Unlinked elements are recycled through <see cref="BpfEpoch"/>.</para>
/// <para>LRU maps: when full, an insert evicts the least recently used element with a second-chance (CLOCK)
/// policy, lookups setting a reference bit, approximating the kernel's active/inactive lists. The kernel may
/// also evict earlier because free nodes sit in per-CPU caches; this implementation evicts only when full.</para>
/// </remarks>
public unsafe class HashMap : BpfMap
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Elem
    {
        public nint Next;       // next element in the bucket chain (Elem*)
        public uint Hash;
        public int Referenced;  // LRU reference bit
        public nint LruPrev;
        public nint LruNext;
        public int InLru;
        public int Padding;
    }

    private static readonly int HeaderSize = sizeof(Elem);

    private readonly nint* _buckets;
    private readonly uint _bucketMask;
    // A bucket stripe: its lock guards its buckets and a small cache of free and retired elements, so updates
    // recycle elements without touching the shared pool's lock.
    private sealed class Stripe
    {
        public const int CacheSize = 32;
        public readonly Lock Gate = new();
        public readonly nint[] Free = new nint[CacheSize];
        public int FreeCount;
        public Queue<(nint Element, long Epoch)>? Limbo;
    }

    private readonly Stripe[] _locks;
    private readonly uint _lockMask;
    private readonly ElementPool _pool;
    private readonly uint _seed;
    private readonly int _keySize;
    private readonly int _keyStride;
    private readonly int _valueStride;      // one CPU's slot (value size rounded up to 8)
    private readonly int _storedValueSize;  // bytes stored per element (all CPUs)
    private readonly int _cpus;
    private readonly bool _perCpu;
    private readonly bool _lru;
    private readonly int _max;
    private int _count;

    // LRU list (oldest at head), guarded by _lruLock.
    private readonly Lock _lruLock = new();
    private Elem* _lruHead;
    private Elem* _lruTail;

    /// <summary>Creates the hash map (use <see cref="BpfMap.Create"/> for any type).</summary>
    public HashMap(MapSpec spec, BpfMapOptions? options = null) : this(spec, options, 0) { }

    /// <summary>Creates a hash map storing <paramref name="storedValueSize"/> bytes per element (0: from the spec).</summary>
    private protected HashMap(MapSpec spec, BpfMapOptions? options, int storedValueSize) : base(RoundLruEntries(spec, options), options)
    {
        if (spec.Type is not (BpfMapType.Hash or BpfMapType.PerCpuHash or BpfMapType.LruHash or BpfMapType.LruPerCpuHash or BpfMapType.HashOfMaps))
            throw new MapSpecException(BpfErrno.EINVAL, spec.Name, $"{spec.Type} is not a hash type");
        _perCpu = Spec.IsPerCpu;
        _lru = Spec.Type is BpfMapType.LruHash or BpfMapType.LruPerCpuHash;
        _cpus = CpuCount;
        _max = (int)Spec.MaxEntries;
        _keySize = (int)Spec.KeySize;
        _keyStride = (int)MapSpec.RoundUp8(Spec.KeySize);
        _valueStride = storedValueSize != 0 ? storedValueSize : (int)MapSpec.RoundUp8(Spec.ValueSize);
        _storedValueSize = _valueStride * _cpus;
        _seed = (Spec.Flags & BpfMapFlags.ZeroSeed) != 0 ? 0u : (uint)Random.Shared.Next() ^ ((uint)Random.Shared.Next() << 1);
        uint buckets = BitOperations.RoundUpToPowerOf2(Spec.MaxEntries);
        _bucketMask = buckets - 1;
        _buckets = (nint*)NativeMemoryTracker.AllocZeroed((nuint)buckets * (nuint)sizeof(nint));
        uint lockCount = Math.Min(buckets, 1024u);
        _lockMask = lockCount - 1;
        _locks = new Stripe[lockCount];
        for (int i = 0; i < _locks.Length; i++) _locks[i] = new Stripe();
        _pool = new ElementPool((nuint)(HeaderSize + _keyStride + _storedValueSize), Spec.MaxEntries);
    }

    // With BPF_F_NO_COMMON_LRU the kernel rounds max_entries up to a multiple of the CPU count.
    private static MapSpec RoundLruEntries(MapSpec spec, BpfMapOptions? options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Type is not (BpfMapType.LruHash or BpfMapType.LruPerCpuHash) || (spec.Flags & BpfMapFlags.NoCommonLru) == 0) return spec;
        uint cpus = (uint)(options ?? BpfMapOptions.Default).CpuCount;
        ulong rounded = (spec.MaxEntries + (ulong)cpus - 1) / cpus * cpus;
        return rounded > uint.MaxValue ? spec : spec with { MaxEntries = (uint)rounded };
    }

    /// <summary>Number of elements.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Number of buckets (roundup_pow_of_two(max_entries)).</summary>
    public int BucketCount => (int)(_bucketMask + 1);

    /// <summary>Elements waiting in limbo for running programs to finish (see <see cref="BpfEpoch"/>).</summary>
    public int RetiredElementCount
    {
        get
        {
            int n = _pool.LimboCount;
            foreach (var s in _locks) lock (s.Gate) n += s.Limbo?.Count ?? 0;
            return n;
        }
    }

    // Caller holds s.Gate.
    private Elem* AllocateIn(Stripe s)
    {
        if (s.FreeCount == 0) ReclaimIn(s);
        if (s.FreeCount == 0) s.FreeCount = _pool.TakeBatch(s.Free.AsSpan(0, Stripe.CacheSize / 2));
        var e = (Elem*)s.Free[--s.FreeCount];
        NativeMemory.Clear(e, _pool.ElementSize);
        return e;
    }

    // Caller holds s.Gate; 'e' is unlinked and its value already released. A stripe that mostly deletes
    // hands its reclaimed elements back to the shared pool, so memory stays bounded by the live elements
    // plus what running programs may still see.
    private void RetireIn(Stripe s, Elem* e)
    {
        var limbo = s.Limbo ??= new();
        limbo.Enqueue(((nint)e, BpfEpoch.Current));
        if (limbo.Count > 4 * Stripe.CacheSize) ReclaimIn(s);
    }

    // Caller holds s.Gate: moves retired elements no program scope can still see into the stripe's cache,
    // overflow back to the shared pool.
    private void ReclaimIn(Stripe s)
    {
        var limbo = s.Limbo;
        if (limbo is null || limbo.Count == 0) return;
        long minActive = BpfEpoch.MinimumActive();
        while (limbo.Count > 0 && limbo.Peek().Epoch < minActive)
        {
            if (s.FreeCount == Stripe.CacheSize)
            {
                _pool.ReturnBatch(s.Free.AsSpan(Stripe.CacheSize / 2));
                s.FreeCount = Stripe.CacheSize / 2;
            }
            s.Free[s.FreeCount++] = limbo.Dequeue().Element;
        }
        if (limbo.Count > 0) BpfEpoch.Advance();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint HashKey(byte* key) => _keySize switch
    {
        4 => JHash.Hash4(*(uint*)key, _seed),
        8 => JHash.Hash8(*(uint*)key, *(uint*)(key + 4), _seed),
        _ => JHash.Hash(new ReadOnlySpan<byte>(key, _keySize), _seed),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* KeyOf(Elem* e) => (byte*)e + HeaderSize;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* ValueOf(Elem* e) => (byte*)e + HeaderSize + _keyStride;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool KeyEquals(Elem* e, byte* key) => _keySize switch
    {
        4 => *(uint*)KeyOf(e) == *(uint*)key,
        8 => *(ulong*)KeyOf(e) == *(ulong*)key,
        _ => new ReadOnlySpan<byte>(KeyOf(e), _keySize).SequenceEqual(new ReadOnlySpan<byte>(key, _keySize)),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Elem* Find(byte* key, uint hash)
    {
        for (var e = (Elem*)Volatile.Read(ref _buckets[hash & _bucketMask]); e != null; e = (Elem*)Volatile.Read(ref e->Next))
            if (e->Hash == hash && KeyEquals(e, key)) return e;
        return null;
    }

    private int CurrentCpu
    {
        get
        {
            int c = BpfCpu.Current;
            return c < _cpus ? c : c % _cpus;
        }
    }

    /// <summary>The element's value storage (all CPUs), or null: for subclasses with their own value format.</summary>
    private protected byte* LookupStorage(byte* key)
    {
        var e = Find(key, HashKey(key));
        return e == null ? null : ValueOf(e);
    }

    /// <inheritdoc />
    public override byte* Lookup(byte* key)
    {
        var e = Find(key, HashKey(key));
        if (e == null) return null;
        if (_lru && e->Referenced == 0) e->Referenced = 1;
        return _perCpu ? ValueOf(e) + CurrentCpu * _valueStride : ValueOf(e);
    }

    /// <inheritdoc />
    public override byte* LookupPerCpu(byte* key, uint cpu)
    {
        if (!_perCpu || cpu >= (uint)_cpus) return null;
        var e = Find(key, HashKey(key));
        if (e == null) return null;
        if (_lru && e->Referenced == 0) e->Referenced = 1;
        return ValueOf(e) + (int)cpu * _valueStride;
    }

    /// <inheritdoc />
    public override long Update(byte* key, byte* value, ulong flags) => UpdateCore(key, value, flags, allCpus: false);

    /// <inheritdoc />
    protected override BpfErrno HostUpdate(byte* key, byte* value, ulong flags) => ToErrno(UpdateCore(key, value, flags, allCpus: true));

    /// <summary>Copies a value into a fresh element's storage.</summary>
    private protected virtual void WriteNewValue(byte* storage, byte* value, bool allCpus)
    {
        if (!_perCpu) { Buffer.MemoryCopy(value, storage, ValueSize, ValueSize); return; }
        if (allCpus)
            for (int c = 0; c < _cpus; c++) Buffer.MemoryCopy(value + c * _valueStride, storage + c * _valueStride, ValueSize, ValueSize);
        else
            Buffer.MemoryCopy(value, storage + CurrentCpu * _valueStride, ValueSize, ValueSize); // other CPUs stay zero
    }

    /// <summary>
    /// Whether an update of an existing key overwrites the value where it is (the kernel's
    /// htab_map_update_elem_in_place: per-CPU maps and hash of maps) instead of publishing a new element.
    /// </summary>
    private protected virtual bool UpdatesInPlace => _perCpu;

    /// <summary>Overwrites an existing element's value (caller holds the bucket lock).</summary>
    private protected virtual void UpdateInPlace(byte* storage, byte* value, bool allCpus)
    {
        if (allCpus)
            for (int c = 0; c < _cpus; c++) Buffer.MemoryCopy(value + c * _valueStride, storage + c * _valueStride, ValueSize, ValueSize);
        else
            Buffer.MemoryCopy(value, storage + CurrentCpu * _valueStride, ValueSize, ValueSize);
    }

    /// <summary>Called when an element's value leaves the map (deleted, replaced or map freed).</summary>
    private protected virtual void OnValueRemoved(byte* storage) { }

    private protected long UpdateCore(byte* key, byte* value, ulong flags, bool allCpus)
    {
        if ((flags & ~(ulong)BpfUpdateFlags.Lock) > (ulong)BpfUpdateFlags.Exist) return Err(BpfErrno.EINVAL);
        if ((flags & (ulong)BpfUpdateFlags.Lock) != 0) return Err(BpfErrno.EINVAL); // no bpf_spin_lock in values
        uint hash = HashKey(key);
        ref nint bucket = ref _buckets[hash & _bucketMask];
        Stripe stripe = _locks[hash & _lockMask];
        for (int attempt = 0; ; attempt++)
        {
            if (_lru && Volatile.Read(ref _count) >= _max) EvictOne();
            Elem* old;
            Elem* e;
            lock (stripe.Gate)
            {
                old = Find(key, hash);
                if (flags == (ulong)BpfUpdateFlags.NoExist && old != null) return Err(BpfErrno.EEXIST);
                if (flags == (ulong)BpfUpdateFlags.Exist && old == null) return Err(BpfErrno.ENOENT);
                if (old != null && UpdatesInPlace)
                {
                    UpdateInPlace(ValueOf(old), value, allCpus);
                    if (_lru) Touch(old);
                    return 0;
                }
                if (old == null && Interlocked.Increment(ref _count) > _max)
                {
                    Interlocked.Decrement(ref _count);
                    if (!_lru) return Err(BpfErrno.E2BIG);
                    if (attempt > 64) return Err(BpfErrno.ENOMEM);
                    goto Retry; // evict outside the bucket lock, then try again
                }
                try { e = AllocateIn(stripe); }
                catch (BpfMapException) { if (old == null) Interlocked.Decrement(ref _count); return Err(BpfErrno.ENOMEM); }
                e->Hash = hash;
                Buffer.MemoryCopy(key, KeyOf(e), _keySize, _keySize);
                WriteNewValue(ValueOf(e), value, allCpus);
                e->Next = bucket;
                Volatile.Write(ref bucket, (nint)e); // publish the fully initialised element
                if (old != null) Unlink(ref bucket, old);
                if (_lru)
                {
                    lock (_lruLock)
                    {
                        if (old != null) LruRemove(old);
                        LruAppend(e);
                    }
                }
                if (old != null)
                {
                    OnValueRemoved(ValueOf(old));
                    RetireIn(stripe, old);
                }
            }
            return 0;
        Retry:;
        }
    }

    // Removes 'target' from the chain starting at 'bucket' (caller holds the bucket's lock).
    private static bool Unlink(ref nint bucket, Elem* target)
    {
        if (bucket == (nint)target) { Volatile.Write(ref bucket, target->Next); return true; }
        for (var p = (Elem*)bucket; p != null; p = (Elem*)p->Next)
        {
            if (p->Next == (nint)target)
            {
                Volatile.Write(ref p->Next, target->Next); // readers standing on target still reach the rest
                return true;
            }
        }
        return false;
    }

    /// <inheritdoc />
    public override long Delete(byte* key)
    {
        uint hash = HashKey(key);
        ref nint bucket = ref _buckets[hash & _bucketMask];
        var stripe = _locks[hash & _lockMask];
        lock (stripe.Gate)
        {
            var e = Find(key, hash);
            if (e == null) return Err(BpfErrno.ENOENT);
            Unlink(ref bucket, e);
            Interlocked.Decrement(ref _count);
            if (_lru) lock (_lruLock) LruRemove(e);
            OnValueRemoved(ValueOf(e));
            RetireIn(stripe, e);
        }
        return 0;
    }

    /// <inheritdoc />
    public override long GetNextKey(byte* key, byte* nextKey)
    {
        uint i = 0;
        if (key != null)
        {
            uint hash = HashKey(key);
            var e = Find(key, hash);
            if (e != null)
            {
                var next = (Elem*)Volatile.Read(ref e->Next);
                if (next != null)
                {
                    Buffer.MemoryCopy(KeyOf(next), nextKey, _keySize, _keySize);
                    return 0;
                }
                i = (hash & _bucketMask) + 1;
            }
        }
        for (; i <= _bucketMask; i++)
        {
            var first = (Elem*)Volatile.Read(ref _buckets[i]);
            if (first != null)
            {
                Buffer.MemoryCopy(KeyOf(first), nextKey, _keySize, _keySize);
                return 0;
            }
        }
        return Err(BpfErrno.ENOENT);
    }

    /// <inheritdoc />
    public override long ForEachElement(MapElementVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        long n = 0;
        int cpuOffset = _perCpu ? CurrentCpu * _valueStride : 0;
        for (uint i = 0; i <= _bucketMask; i++)
        {
            for (var e = (Elem*)Volatile.Read(ref _buckets[i]); e != null; e = (Elem*)Volatile.Read(ref e->Next))
            {
                n++;
                if (!visitor(KeyOf(e), ValueOf(e) + cpuOffset)) return n;
            }
        }
        return n;
    }

    /// <inheritdoc />
    protected override BpfErrno HostLookup(byte* key, byte* value)
    {
        var e = Find(key, HashKey(key));
        if (e == null) return BpfErrno.ENOENT;
        if (_lru && e->Referenced == 0) e->Referenced = 1;
        CopyOut(e, value);
        return BpfErrno.None;
    }

    private void CopyOut(Elem* e, byte* value)
    {
        if (_perCpu) Buffer.MemoryCopy(ValueOf(e), value, HostValueSize, HostValueSize);
        else Buffer.MemoryCopy(ValueOf(e), value, ValueSize, ValueSize);
    }

    /// <inheritdoc />
    protected override BpfErrno HostLookupAndDelete(byte* key, byte* value)
    {
        uint hash = HashKey(key);
        ref nint bucket = ref _buckets[hash & _bucketMask];
        var stripe = _locks[hash & _lockMask];
        lock (stripe.Gate)
        {
            var e = Find(key, hash);
            if (e == null) return BpfErrno.ENOENT;
            CopyOut(e, value);
            Unlink(ref bucket, e);
            Interlocked.Decrement(ref _count);
            if (_lru) lock (_lruLock) LruRemove(e);
            OnValueRemoved(ValueOf(e));
            RetireIn(stripe, e);
        }
        return BpfErrno.None;
    }

    // ---------------------------------------------------------------- LRU list (caller holds _lruLock)

    private void LruAppend(Elem* e)
    {
        e->LruPrev = (nint)_lruTail;
        e->LruNext = 0;
        if (_lruTail != null) _lruTail->LruNext = (nint)e; else _lruHead = e;
        _lruTail = e;
        e->InLru = 1;
    }

    private void LruRemove(Elem* e)
    {
        if (e->InLru == 0) return;
        var prev = (Elem*)e->LruPrev;
        var next = (Elem*)e->LruNext;
        if (prev != null) prev->LruNext = (nint)next; else _lruHead = next;
        if (next != null) next->LruPrev = (nint)prev; else _lruTail = prev;
        e->InLru = 0;
    }

    private void Touch(Elem* e)
    {
        lock (_lruLock)
        {
            if (e->InLru == 0) return;
            LruRemove(e);
            LruAppend(e);
        }
    }

    // Evicts one element: the oldest whose reference bit is clear; referenced ones get a second chance.
    private void EvictOne()
    {
        // Inside a scope so a victim deleted concurrently cannot be recycled while we still compare its address.
        using var scope = BpfEpoch.Enter();
        Elem* victim;
        lock (_lruLock)
        {
            int budget = Volatile.Read(ref _count) + 1;
            victim = _lruHead;
            while (victim != null && victim->Referenced != 0 && budget-- > 0)
            {
                victim->Referenced = 0;
                LruRemove(victim);
                LruAppend(victim);
                victim = _lruHead;
            }
            if (victim == null) return;
            LruRemove(victim);
        }
        uint hash = victim->Hash;
        var stripe = _locks[hash & _lockMask];
        lock (stripe.Gate)
        {
            if (Unlink(ref _buckets[hash & _bucketMask], victim))
            {
                Interlocked.Decrement(ref _count);
                OnValueRemoved(ValueOf(victim));
                RetireIn(stripe, victim);
            }
        }
    }

    /// <inheritdoc />
    protected override void FreeNative()
    {
        for (uint i = 0; i <= _bucketMask; i++)
            for (var e = (Elem*)_buckets[i]; e != null; e = (Elem*)e->Next)
                OnValueRemoved(ValueOf(e));
        NativeMemoryTracker.Free((byte*)_buckets, (nuint)(_bucketMask + 1) * (nuint)sizeof(nint));
        _pool.Dispose();
    }
}
