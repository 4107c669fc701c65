using BpfSharp.Isa;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using BpfSharp.Linux;
using Xunit;

namespace BpfSharp.Linux.Tests;

public class MapTests
{
    [KernelFact]
    public void Hash_update_lookup_delete_and_flags()
    {
        using var map = KernelMap.Create(BpfMapType.Hash, 4, 8, 16, name: "t_hash");
        map.Update(1u, 100ul);
        map.Update(2u, 200ul);
        Assert.True(map.TryLookup(1u, out ulong v1));
        Assert.Equal(100ul, v1);
        Assert.True(map.TryLookup(2u, out ulong v2));
        Assert.Equal(200ul, v2);
        Assert.False(map.TryLookup(3u, out ulong _));

        var exists = Assert.Throws<BpfException>(() => map.Update(1u, 5ul, MapUpdateFlags.NoExist));
        Assert.Equal(Errnos.EEXIST, exists.Errno);
        Assert.Contains("BPF_MAP_UPDATE_ELEM", exists.Message);
        var absent = Assert.Throws<BpfException>(() => map.Update(9u, 5ul, MapUpdateFlags.Exist));
        Assert.Equal(Errnos.ENOENT, absent.Errno);
        map.Update(1u, 111ul, MapUpdateFlags.Exist);
        Assert.True(map.TryLookup(1u, out v1));
        Assert.Equal(111ul, v1);

        Assert.Equal(new uint[] { 1, 2 }, map.Keys<uint>().Order().ToArray());
        Assert.True(map.Delete(1u));
        Assert.False(map.Delete(1u));
        Assert.Equal(new uint[] { 2 }, map.Keys<uint>().ToArray());

        Span<byte> val = stackalloc byte[8];
        Assert.True(map.TryLookupAndDelete(BitConverter.GetBytes(2u), val));
        Assert.Equal(200ul, BinaryPrimitives.ReadUInt64LittleEndian(val));
        Assert.Empty(map.Keys());

        var info = map.GetInfo();
        Assert.Equal((BpfMapType.Hash, 4u, 8u, 16u, "t_hash"), (info.Type, info.KeySize, info.ValueSize, info.MaxEntries, info.Name));
    }

    [KernelFact]
    public void Hash_full_rejects_new_keys_with_E2BIG()
    {
        using var map = KernelMap.Create(BpfMapType.Hash, 4, 4, 2);
        map.Update(1u, 1u);
        map.Update(2u, 2u);
        var full = Assert.Throws<BpfException>(() => map.Update(3u, 3u));
        Assert.Equal(Errnos.E2BIG, full.Errno);
    }

    [KernelFact]
    public void Batch_update_lookup_delete_round_trip()
    {
        const int n = 1000;
        using var map = KernelMap.Create(BpfMapType.Hash, 4, 8, n);
        var keys = new uint[n];
        var values = new ulong[n];
        for (int i = 0; i < n; i++)
        {
            keys[i] = (uint)(i * 7 + 1);
            values[i] = (ulong)i * (ulong)i;
        }
        Assert.Equal(n, map.UpdateBatch(MemoryMarshal.AsBytes(keys.AsSpan()), MemoryMarshal.AsBytes(values.AsSpan()), n));

        var seen = new Dictionary<uint, ulong>();
        foreach (var (k, v) in map.LookupBatch(batchSize: 64))
            seen.Add(BitConverter.ToUInt32(k), BitConverter.ToUInt64(v));
        Assert.Equal(n, seen.Count);
        for (int i = 0; i < n; i++)
            Assert.Equal((ulong)i * (ulong)i, seen[(uint)(i * 7 + 1)]);

        Assert.Equal(500, map.DeleteBatch(MemoryMarshal.AsBytes(keys.AsSpan(0, 500)), 500));
        Assert.Equal(500, map.Keys().Count());
        // Lookup-and-delete batch drains the rest.
        Assert.Equal(500, map.LookupBatch(batchSize: 100, andDelete: true).Count());
        Assert.Empty(map.Keys());
    }

    [KernelFact]
    public void Array_is_zero_initialised_indexes_bounded_and_not_deletable()
    {
        using var map = KernelMap.Create(BpfMapType.Array, 4, 4, 4);
        Assert.True(map.TryLookup(3u, out uint zero));
        Assert.Equal(0u, zero);
        map.Update(2u, 0xDEADBEEFu);
        Assert.True(map.TryLookup(2u, out uint v));
        Assert.Equal(0xDEADBEEFu, v);
        Assert.False(map.TryLookup(4u, out uint _));          // out of range: ENOENT
        Assert.Equal(Errnos.E2BIG, Assert.Throws<BpfException>(() => map.Update(4u, 1u)).Errno);
        Assert.Equal(Errnos.EINVAL, Assert.Throws<BpfException>(() => map.Delete(0u)).Errno);
        Assert.Equal(new uint[] { 0, 1, 2, 3 }, map.Keys<uint>().ToArray());
        Assert.Equal(Errnos.EEXIST, Assert.Throws<BpfException>(() => map.Update(0u, 1u, MapUpdateFlags.NoExist)).Errno);
    }

