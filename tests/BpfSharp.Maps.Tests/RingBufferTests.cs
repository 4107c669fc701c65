using BpfSharp.Isa;
using System.Buffers.Binary;
using BpfSharp.Maps;
using Xunit;
using static BpfSharp.Maps.Tests.H;

namespace BpfSharp.Maps.Tests;

/// <summary>Ring buffer semantics from Documentation/bpf/ringbuf.rst and the bpf_ringbuf_* helper descriptions.</summary>
public class RingBufferTests
{
    private static RingBufferMap Create(uint size = 4096) =>
        (RingBufferMap)BpfMap.Create(new MapSpec("rb", BpfMapType.RingBuf, 0, 0, size));

    [Fact]
    public unsafe void Reserved_record_has_a_busy_header_and_blocks_the_consumer_until_submitted()
    {
        using var rb = Create();
        byte* first = rb.Reserve(5, 0);
        byte* second = rb.Reserve(3, 0);
        Assert.True(first != null && second != null);
        Assert.Equal(RingBufferMap.BusyBit | 5u, *(uint*)(first - 8));
        Assert.Equal(16, (int)(second - first)); // 8-byte header + 5 bytes, rounded up to 8
        Assert.Equal(32ul, rb.Query(RingBufferMap.QueryAvailData));
        Assert.Equal(32ul, rb.Query(RingBufferMap.QueryProducerPos));
        Assert.Equal(4096ul, rb.Query(RingBufferMap.QueryRingSize));
        Assert.Equal(0ul, rb.Query(99));
        "abc"u8.CopyTo(new Span<byte>(second, 3));
        rb.Submit(second, 0);
        var seen = new List<string>();
        Assert.Equal(0, rb.Consume(r => { seen.Add(Convert.ToHexString(r)); return 0; })); // the first record is still busy
        "hello"u8.CopyTo(new Span<byte>(first, 5));
        rb.Submit(first, 0);
        Assert.Equal(5u, *(uint*)(first - 8));
        Assert.Equal(2, rb.Consume(r => { seen.Add(System.Text.Encoding.ASCII.GetString(r)); return 0; }));
        Assert.Equal(["hello", "abc"], seen);
        Assert.Equal(32ul, rb.Query(RingBufferMap.QueryConsumerPos));
        Assert.Equal(0ul, rb.Query(RingBufferMap.QueryAvailData));
    }

    [Fact]
    public unsafe void Discarded_records_are_skipped()
    {
        using var rb = Create();
        byte* a = rb.Reserve(8, 0);
        rb.Discard(a, 0);
        Assert.Equal(RingBufferMap.DiscardBit | 8u, *(uint*)(a - 8));
        Assert.True(rb.Output("x"u8));
        var got = new List<byte[]>();
        Assert.Equal(1, rb.Consume(r => { got.Add(r.ToArray()); return 0; }));
        Assert.Equal("x"u8.ToArray(), got[0]);
    }

    [Fact]
    public unsafe void Limits_flags_and_full_buffer()
    {
        using var rb = Create();
        Assert.True(rb.Reserve(8, 1) == null); // reserve takes no flags
        byte* big = rb.Reserve(4096 - 16, 0); // a record may take at most size - 8 bytes including its header
        Assert.True(big != null);
        rb.Discard(big, 0);
        rb.Consume(_ => 0);
        Assert.True(rb.Reserve(4096 - 15, 0) == null);
        byte data = 1;
        Assert.Equal(E(BpfErrno.EINVAL), rb.Output(&data, 1, 4));
        int n = 0;
        while (rb.Output(&data, 1, RingBufferMap.NoWakeup) == 0) n++;
        Assert.Equal(4096 / 16 - 1, n); // 16-byte records; the ring never fills its last slot
        Assert.Equal(E(BpfErrno.EAGAIN), rb.Output(&data, 1, 0));
        Assert.Equal(n, rb.Consume(_ => 0));
        Assert.Equal(0, rb.Output(&data, 1, 0));
    }

