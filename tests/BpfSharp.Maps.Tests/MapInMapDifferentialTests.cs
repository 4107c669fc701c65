using BpfSharp.Isa;
using System.Buffers.Binary;
using BpfSharp.Maps;
using Xunit;
using Xunit.Abstractions;
using static BpfSharp.Maps.Tests.H;
using T = BpfSharp.Isa.BpfMapType;

namespace BpfSharp.Maps.Tests;

/// <summary>
/// Array/hash of maps against the kernel: the kernel takes an inner map fd and returns the inner map id; ours
/// takes and returns our map id. Each side's answer is translated to "which inner map" before comparing.
/// </summary>
public class MapInMapDifferentialTests(ITestOutputHelper output)
{
    private static string Dump(KernelMap kernel, uint keySize)
    {
        var keys = new List<string>();
        var key = Array.Empty<byte>();
        for (int i = 0; i < 100; i++)
        {
            var next = new byte[keySize];
            if (kernel.GetNextKey(key, next) != 0) break;
            keys.Add(Convert.ToHexString(next));
            key = next;
        }
        return string.Join(',', keys);
    }

    [Theory]
    [InlineData(T.ArrayOfMaps, 4u)]
    [InlineData(T.HashOfMaps, 4u)]
    [InlineData(T.HashOfMaps, 8u)]
    public void Random_commands_match_the_kernel(T type, uint keySize)
    {
        if (KernelMap.Unavailable is { } why) { output.WriteLine("SKIPPED: " + why); return; }
        var innerSpec = new MapSpec("inner", T.Array, 4, 8, 4);
        var incompatible = innerSpec with { ValueSize = 16 };
        // Inner candidates: two compatible maps and one incompatible one, on both sides.
        var kernelInner = new List<KernelMap>();
        var ourInner = new List<BpfMap>();
        foreach (var s in new[] { innerSpec, innerSpec, incompatible })
        {
            Assert.Equal(0, KernelMap.TryCreate(s, out var km));
            kernelInner.Add(km!);
            ourInner.Add(BpfMap.Create(s));
        }
        var outerSpec = new MapSpec("outer", type, keySize, 4, 6, type == T.HashOfMaps ? BpfMapFlags.ZeroSeed : BpfMapFlags.None, innerSpec);
        Assert.Equal(0, KernelMap.TryCreate(outerSpec, out var kernelOuter, kernelInner[0].Fd));
        try
        {
            using var kernel = kernelOuter!;
            using var ours = BpfMap.Create(outerSpec);
            var kernelIds = kernelInner.Select(k => k.KernelId()).ToList();
            var rng = new Random(11);
            int successes = 0;
            for (int step = 0; step < 3000; step++)
            {
                var key = new byte[keySize];
                BinaryPrimitives.WriteUInt32LittleEndian(key, (uint)rng.Next(type == T.ArrayOfMaps ? 8 : 10));
                int op = rng.Next(10);
                if (op < 4)
                {
                    int which = rng.Next(4); // 3 = a descriptor/id that names no map
                    uint kernelValue = which < 3 ? (uint)kernelInner[which].Fd : 100_000u;
                    uint ourValue = which < 3 ? ourInner[which].Id : 0xfffffff0u;
                    ulong flags = (ulong)rng.Next(4);
                    int k = kernel.Update(key, U32(kernelValue), flags);
                    var o = ours.UpdateElem(key, U32(ourValue), (BpfUpdateFlags)flags);
                    Assert.True(k == (int)o, $"step {step}: update inner {which} flags {flags}: kernel {(BpfErrno)k}, ours {o}");
                    if (k == 0) successes++;
                }
                else if (op < 6)
                {
                    int k = kernel.Delete(key);
                    var o = ours.DeleteElem(key);
                    Assert.True(k == (int)o, $"step {step}: delete: kernel {(BpfErrno)k}, ours {o}");
                }
                else if (op < 9)
                {
                    var kv = new byte[4];
                    var ov = new byte[4];
                    int k = kernel.Lookup(key, kv);
                    var o = ours.LookupElem(key, ov);
                    Assert.True(k == (int)o, $"step {step}: lookup: kernel {(BpfErrno)k}, ours {o}");
                    if (k == 0)
                        Assert.Equal(kernelIds.IndexOf((int)BinaryPrimitives.ReadUInt32LittleEndian(kv)),
                                     ourInner.FindIndex(m => m.Id == BinaryPrimitives.ReadUInt32LittleEndian(ov)));
                }
                else
                {
                    var kn = new byte[keySize];
                    var on = new byte[keySize];
                    byte[] from = rng.Next(3) == 0 ? [] : key;
                    int k = kernel.GetNextKey(from, kn);
                    var o = ours.GetNextKey(from, on);
                    Assert.True(k == (int)o, $"step {step}: get_next_key: kernel {(BpfErrno)k}, ours {o}");
                    if (k == 0) Assert.True(kn.AsSpan().SequenceEqual(on), $"step {step}: next after {Convert.ToHexString(from)}: kernel {Convert.ToHexString(kn)}, ours {Convert.ToHexString(on)}; kernel keys {Dump(kernel, keySize)}, ours {string.Join(',', ours.Keys().Select(Convert.ToHexString))}");
                }
            }
            Assert.True(successes > 100);
        }
        finally
        {
            kernelInner.ForEach(k => k.Dispose());
            ourInner.ForEach(m => m.Dispose());
        }
    }
}