    [KernelFact]
    public void Percpu_array_holds_one_value_per_possible_cpu()
    {
        using var map = KernelMap.Create(BpfMapType.PercpuArray, 4, 4, 1);
        int cpus = LinuxSystem.PossibleCpuCount;
        Assert.Equal(8 * cpus, map.ValueBufferSize);     // 4-byte values are laid out at an 8-byte stride
        byte[] buf = new byte[map.ValueBufferSize];
        for (int c = 0; c < cpus; c++)
            BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(c * 8), (uint)(10 + c));
        map.Update(BitConverter.GetBytes(0u), buf);
        uint[]? values = map.LookupPerCpu<uint, uint>(0u);
        Assert.NotNull(values);
        Assert.Equal(Enumerable.Range(10, cpus).Select(x => (uint)x), values);
    }

    [KernelFact]
    public void Lru_hash_evicts_instead_of_failing()
    {
        using var map = KernelMap.Create(BpfMapType.LruHash, 4, 4, 64);
        for (uint i = 0; i < 1000; i++)
            map.Update(i, i);
        int count = map.Keys().Count();
        Assert.InRange(count, 1, 64);
        Assert.True(map.TryLookup(999u, out uint last));   // the most recent insert survives
        Assert.Equal(999u, last);
    }

    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct Ipv4LpmKey
    {
        public uint PrefixLen;
        public byte A, B, C, D;
        public Ipv4LpmKey(uint len, byte a, byte b, byte c, byte d) { PrefixLen = len; A = a; B = b; C = c; D = d; }
    }

    [KernelFact]
    public void Lpm_trie_finds_longest_prefix()
    {
        using var map = KernelMap.Create(BpfMapType.LpmTrie, 8, 4, 16, MapCreateFlags.NoPrealloc);
        map.Update(new Ipv4LpmKey(8, 10, 0, 0, 0), 1u);
        map.Update(new Ipv4LpmKey(16, 10, 1, 0, 0), 2u);
        Assert.True(map.TryLookup(new Ipv4LpmKey(32, 10, 1, 2, 3), out uint v));
        Assert.Equal(2u, v);
        Assert.True(map.TryLookup(new Ipv4LpmKey(32, 10, 2, 3, 4), out v));
        Assert.Equal(1u, v);
        Assert.False(map.TryLookup(new Ipv4LpmKey(32, 11, 0, 0, 1), out v));
    }

    [KernelFact]
    public void Queue_is_fifo_and_stack_is_lifo()
    {
        using var queue = KernelMap.Create(BpfMapType.Queue, 0, 4, 8);
        using var stack = KernelMap.Create(BpfMapType.Stack, 0, 4, 8);
        foreach (uint x in new uint[] { 1, 2, 3 })
        {
            queue.Push(x);
            stack.Push(x);
        }
        var fromQueue = new List<uint>();
        var fromStack = new List<uint>();
        while (queue.TryPop(out uint q)) fromQueue.Add(q);
        while (stack.TryPop(out uint s)) fromStack.Add(s);
        Assert.Equal(new uint[] { 1, 2, 3 }, fromQueue);
        Assert.Equal(new uint[] { 3, 2, 1 }, fromStack);
    }

    [KernelFact]
    public void Bloom_filter_reports_members()
    {
        using var bloom = KernelMap.Create(new MapCreateOptions { Type = BpfMapType.BloomFilter, KeySize = 0, ValueSize = 8, MaxEntries = 1000, MapExtra = 3 });
        bloom.Push(0x1234_5678_9abc_def0ul);
        Span<byte> probe = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(probe, 0x1234_5678_9abc_def0ul);
        Assert.True(bloom.TryPeek(probe));
        BinaryPrimitives.WriteUInt64LittleEndian(probe, 42);
        Assert.False(bloom.TryPeek(probe));   // one member in a 1000-entry filter: a false positive is ~impossible
    }

    [KernelFact]
    public void Frozen_map_rejects_user_writes()
    {
        using var map = KernelMap.Create(BpfMapType.Array, 4, 4, 1);
        map.Update(0u, 7u);
        map.Freeze();
        Assert.Equal(Errnos.EPERM, Assert.Throws<BpfException>(() => map.Update(0u, 8u)).Errno);
        Assert.True(map.TryLookup(0u, out uint v));
        Assert.Equal(7u, v);
    }

    [KernelFact]
    public void Other_map_types_create()
    {
        int page = LinuxSystem.PageSize;
        (BpfMapType Type, uint Key, uint Value, uint Max, MapCreateFlags Flags)[] cases =
        [
            (BpfMapType.PercpuHash, 4, 8, 16, 0),
            (BpfMapType.LruPercpuHash, 4, 8, 16, 0),
            (BpfMapType.ProgArray, 4, 4, 4, 0),
            (BpfMapType.PerfEventArray, 4, 4, (uint)LinuxSystem.PossibleCpuCount, 0),
            (BpfMapType.StackTrace, 4, 8 * 127, 16, 0),
            (BpfMapType.Ringbuf, 0, 0, (uint)page * 4, 0),
            (BpfMapType.DevmapHash, 4, 4, 4, 0),
            (BpfMapType.Devmap, 4, 4, 4, 0),
            (BpfMapType.Cpumap, 4, 4, 4, 0),
            (BpfMapType.Array, 4, 8, 4, MapCreateFlags.Mmapable),
        ];
        foreach (var c in cases)
        {
            using var map = KernelMap.Create(new MapCreateOptions { Type = c.Type, KeySize = c.Key, ValueSize = c.Value, MaxEntries = c.Max, Flags = c.Flags });
            Assert.Equal(c.Type, map.GetInfo().Type);
        }
    }

    [KernelFact]
    public void Invalid_create_and_wrong_sizes_are_typed_errors()
    {
        var ex = Assert.Throws<BpfException>(() => KernelMap.Create(BpfMapType.Hash, 0, 4, 1));
        Assert.Equal(Errnos.EINVAL, ex.Errno);
        Assert.Contains("BPF_MAP_CREATE", ex.Message);
        Assert.Contains("EINVAL", ex.Message);

        using var map = KernelMap.Create(BpfMapType.Hash, 4, 8, 4);
        var arg = Assert.Throws<ArgumentException>(() => map.Update(1ul, 2ul));   // 8-byte key on a 4-byte-key map
        Assert.Contains("4-byte keys", arg.Message);
    }

    [KernelFact]
    public void Map_in_map_and_prog_array_hold_fds()
    {
        using var inner = KernelMap.Create(BpfMapType.Array, 4, 4, 1);
        using var outer = KernelMap.Create(new MapCreateOptions { Type = BpfMapType.ArrayOfMaps, KeySize = 4, ValueSize = 4, MaxEntries = 2, InnerMap = inner.Handle });
        outer.Update(0u, inner.Fd);
        Assert.True(outer.TryLookup(0u, out uint innerId));          // lookups return the map id, not the fd
        Assert.Equal(inner.GetInfo().Id, innerId);
    }

    [KernelFact]
    public void Created_from_the_shared_map_spec_and_enumerated_like_userspace_maps()
    {
        var spec = new BpfSharp.Maps.MapSpec("counts_by_pid", BpfSharp.Isa.BpfMapType.Hash, 4, 8, 32);
        using var map = KernelMap.Create(spec);
        var info = map.GetInfo();
        Assert.Equal((BpfMapType.Hash, 4u, 8u, 32u, "counts_by_pid"), (info.Type, info.KeySize, info.ValueSize, info.MaxEntries, info.Name));
        map.Update(7u, 70ul);
        map.Update(8u, 80ul);
        Assert.Equal(new[] { (7u, 70ul), (8u, 80ul) }, map.Entries<uint, ulong>().OrderBy(e => e.Key).ToArray());

        var outerSpec = new BpfSharp.Maps.MapSpec("outer", BpfSharp.Isa.BpfMapType.ArrayOfMaps, 4, 4, 2, InnerMap: new BpfSharp.Maps.MapSpec("inner", BpfSharp.Isa.BpfMapType.Array, 4, 4, 1));
        using var outer = KernelMap.Create(outerSpec);
        Assert.Equal(BpfMapType.ArrayOfMaps, outer.GetInfo().Type);

        using var trie = KernelMap.Create(BpfMapType.LpmTrie, 8, 4, 4, MapCreateFlags.NoPrealloc);   // no batch support: key-by-key path
        trie.Update(new Ipv4LpmKey(8, 10, 0, 0, 0), 1u);
        Assert.Single(trie.Entries());
    }
}