    [Fact]
    public void Records_wrap_around_the_end_contiguously()
    {
        using var rb = Create();
        var rng = new Random(5);
        uint produced = 0, expected = 0;
        int wrapped = 0;
        for (int round = 0; round < 5000; round++)
        {
            int len = rng.Next(4, 700);
            var payload = new byte[len];
            BinaryPrimitives.WriteUInt32LittleEndian(payload, produced);
            for (int i = 4; i < len; i++) payload[i] = (byte)(produced + i);
            long before = rb.ProducerPosition;
            if (rb.Output(payload))
            {
                produced++;
                if ((before & 4095) + len + 8 > 4096) wrapped++; // this record continues past the end of the ring
            }
            if (rng.Next(3) == 0 || produced - expected > 8)
            {
                rb.Consume(r =>
                {
                    uint seq = BinaryPrimitives.ReadUInt32LittleEndian(r);
                    Assert.Equal(expected++, seq);
                    for (int i = 4; i < r.Length; i++) Assert.Equal((byte)(seq + i), r[i]);
                    return 0;
                });
                Assert.Equal(produced, expected);
            }
        }
        Assert.True(wrapped > 100, $"only {wrapped} records crossed the end");
    }

    [Fact]
    public unsafe void Concurrent_producers_lose_and_duplicate_nothing()
    {
        using var rb = Create(8192);
        const int producers = 3, perProducer = 20000;
        var next = new int[producers];
        long received = 0;
        var failure = (string?)null;
        using var done = new CancellationTokenSource();
        var consumer = new Thread(() =>
        {
            while (true)
            {
                bool finished = done.IsCancellationRequested;
                rb.Poll(r =>
                {
                    int p = r[0];
                    int seq = BinaryPrimitives.ReadInt32LittleEndian(r[1..]);
                    if (seq != next[p]) failure ??= $"producer {p}: got {seq}, expected {next[p]}";
                    for (int i = 5; i < r.Length; i++) if (r[i] != (byte)(seq ^ i)) failure ??= $"producer {p} record {seq} corrupt at {i}";
                    next[p] = seq + 1;
                    received++;
                    return 0;
                }, TimeSpan.FromMilliseconds(20));
                if (finished && rb.Query(RingBufferMap.QueryAvailData) == 0) return;
            }
        });
        consumer.Start();
        var threads = Enumerable.Range(0, producers).Select(p => new Thread(() =>
        {
            var rng = new Random(p);
            for (int seq = 0; seq < perProducer; seq++)
            {
                int len = 5 + rng.Next(0, 60);
                for (;;)
                {
                    byte* r = rb.Reserve((ulong)len, 0);
                    if (r == null) { Thread.Yield(); continue; }
                    r[0] = (byte)p;
                    BinaryPrimitives.WriteInt32LittleEndian(new Span<byte>(r + 1, 4), seq);
                    for (int i = 5; i < len; i++) r[i] = (byte)(seq ^ i);
                    if (seq % 7 == 0) rb.Submit(r, RingBufferMap.ForceWakeup); else rb.Submit(r, 0);
                    break;
                }
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        done.Cancel();
        Assert.True(consumer.Join(TimeSpan.FromSeconds(60)));
        Assert.Null(failure);
        Assert.Equal(producers * perProducer, received);
        Assert.All(next, n => Assert.Equal(perProducer, n));
    }

    [Fact]
    public async Task ReadAllAsync_streams_records_and_stops_on_cancellation()
    {
        using var rb = Create();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var producer = Task.Run(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                while (!rb.Output(BitConverter.GetBytes(i))) await Task.Delay(1);
                if (i % 10 == 0) await Task.Delay(2);
            }
        });
        var got = new List<int>();
        await foreach (var record in rb.ReadAllAsync(cts.Token))
        {
            got.Add(BitConverter.ToInt32(record));
            if (got.Count == 100) break;
        }
        await producer;
        Assert.Equal(Enumerable.Range(0, 100), got);
        using var cancelled = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in rb.ReadAllAsync(cancelled.Token)) { }
        });
    }

    [Fact]
    public void Map_element_commands_are_not_supported()
    {
        using var rb = Create();
        Assert.Equal(BpfErrno.ENOTSUPP, rb.LookupElem([], []));
        Assert.Equal(BpfErrno.ENOTSUPP, rb.UpdateElem([], []));
        Assert.Equal(BpfErrno.ENOTSUPP, rb.DeleteElem([]));
    }
}
