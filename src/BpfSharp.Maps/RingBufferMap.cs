using System.Runtime.CompilerServices;

namespace BpfSharp.Maps;

/// <summary>Handles one ring buffer record on the host; return 0 to go on, non-zero to stop consuming (that value is returned).</summary>
public delegate int RingBufferCallback(ReadOnlySpan<byte> record);

/// <summary>
/// BPF_MAP_TYPE_RINGBUF: a multi-producer, single-consumer ring of variable-length records, with the kernel's
/// record format and positions. Programs reserve/submit/discard/output; the host consumes with
/// <see cref="Consume"/>, <see cref="Poll"/> or <see cref="ReadAllAsync"/>.
/// </summary>
/// <remarks>
/// <para>Each record starts with an 8-byte header: a 32-bit length whose bit 31 (busy) is set while the record is
/// reserved and bit 30 (discard) when it was discarded, then a 32-bit field the kernel uses for the page
/// offset. Records are 8-byte aligned. Producer and consumer positions grow without wrapping;
/// <c>position &amp; (size - 1)</c> is the offset in the data area.</para>
/// <para>The kernel maps the data pages twice back to back so a record that wraps is contiguous. Here the data
/// area is allocated at twice its size instead, and the consumer reads records from the same view: a record near the
/// end continues into the second half, which no other record can occupy until the consumer has passed it.</para>
/// <para>Producers serialise on one lock (the kernel's spinlock). Wake-ups follow the kernel: a submit signals
/// the consumer when it committed the record the consumer is waiting at, unless BPF_RB_NO_WAKEUP; BPF_RB_FORCE_WAKEUP
/// always signals.</para>
/// </remarks>
public sealed unsafe class RingBufferMap : BpfMap
{
    /// <summary>BPF_RINGBUF_BUSY_BIT.</summary>
    public const uint BusyBit = 1u << 31;
    /// <summary>BPF_RINGBUF_DISCARD_BIT.</summary>
    public const uint DiscardBit = 1u << 30;
    /// <summary>BPF_RINGBUF_HDR_SZ.</summary>
    public const int HeaderSize = 8;
    /// <summary>BPF_RB_NO_WAKEUP.</summary>
    public const ulong NoWakeup = 1;
    /// <summary>BPF_RB_FORCE_WAKEUP.</summary>
    public const ulong ForceWakeup = 2;
    /// <summary>BPF_RB_AVAIL_DATA query.</summary>
    public const ulong QueryAvailData = 0;
    /// <summary>BPF_RB_RING_SIZE query.</summary>
    public const ulong QueryRingSize = 1;
    /// <summary>BPF_RB_CONS_POS query.</summary>
    public const ulong QueryConsumerPos = 2;
    /// <summary>BPF_RB_PROD_POS query.</summary>
    public const ulong QueryProducerPos = 3;

    private const ulong MaxRecordSize = uint.MaxValue / 4; // RINGBUF_MAX_RECORD_SZ

    private readonly byte* _data;
    private readonly nuint _bytes;
    private readonly ulong _mask;
    private readonly Lock _producerLock = new();
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
    private long _producerPos;
    private long _consumerPos;
    private int _consuming;

    /// <summary>Creates the ring buffer (use <see cref="BpfMap.Create"/> for any type).</summary>
    public RingBufferMap(MapSpec spec, BpfMapOptions? options = null) : base(spec, options)
    {
        _mask = spec.MaxEntries - 1ul;
        _bytes = (nuint)spec.MaxEntries * 2;
        _data = NativeMemoryTracker.AllocZeroed(_bytes);
    }

    /// <summary>Data area size in bytes (max_entries).</summary>
    public int Size => (int)(_mask + 1);

    /// <summary>Consumer position (bytes consumed since creation).</summary>
    public long ConsumerPosition => Volatile.Read(ref _consumerPos);

    /// <summary>Producer position (bytes reserved since creation).</summary>
    public long ProducerPosition => Volatile.Read(ref _producerPos);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong RecordLength(ulong size) => (size + HeaderSize + 7) & ~7ul;

    /// <summary>bpf_ringbuf_reserve: a pointer to <paramref name="size"/> writable bytes, or null (full, too big, or flags non-zero).</summary>
    public byte* Reserve(ulong size, ulong flags)
    {
        if (flags != 0) return null;
        return ReserveCore(size);
    }

    private byte* ReserveCore(ulong size)
    {
        if (size > MaxRecordSize) return null;
        ulong length = RecordLength(size);
        if (length > _mask + 1) return null;
        long consumer = Volatile.Read(ref _consumerPos);
        lock (_producerLock)
        {
            long producer = _producerPos;
            long next = producer + (long)length;
            if ((ulong)(next - consumer) > _mask) return null;
            byte* header = _data + ((ulong)producer & _mask);
            ((uint*)header)[1] = (uint)(((ulong)producer & _mask) >> 12); // page offset, as the kernel records it
            Volatile.Write(ref *(uint*)header, (uint)size | BusyBit);
            Volatile.Write(ref _producerPos, next);
            return header + HeaderSize;
        }
    }

    /// <summary>bpf_ringbuf_submit: publishes a reserved record.</summary>
    public void Submit(byte* sample, ulong flags) => Commit(sample, flags, discard: false);

    /// <summary>bpf_ringbuf_discard: releases a reserved record; the consumer skips it.</summary>
    public void Discard(byte* sample, ulong flags) => Commit(sample, flags, discard: true);

