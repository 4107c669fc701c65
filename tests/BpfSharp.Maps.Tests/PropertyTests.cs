using BpfSharp.Isa;
using System.Buffers.Binary;
using BpfSharp.Maps;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static BpfSharp.Maps.Tests.H;

namespace BpfSharp.Maps.Tests;

/// <summary>Model-based properties: each map against a plain reference model written from the definitions.</summary>
public unsafe class PropertyTests
{
    // Longest-prefix match by definition: among stored (prefix, length) pairs whose first 'length' bits equal
    // the address's, the longest wins.
    private static uint? BruteForceLpm(Dictionary<(uint Addr, int Len), uint> prefixes, uint addr)
    {
        uint? best = null;
        int bestLen = -1;
        foreach (var ((p, len), v) in prefixes)
        {
            uint mask = len == 0 ? 0 : uint.MaxValue << (32 - len);
            if ((p & mask) == (addr & mask) && len > bestLen) { best = v; bestLen = len; }
        }
        return best;
    }

    [Fact]
    public void Lpm_lookup_equals_brute_force_longest_prefix_match()
    {
        var gen =
            from inserts in Gen.ListOf(Gen.Zip(Gen.Choose(0, 255), Gen.Choose(0, 32)))
            from probes in Gen.ListOf(Gen.Choose(0, 1023))
            select (inserts, probes);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            using var map = BpfMap.Create(new MapSpec("lpm", BpfMapType.LpmTrie, 8, 4, 10_000, BpfMapFlags.NoPrealloc));
            var model = new Dictionary<(uint, int), uint>();
            uint value = 0;
            foreach (var (seed, len) in t.inserts)
            {
                // Few distinct high bits so prefixes nest and collide.
                uint addr = (uint)(seed * 0x01010101) & (len == 0 ? 0 : uint.MaxValue << (32 - len));
                var key = Lpm((uint)len, BE(addr));
                map.Update(key, U32(++value));
                model[(addr, len)] = value;
                if (value % 5 == 0)
                {
                    map.Delete(key);
                    model.Remove((addr, len));
                }
            }
            foreach (var probe in t.probes)
            {
                uint addr = (uint)probe * 0x00410851u;
                byte* v = Lookup(map, Lpm(32, BE(addr)));
                uint? expected = BruteForceLpm(model, addr);
                if (expected is null ? v != null : v == null || *(uint*)v != expected)
                    throw new InvalidOperationException($"lookup {addr:x8}: expected {expected}, got {(v == null ? "none" : (*(uint*)v).ToString())}");
            }
            if (map.Keys().Count() != model.Count) throw new InvalidOperationException("key count differs");
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void Hash_map_behaves_like_a_bounded_dictionary()
    {
        var op = Gen.Zip(Gen.Choose(0, 3), Gen.Zip(Gen.Choose(0, 40), Gen.Choose(0, 2)), (kind, kf) => (kind, kf.Item1, kf.Item2));
        Prop.ForAll(Gen.ListOf(op).ToArbitrary(), ops =>
        {
            const int max = 16;
            using var map = BpfMap.Create(new MapSpec("h", BpfMapType.Hash, 4, 4, max));
            var model = new Dictionary<uint, uint>();
            uint n = 0;
            foreach (var (kind, k, flag) in ops)
            {
                uint key = (uint)k;
                switch (kind)
                {
                    case 0 or 1:
                        n++;
                        var e = map.UpdateElem(U32(key), U32(n), (BpfUpdateFlags)flag);
                        bool exists = model.ContainsKey(key);
                        // BPF_NOEXIST on an existing key -> EEXIST; BPF_EXIST on a missing key -> ENOENT; a new key in a full map -> E2BIG.
                        var expected = flag == 1 && exists ? BpfErrno.EEXIST
                            : flag == 2 && !exists ? BpfErrno.ENOENT
                            : !exists && model.Count == max ? BpfErrno.E2BIG : BpfErrno.None;
                        if (e != expected) throw new InvalidOperationException($"update {key} flag {flag}: {e} != {expected}");
                        if (e == BpfErrno.None) model[key] = n;
                        break;
                    case 2:
                        var d = map.DeleteElem(U32(key));
                        if (d != (model.Remove(key) ? BpfErrno.None : BpfErrno.ENOENT)) throw new InvalidOperationException($"delete {key}: {d}");
                        break;
                    default:
                        var v = new byte[4];
                        bool found = map.TryLookup(U32(key), v);
                        if (found != model.TryGetValue(key, out var mv) || found && BinaryPrimitives.ReadUInt32LittleEndian(v) != mv)
                            throw new InvalidOperationException($"lookup {key}");
                        break;
                }
            }
            var keys = map.Keys().Select(b => BinaryPrimitives.ReadUInt32LittleEndian(b)).ToList();
            if (keys.Count != model.Count || keys.Distinct().Count() != keys.Count || !keys.All(model.ContainsKey))
                throw new InvalidOperationException("iteration does not visit each key exactly once");
        }).QuickCheckThrowOnFailure();
    }

    private static byte[] BE(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }
}
