using BpfSharp.Isa;
using BpfSharp.Maps;
using Xunit;
using static BpfSharp.Maps.Tests.H;

namespace BpfSharp.Maps.Tests;

/// <summary>Several threads acting as programs (inside <see cref="BpfEpoch"/> scopes) plus a host reader.</summary>
public class ConcurrencyTests
{
    private static void RunThreads(int count, Action<int> body)
    {
        var errors = new List<Exception>();
        var threads = Enumerable.Range(0, count).Select(i => new Thread(() =>
        {
            try { body(i); }
            catch (Exception e) { lock (errors) errors.Add(e); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (errors.Count > 0) throw new AggregateException(errors);
    }

    [Fact]
    public unsafe void Hash_map_loses_no_update_under_contention()
    {
        const int threads = 4, sharedKeys = 16, increments = 200_000, inserts = 3000;
        using var map = (HashMap)BpfMap.Create(new MapSpec("counters", BpfMapType.Hash, 8, 8, 20_000));
        for (ulong k = 0; k < sharedKeys; k++) map.Update(k, 0ul);
        for (ulong t = 0; t < threads; t++) map.Update(1000 + t, 0ul);
        using var stop = new CancellationTokenSource();
        long hostReads = 0;
        string? readerFailure = null;
        var reader = new Thread(() =>
        {
            // The host iterates and reads while programs run; it must never fault or see a torn counter decrease.
            var last = new ulong[sharedKeys];
            while (!stop.IsCancellationRequested)
            {
                foreach (var (k, v) in map.Entries<ulong, ulong>())
                {
                    if (k < sharedKeys)
                    {
                        if (v < last[k]) readerFailure ??= $"counter {k} went back from {last[k]} to {v}";
                        last[k] = v;
                    }
                    hostReads++;
                }
            }
        });
        reader.Start();
        RunThreads(threads, t =>
        {
            ulong own = 1000ul + (ulong)t;
            var rng = new Random(t);
            for (int i = 0; i < increments; i++)
            {
                using var scope = BpfEpoch.Enter();
                ulong shared = (ulong)rng.Next(sharedKeys);
                // A program's lock-free atomic add (BPF_ATOMIC | BPF_ADD) on the value pointer from lookup.
                Interlocked.Increment(ref *(long*)map.Lookup((byte*)&shared));
                Interlocked.Increment(ref *(long*)map.Lookup((byte*)&own));
                if (i % (increments / inserts) == 0)
                {
                    ulong fresh = 100_000ul * (ulong)(t + 1) + (ulong)(i / (increments / inserts));
                    ulong value = fresh;
                    Assert.Equal(0, map.Update((byte*)&fresh, (byte*)&value, (ulong)BpfUpdateFlags.NoExist));
                }
                if (i % 7 == 0)
                {
                    // Churn: replace and delete a private scratch key, recycling elements under the readers.
                    ulong scratch = 50_000ul + (ulong)t;
                    ulong v = (ulong)i;
                    map.Update((byte*)&scratch, (byte*)&v, 0);
                    if (i % 14 == 0) map.Delete((byte*)&scratch);
                }
            }
        });
        stop.Cancel();
        reader.Join();
        Assert.Null(readerFailure);
        ulong total = 0;
        for (ulong k = 0; k < sharedKeys; k++)
        {
            Assert.True(map.TryLookup(k, out ulong v));
            total += v;
        }
        Assert.Equal((ulong)threads * increments, total);
        for (ulong t = 0; t < threads; t++)
        {
            Assert.True(map.TryLookup(1000 + t, out ulong v));
            Assert.Equal((ulong)increments, v);
            for (ulong j = 0; j < inserts; j++)
            {
                ulong key = 100_000ul * (t + 1) + j;
                Assert.True(map.TryLookup(key, out ulong inserted), $"insert {key} lost");
                Assert.Equal(key, inserted);
            }
        }
        Assert.True(hostReads > 0);
    }

    [Fact]
    public void Concurrent_inserts_respect_max_entries_exactly()
    {
        using var map = (HashMap)BpfMap.Create(new MapSpec("cap", BpfMapType.Hash, 4, 4, 1000));
        int succeeded = 0, full = 0;
        RunThreads(4, t =>
        {
            for (uint i = 0; i < 1000; i++)
            {
                var e = map.UpdateElem(U32((uint)t * 1000 + i), U32(i));
                if (e == BpfErrno.None) Interlocked.Increment(ref succeeded);
                else if (e == BpfErrno.E2BIG) Interlocked.Increment(ref full);
                else throw new InvalidOperationException(e.ToString());
            }
        });
        Assert.Equal(1000, succeeded);
        Assert.Equal(3000, full);
        Assert.Equal(1000, map.Count);
        Assert.Equal(1000, map.Keys().Count());
    }

    [Fact]
    public unsafe void Lru_map_under_concurrent_inserts_stays_within_capacity()
    {
        using var map = (HashMap)BpfMap.Create(new MapSpec("lru", BpfMapType.LruHash, 4, 8, 256));
        RunThreads(4, t =>
        {
            var rng = new Random(t);
            for (int i = 0; i < 50_000; i++)
            {
                uint k = (uint)rng.Next(5000);
                using var scope = BpfEpoch.Enter();
                if (rng.Next(4) == 0) _ = H.Lookup(map, U32(k));
                else Assert.Equal(0, H.Update(map, U32(k), U64(k)));
            }
        });
        Assert.True(map.Count <= 256);
        int n = 0;
        foreach (var (k, v) in map.Entries<uint, ulong>()) { Assert.Equal((ulong)k, v); n++; }
        Assert.Equal(map.Count, n);
    }

    [Fact]
    public unsafe void Array_atomics_from_many_threads_are_exact()
    {
        using var map = (ArrayMap)BpfMap.Create(new MapSpec("a", BpfMapType.Array, 4, 8, 4));
        RunThreads(4, t =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                uint k = (uint)(i & 3);
                Interlocked.Add(ref *(long*)map.Lookup((byte*)&k), 2);
            }
        });
        for (uint k = 0; k < 4; k++)
        {
            Assert.True(map.TryLookup(k, out long v));
            Assert.Equal(4 * 100_000 / 4 * 2, v);
        }
    }
}
