using BpfSharp.Isa;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>Receives one ring buffer record; the span is only valid during the call.</summary>
public delegate void RingBufferRecordHandler(ReadOnlySpan<byte> record);

/// <summary>
/// Consumer of a BPF_MAP_TYPE_RINGBUF map, reading records straight from shared memory.
/// </summary>
/// <remarks>
/// Layout (kernel/bpf/ringbuf.c): page 0 holds the consumer position (mapped read-write); page 1 the producer
/// position; then the data area, mapped twice back to back so a record that wraps is still contiguous. Each
/// record has an 8-byte header: u32 length with BUSY (bit 31, still being written) and DISCARD (bit 30) flags,
/// u32 page offset; records are 8-byte aligned. The consumer publishes its position as it goes (every 64
/// records and at the end of each batch) so the producer can reuse the space. Waiting uses epoll on the map fd
/// (readable when data is available), plus an eventfd to wake a waiter on cancellation or dispose. One consumer
/// thread at a time.
/// </remarks>
public sealed unsafe class RingBuffer : IDisposable
{
    private const uint BusyBit = 1u << 31, DiscardBit = 1u << 30;
    private const int HeaderSize = 8;

    private readonly KernelMap _map;
    private readonly nint _consumerPage, _producerArea;
    private readonly nuint _producerAreaLength;
    private readonly int _pageSize;
    private readonly ulong _mask;
    private readonly ulong* _consumerPos;
    private readonly ulong* _producerPos;
    private readonly byte* _data;
    private readonly int _epoll, _wakeFd;
    private int _disposed;

    /// <summary>Maps the ring buffer of <paramref name="map"/> (which must be a ring buffer map; it is not disposed by this object).</summary>
    public RingBuffer(KernelMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (map.Type != BpfMapType.Ringbuf)
            throw new ArgumentException($"{map} is not a ring buffer map.", nameof(map));
        _map = map;
        _pageSize = LibC.PageSize;
        ulong size = (ulong)(uint)map.MaxEntries;
        _mask = size - 1;
        int fd = map.Fd;
        _consumerPage = LibC.Mmap(0, (nuint)_pageSize, LibC.ProtRead | LibC.ProtWrite, LibC.MapShared, fd, 0);
        if (_consumerPage == LibC.MapFailed)
            throw new BpfException("mmap(ring buffer consumer page)", Marshal.GetLastPInvokeError());
        _producerAreaLength = (nuint)((ulong)_pageSize + 2 * size);
        _producerArea = LibC.Mmap(0, _producerAreaLength, LibC.ProtRead, LibC.MapShared, fd, _pageSize);
        if (_producerArea == LibC.MapFailed)
        {
            int errno = Marshal.GetLastPInvokeError();
            LibC.Munmap(_consumerPage, (nuint)_pageSize);
            throw new BpfException("mmap(ring buffer data)", errno);
        }
        _consumerPos = (ulong*)_consumerPage;
        _producerPos = (ulong*)_producerArea;
        _data = (byte*)_producerArea + _pageSize;

        _epoll = LibC.EpollCreate1(LibC.EpollCloexec);
        _wakeFd = LibC.EventFd(0, LibC.EfdCloexec | LibC.EfdNonblock);
        if (_epoll < 0 || _wakeFd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Release();
            throw new BpfException("epoll_create1/eventfd", errno);
        }
        AddToEpoll(fd, 0);
        AddToEpoll(_wakeFd, 1);
    }

    private void AddToEpoll(int fd, ulong tag)
    {
        var ev = new LibC.EpollEvent { Events = LibC.EpollIn, Data = tag };
        if (LibC.EpollCtl(_epoll, LibC.EpollCtlAdd, fd, &ev) != 0)
            throw new BpfException("epoll_ctl", Marshal.GetLastPInvokeError());
    }

    /// <summary>The ring buffer map.</summary>
    public KernelMap Map => _map;

    /// <summary>Bytes produced but not yet consumed (including record headers).</summary>
    public long PendingBytes => (long)(Volatile.Read(ref *_producerPos) - Volatile.Read(ref *_consumerPos));

    /// <summary>Total records delivered by this consumer. (Records the program could not reserve are never seen here: bpf_ringbuf_output/reserve fail in the program when the buffer is full.)</summary>
    public long Consumed { get; private set; }

