using BenchmarkDotNet.Attributes;
using BpfSharp.Maps;

namespace BpfSharp.Benchmarks;

/// <summary>
/// Program-facing map operations (what the interpreter and JIT call): hash lookup and update of existing keys,
/// array lookup, at 1k and 1M entries. Each invocation takes the next 1024 keys of a random sequence as long as
/// the map, so at 1M entries most lookups miss the CPU caches as real traffic would.
/// </summary>
[MemoryDiagnoser]
public unsafe class MapBenchmarks
{
    private const int Batch = 1024;

    [Params(1_000, 1_000_000)]
    public int Entries { get; set; }

    private BpfMap _hash = null!;
    private BpfMap _array = null!;
    private ulong[] _keys = null!;
    private uint[] _indexes = null!;
    private int _cursor;
    private ulong _value = 7;

    [GlobalSetup]
    public void Setup()
    {
        _hash = BpfMap.Create(new MapSpec("bench_hash", BpfSharp.Isa.BpfMapType.Hash, 8, 8, (uint)Entries));
        _array = BpfMap.Create(new MapSpec("bench_array", BpfSharp.Isa.BpfMapType.Array, 4, 8, (uint)Entries));
        var all = new ulong[Entries];
        for (int i = 0; i < Entries; i++)
        {
            all[i] = (ulong)i * 0x9E3779B97F4A7C15ul; // spread keys
            _hash.Update(all[i], (ulong)i);
        }
        var rng = new Random(42);
        int length = Math.Max(Batch, Entries);
        _keys = new ulong[length];
        _indexes = new uint[length];
        for (int i = 0; i < length; i++)
        {
            _keys[i] = all[rng.Next(Entries)];
            _indexes[i] = (uint)rng.Next(Entries);
        }
    }

    // Start of the next batch of keys (a multiple of Batch, so a batch never wraps).
    private int NextBatch()
    {
        int start = _cursor;
        _cursor = start + 2 * Batch > _keys.Length ? 0 : start + Batch;
        return start;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _hash.Dispose();
        _array.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong HashLookup()
    {
        ulong sum = 0;
        fixed (ulong* keys = &_keys[NextBatch()])
            for (int i = 0; i < Batch; i++) sum += *(ulong*)_hash.Lookup((byte*)(keys + i));
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public long HashUpdateExisting()
    {
        long rc = 0;
        fixed (ulong* keys = &_keys[NextBatch()])
        fixed (ulong* value = &_value)
            for (int i = 0; i < Batch; i++) rc |= _hash.Update((byte*)(keys + i), (byte*)value, 0);
        return rc;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong ArrayLookup()
    {
        ulong sum = 0;
        fixed (uint* idx = &_indexes[NextBatch()])
            for (int i = 0; i < Batch; i++) sum += *(ulong*)_array.Lookup((byte*)(idx + i));
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong HostTypedLookup()
    {
        ulong sum = 0;
        int start = NextBatch();
        for (int i = 0; i < Batch; i++)
            if (_hash.TryLookup(_keys[start + i], out ulong v)) sum += v;
        return sum;
    }
}
