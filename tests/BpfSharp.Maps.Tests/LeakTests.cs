using BpfSharp.Isa;
using BpfSharp.Maps;
using Xunit;
using static BpfSharp.Maps.Tests.H;

namespace BpfSharp.Maps.Tests;

[CollectionDefinition("NativeMemory", DisableParallelization = true)]
public class NativeMemoryCollection;

/// <summary>Runs alone so the process-wide native byte count is not disturbed by other tests.</summary>
[Collection("NativeMemory")]
public class LeakTests
{
    [Fact]
    public void Disposing_every_map_type_frees_all_native_memory()
    {
        long bytes = NativeMemoryTracker.LiveBytes, blocks = NativeMemoryTracker.LiveBlocks;
        for (int round = 0; round < 3; round++)
        {
            var inner = new MapSpec("inner", BpfMapType.Hash, 4, 4, 16);
            var maps = new List<BpfMap>
            {
                BpfMap.Create(new MapSpec("a", BpfMapType.Array, 4, 12, 100)),
                BpfMap.Create(new MapSpec("pa", BpfMapType.PerCpuArray, 4, 12, 100), new BpfMapOptions { CpuCount = 3 }),
                BpfMap.Create(new MapSpec("h", BpfMapType.Hash, 8, 16, 1000)),
                BpfMap.Create(new MapSpec("ph", BpfMapType.PerCpuHash, 4, 4, 100), new BpfMapOptions { CpuCount = 2 }),
                BpfMap.Create(new MapSpec("lru", BpfMapType.LruHash, 4, 4, 50)),
                BpfMap.Create(new MapSpec("lpm", BpfMapType.LpmTrie, 8, 4, 100, BpfMapFlags.NoPrealloc)),
                BpfMap.Create(new MapSpec("q", BpfMapType.Queue, 0, 4, 10)),
                BpfMap.Create(new MapSpec("rb", BpfMapType.RingBuf, 0, 0, 8192)),
                BpfMap.Create(new MapSpec("pa2", BpfMapType.ProgArray, 4, 4, 4)),
                BpfMap.Create(new MapSpec("aom", BpfMapType.ArrayOfMaps, 4, 4, 4, InnerMap: inner)),
                BpfMap.Create(new MapSpec("hom", BpfMapType.HashOfMaps, 4, 4, 4, InnerMap: inner)),
            };
            Assert.True(NativeMemoryTracker.LiveBytes > bytes);
            var rng = new Random(round);
            foreach (var m in maps)
            {
                if (m.Type is BpfMapType.Hash or BpfMapType.PerCpuHash or BpfMapType.LruHash)
                    for (int i = 0; i < 2000; i++)
                    {
                        var k = new byte[m.KeySize];
                        rng.NextBytes(k);
                        k[0] &= 0x3f;
                        m.UpdateElem(k, new byte[m.HostValueSize]);
                        if (i % 3 == 0) m.DeleteElem(k);
                    }
                if (m.Type == BpfMapType.LpmTrie)
                    for (uint i = 0; i < 300; i++) { m.UpdateElem(Lpm(i % 33, 10, (byte)i, 0, 1), U32(i)); if (i % 2 == 0) m.DeleteElem(Lpm(i % 33, 10, (byte)i, 0, 1)); }
                if (m is QueueStackMap q) q.Push(U32(1));
                if (m is RingBufferMap rb) rb.Output([1, 2, 3]);
            }
            var innerMap = BpfMap.Create(inner);
            ((ArrayOfMapsMap)maps[9]).SetInner(0, innerMap);
            ((HashOfMapsMap)maps[10]).SetInner(U32(5), innerMap);
            innerMap.Dispose(); // still referenced by both outer maps
            foreach (var m in maps) m.Dispose();
            Assert.True(innerMap.IsDisposed);
        }
        Assert.Equal(bytes, NativeMemoryTracker.LiveBytes);
        Assert.Equal(blocks, NativeMemoryTracker.LiveBlocks);
    }

    [Fact]
    public void Hash_churn_reaches_a_steady_memory_footprint()
    {
        using var map = BpfMap.Create(new MapSpec("churn", BpfMapType.Hash, 4, 8, 100));
        var rng = new Random(3);
        void Churn(int ops)
        {
            for (int i = 0; i < ops; i++)
            {
                uint k = (uint)rng.Next(150);
                if (rng.Next(2) == 0) map.UpdateElem(U32(k), U64(k)); else map.DeleteElem(U32(k));
            }
        }
        Churn(50_000);
        long warm = NativeMemoryTracker.LiveBytes;
        Churn(300_000);
        Assert.Equal(warm, NativeMemoryTracker.LiveBytes);
    }
}