    /// <summary>
    /// Delivers every complete record available now to <paramref name="handler"/> and returns how many it got.
    /// Stops at a record still being written (BUSY). Never blocks.
    /// </summary>
    public int Consume(RingBufferRecordHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int count = 0;
        ulong cons = Volatile.Read(ref *_consumerPos);
        while (true)
        {
            ulong prod = Volatile.Read(ref *_producerPos);   // acquire: records below prod are published
            if (cons >= prod)
                break;
            do
            {
                byte* rec = _data + (cons & _mask);
                uint len = Volatile.Read(ref *(uint*)rec);
                if ((len & BusyBit) != 0)
                    goto done;
                uint payload = len & ~(BusyBit | DiscardBit);
                cons += (payload + HeaderSize + 7) & ~7u;
                if ((len & DiscardBit) == 0)
                {
                    handler(new ReadOnlySpan<byte>(rec + HeaderSize, (int)payload));
                    count++;
                }
                // Release space to the producer every 64 records rather than after each one: the producer reads
                // the consumer position on every reservation, so fewer writes mean less cache-line traffic.
                if ((count & 63) == 0)
                    Volatile.Write(ref *_consumerPos, cons);
            }
            while (cons < prod);
            Volatile.Write(ref *_consumerPos, cons);
        }
    done:
        Volatile.Write(ref *_consumerPos, cons);
        Consumed += count;
        return count;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (−1: forever) for data, then consumes what is available.
    /// Returns the number of records delivered (0 on timeout or wake-up).
    /// </summary>
    public int Poll(RingBufferRecordHandler handler, int timeoutMs)
    {
        int n = Consume(handler);
        if (n > 0)
            return n;
        Wait(timeoutMs);
        return Consume(handler);
    }

    private void Wait(int timeoutMs)
    {
        byte* events = stackalloc byte[4 * 16];
        int r = LibC.EpollWait(_epoll, (LibC.EpollEvent*)events, 4, timeoutMs);
        if (r < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errnos.EINTR)
                throw new BpfException("epoll_wait", errno);
        }
    }

    /// <summary>Runs a consume loop on the calling thread until <paramref name="cancellation"/> fires.</summary>
    public void Run(RingBufferRecordHandler handler, CancellationToken cancellation)
    {
        using var registration = cancellation.Register(Wake);
        while (!cancellation.IsCancellationRequested)
            Poll(handler, 1000);
        Consume(handler);
    }

    /// <summary>Wakes a thread blocked in <see cref="Poll"/> or <see cref="Run"/>.</summary>
    public void Wake()
    {
        if (_disposed != 0)
            return;
        ulong one = 1;
        LibC.Write(_wakeFd, &one, 8);
    }

    /// <summary>
    /// Streams records as byte arrays (each a copy) until <paramref name="cancellation"/> fires. The reading
    /// happens on a dedicated background thread feeding a bounded channel (capacity <paramref name="capacity"/>).
    /// </summary>
    public async IAsyncEnumerable<byte[]> ReadAllAsync(int capacity = 65536, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var channel = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var writer = channel.Writer;
        var thread = new Thread(() =>
        {
            try
            {
                Run(record =>
                {
                    byte[] copy = record.ToArray();
                    while (!writer.TryWrite(copy))
                    {
                        if (stop.IsCancellationRequested)
                            return;
                        writer.WaitToWriteAsync(stop.Token).AsTask().GetAwaiter().GetResult();
                    }
                }, stop.Token);
                writer.TryComplete();
            }
            catch (OperationCanceledException)
            {
                writer.TryComplete();
            }
            catch (Exception ex)
            {
                writer.TryComplete(ex);
            }
        }) { IsBackground = true, Name = "ringbuf " + _map.Name };
        thread.Start();
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await channel.Reader.WaitToReadAsync(cancellation).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
                if (!more)
                    yield break;
                while (channel.Reader.TryRead(out byte[]? item))
                    yield return item;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            Wake();
            thread.Join();
        }
    }

    private void Release()
    {
        LibC.Munmap(_producerArea, _producerAreaLength);
        LibC.Munmap(_consumerPage, (nuint)_pageSize);
        if (_epoll >= 0) LibC.Close(_epoll);
        if (_wakeFd >= 0) LibC.Close(_wakeFd);
    }

    /// <summary>Unmaps the buffer (the map itself stays open).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Release();
    }
}