    private void Commit(byte* sample, ulong flags, bool discard)
    {
        byte* header = sample - HeaderSize;
        uint length = Volatile.Read(ref *(uint*)header) & ~BusyBit;
        if (discard) length |= DiscardBit;
        long recordPos = (long)(header - _data); // offset inside the ring
        Volatile.Write(ref *(uint*)header, length); // clears busy: the record is visible to the consumer
        long consumer = Volatile.Read(ref _consumerPos);
        if ((flags & ForceWakeup) != 0 || ((flags & NoWakeup) == 0 && (long)((ulong)consumer & _mask) == recordPos))
            Wake();
    }

    /// <summary>bpf_ringbuf_output: copies <paramref name="size"/> bytes as one record; 0, -EINVAL (bad flags) or -EAGAIN (full).</summary>
    public long Output(byte* data, ulong size, ulong flags)
    {
        if ((flags & ~(NoWakeup | ForceWakeup)) != 0) return Err(BpfErrno.EINVAL);
        byte* record = ReserveCore(size);
        if (record == null) return Err(BpfErrno.EAGAIN);
        Buffer.MemoryCopy(data, record, (long)size, (long)size);
        Commit(record, flags, discard: false);
        return 0;
    }

    /// <summary>Host convenience for <see cref="Output(byte*, ulong, ulong)"/>: false when the ring is full.</summary>
    public bool Output(ReadOnlySpan<byte> record, ulong flags = 0)
    {
        fixed (byte* p = record)
        {
            long rc = Output(p, (ulong)record.Length, flags);
            if (rc == Err(BpfErrno.EINVAL)) throw new ArgumentException($"invalid ring buffer flags 0x{flags:x}", nameof(flags));
            return rc == 0;
        }
    }

    /// <summary>bpf_ringbuf_query: available data, ring size, consumer or producer position; 0 for unknown flags.</summary>
    public ulong Query(ulong flags) => flags switch
    {
        QueryAvailData => (ulong)(Volatile.Read(ref _producerPos) - Volatile.Read(ref _consumerPos)),
        QueryRingSize => _mask + 1,
        QueryConsumerPos => (ulong)Volatile.Read(ref _consumerPos),
        QueryProducerPos => (ulong)Volatile.Read(ref _producerPos),
        _ => 0,
    };

    private void Wake()
    {
        if (_signal.CurrentCount == 0) _signal.Release();
    }

    /// <summary>
    /// Hands every committed record to <paramref name="callback"/> in order, skipping discarded ones, and stops at
    /// the first record still being written. Returns the number of records handed over, or the callback's
    /// non-zero result when it asked to stop (that record counts as consumed). One consumer at a time.
    /// </summary>
    public int Consume(RingBufferCallback callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        ThrowIfDisposed();
        if (Interlocked.Exchange(ref _consuming, 1) != 0) throw new InvalidOperationException($"ring buffer '{Name}' already has an active consumer");
        try
        {
            int count = 0;
            long consumer = _consumerPos;
            for (;;)
            {
                long producer = Volatile.Read(ref _producerPos);
                if (consumer >= producer) return count;
                byte* header = _data + ((ulong)consumer & _mask);
                uint length = Volatile.Read(ref *(uint*)header);
                if ((length & BusyBit) != 0) return count;
                uint size = length & ~(BusyBit | DiscardBit);
                consumer += (long)RecordLength(size);
                int rc = 0;
                if ((length & DiscardBit) == 0)
                {
                    count++;
                    try { rc = callback(new ReadOnlySpan<byte>(header + HeaderSize, (int)size)); }
                    catch { Volatile.Write(ref _consumerPos, consumer); throw; }
                }
                Volatile.Write(ref _consumerPos, consumer);
                if (rc != 0) return rc;
            }
        }
        finally { Volatile.Write(ref _consuming, 0); }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for records (like ring_buffer__poll), then consumes them.</summary>
    public int Poll(RingBufferCallback callback, TimeSpan timeout)
    {
        int n = Consume(callback);
        if (n != 0 || timeout == TimeSpan.Zero) return n;
        _signal.Wait(timeout);
        return Consume(callback);
    }

    /// <summary>True when a committed record is waiting at the consumer position.</summary>
    private bool HasCommittedRecord()
    {
        long consumer = Volatile.Read(ref _consumerPos);
        if (consumer >= Volatile.Read(ref _producerPos)) return false;
        return (Volatile.Read(ref *(uint*)(_data + ((ulong)consumer & _mask))) & BusyBit) == 0;
    }

    /// <summary>Copies of records as they arrive, until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async IAsyncEnumerable<byte[]> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var batch = new List<byte[]>();
        for (;;)
        {
            batch.Clear();
            Consume(r => { batch.Add(r.ToArray()); return 0; });
            foreach (var record in batch) yield return record;
            if (batch.Count == 0)
            {
                if (HasCommittedRecord()) continue;
                // A bounded wait also covers records submitted with BPF_RB_NO_WAKEUP.
                await _signal.WaitAsync(TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
            }
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <inheritdoc />
    public override byte* Lookup(byte* key) => null;

    /// <inheritdoc />
    public override long Update(byte* key, byte* value, ulong flags) => Err(BpfErrno.ENOTSUPP);

    /// <inheritdoc />
    public override long Delete(byte* key) => Err(BpfErrno.ENOTSUPP);

    /// <inheritdoc />
    public override long GetNextKey(byte* key, byte* nextKey) => Err(BpfErrno.ENOTSUPP);

    /// <inheritdoc />
    protected override BpfErrno HostLookup(byte* key, byte* value) => BpfErrno.ENOTSUPP;

    /// <inheritdoc />
    protected override void FreeNative()
    {
        NativeMemoryTracker.Free(_data, _bytes);
        _signal.Dispose();
    }
}
