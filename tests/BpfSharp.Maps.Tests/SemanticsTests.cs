using BpfSharp.Isa;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using BpfSharp.Maps;
using Xunit;
using static BpfSharp.Maps.Tests.H;

namespace BpfSharp.Maps.Tests;

/// <summary>Program-facing (helper) semantics; expected values from Documentation/bpf/map_*.rst and the helper man page.</summary>
public unsafe class SemanticsTests
{
    private static BpfMapOptions Cpus(int n) => new() { CpuCount = n };

    [Fact]
    public void Array_values_are_zeroed_8_byte_aligned_and_stable()
    {
        using var map = (ArrayMap)BpfMap.Create(new MapSpec("a", BpfMapType.Array, 4, 5, 4));
        byte* p0 = Lookup(map, U32(0));
        byte* p3 = Lookup(map, U32(3));
        Assert.True(p0 != null && p3 != null);
        Assert.Equal(0, (long)p0 % 8);
        Assert.Equal(24, (long)(p3 - p0)); // value_size 5 rounds up to an 8-byte slot
        Assert.True(new ReadOnlySpan<byte>(p3, 5).IndexOfAnyExcept((byte)0) < 0);
        Assert.True(Lookup(map, U32(4)) == null);
        Assert.True(Lookup(map, U32(uint.MaxValue)) == null);
        p3[0] = 0x42; // a program storing through the pointer is what the host sees
        Assert.True(map.TryLookup(U32(3), new byte[5]));
        var v = new byte[5];
        map.TryLookup(U32(3), v);
        Assert.Equal(0x42, v[0]);
        Assert.Equal(0, Update(map, U32(3), [1, 2, 3, 4, 5]));
        Assert.True(Lookup(map, U32(3)) == p3);
        Assert.Equal(E(BpfErrno.EEXIST), Update(map, U32(3), new byte[5], (ulong)BpfUpdateFlags.NoExist));
        Assert.Equal(E(BpfErrno.E2BIG), Update(map, U32(4), new byte[5]));
        Assert.Equal(E(BpfErrno.EINVAL), Delete(map, U32(0)));
    }

    [Fact]
    public void PerCpu_array_programs_use_the_current_cpu_slot_and_the_host_sees_all()
    {
        using var map = BpfMap.Create(new MapSpec("pa", BpfMapType.PerCpuArray, 4, 4, 2), Cpus(3));
        Assert.Equal(3 * 8, map.HostValueSize);
        int saved = BpfCpu.Current;
        try
        {
            for (int cpu = 0; cpu < 3; cpu++)
            {
                BpfCpu.Current = cpu;
                Assert.Equal(0, Update(map, U32(1), U32((uint)(100 + cpu))));
            }
            BpfCpu.Current = 1;
            Assert.Equal(101u, *(uint*)Lookup(map, U32(1)));
            fixed (byte* k = U32(1))
            {
                Assert.Equal(102u, *(uint*)map.LookupPerCpu(k, 2));
                Assert.True(map.LookupPerCpu(k, 3) == null);
            }
        }
        finally { BpfCpu.Current = saved; }
        var all = new byte[24];
        Assert.True(map.TryLookup(U32(1), all));
        Assert.Equal(100u, BinaryPrimitives.ReadUInt32LittleEndian(all.AsSpan(0)));
        Assert.Equal(101u, BinaryPrimitives.ReadUInt32LittleEndian(all.AsSpan(8)));
        Assert.Equal(102u, BinaryPrimitives.ReadUInt32LittleEndian(all.AsSpan(16)));
        Assert.Equal([100u, 101u, 102u], map.LookupPerCpu<uint, uint>(1u)!);
    }

    [Fact]
    public void PerCpu_hash_program_insert_sets_only_the_current_cpu()
    {
        using var map = BpfMap.Create(new MapSpec("ph", BpfMapType.PerCpuHash, 4, 8, 8), Cpus(2));
        int saved = BpfCpu.Current;
        try
        {
            BpfCpu.Current = 1;
            Assert.Equal(0, Update(map, U32(7), U64(55)));
        }
        finally { BpfCpu.Current = saved; }
        Assert.Equal([0ul, 55ul], map.LookupPerCpu<uint, ulong>(7u)!);
    }

    [Fact]
    public void Hash_update_flags_and_capacity_follow_the_kernel()
    {
        using var map = BpfMap.Create(new MapSpec("h", BpfMapType.Hash, 4, 8, 2));
        Assert.Equal(E(BpfErrno.ENOENT), Update(map, U32(1), U64(1), (ulong)BpfUpdateFlags.Exist));
        Assert.Equal(0, Update(map, U32(1), U64(1), (ulong)BpfUpdateFlags.NoExist));
        Assert.Equal(E(BpfErrno.EEXIST), Update(map, U32(1), U64(2), (ulong)BpfUpdateFlags.NoExist));
        Assert.Equal(0, Update(map, U32(1), U64(3), (ulong)BpfUpdateFlags.Exist));
        Assert.Equal(0, Update(map, U32(2), U64(4)));
        Assert.Equal(E(BpfErrno.E2BIG), Update(map, U32(3), U64(5)));
        Assert.Equal(0, Update(map, U32(2), U64(6))); // replacing in a full map is fine
        Assert.Equal(E(BpfErrno.EINVAL), Update(map, U32(1), U64(1), 3));
        Assert.Equal(0, Delete(map, U32(2)));
        Assert.Equal(E(BpfErrno.ENOENT), Delete(map, U32(2)));
        Assert.Equal(0, Update(map, U32(3), U64(5)));
        Assert.Equal(3ul, *(ulong*)Lookup(map, U32(1)));
        Assert.True(Lookup(map, U32(2)) == null);
    }

    [Fact]
    public void Hash_value_pointer_is_stable_while_the_element_lives_and_not_reused_inside_a_scope()
    {
        using var map = (HashMap)BpfMap.Create(new MapSpec("h", BpfMapType.Hash, 4, 8, 64));
        Assert.Equal(0, Update(map, U32(1), U64(111)));
        using (BpfEpoch.Enter())
        {
            byte* p = Lookup(map, U32(1));
            // Churn other keys: p keeps pointing at key 1's value.
            for (uint i = 0; i < 1000; i++)
            {
                Assert.Equal(0, Update(map, U32(100 + i % 10), U64(i)));
                if (i % 3 == 0) Delete(map, U32(100 + i % 10));
            }
            Assert.True(Lookup(map, U32(1)) == p);
            Assert.Equal(111ul, *(ulong*)p);
            // Replace key 1 and delete it: the old element must not be recycled while this scope is open.
            Assert.Equal(0, Update(map, U32(1), U64(222)));
            Assert.True(Lookup(map, U32(1)) != p);
            Assert.Equal(0, Delete(map, U32(1)));
            for (uint i = 0; i < 1000; i++) Assert.Equal(0, Update(map, U32(200 + i % 12), U64(0xdead)));
            Assert.Equal(111ul, *(ulong*)p);
            Assert.True(map.RetiredElementCount > 0);
        }
        // Scope closed: once the free list runs dry, the limbo drains back into it instead of growing the pool.
        int before = map.RetiredElementCount;
        for (uint i = 0; i < 5000; i++) { uint k = 200 + i % 12; Update(map, U32(k), U64(i)); Delete(map, U32(k)); }
        Assert.True(map.RetiredElementCount < before, $"limbo {before} -> {map.RetiredElementCount}");
    }

    [Fact]
    public void Lru_hash_evicts_the_least_recently_used_unreferenced_entry()
    {
        using var map = (HashMap)BpfMap.Create(new MapSpec("lru", BpfMapType.LruHash, 4, 8, 4));
        for (uint k = 1; k <= 4; k++) Assert.Equal(0, Update(map, U32(k), U64(k)));
        Assert.True(Lookup(map, U32(1)) != null); // referenced: gets a second chance
        Assert.True(Lookup(map, U32(2)) != null);
        Assert.Equal(0, Update(map, U32(5), U64(5)));
        Assert.True(Lookup(map, U32(3)) == null, "3 is the oldest unreferenced key");
        Assert.Equal(0, Update(map, U32(6), U64(6)));
        Assert.True(Lookup(map, U32(4)) == null);
        Assert.Equal(4, map.Count);
        for (uint k = 10; k < 200; k++) Assert.Equal(0, Update(map, U32(k), U64(k))); // never E2BIG
        Assert.Equal(4, map.Count);
        Assert.Equal(199ul, *(ulong*)Lookup(map, U32(199)));
    }

    [Fact]
    public void Lpm_trie_matches_the_documented_example()
    {
        // Documentation/bpf/map_lpm_trie.rst: IPv4 keys are {prefixlen, 4 data bytes in network order}.
        using var map = BpfMap.Create(new MapSpec("lpm", BpfMapType.LpmTrie, 8, 4, 16, BpfMapFlags.NoPrealloc));
        map.Update(Lpm(16, 192, 168, 0, 0), U32(1));
        map.Update(Lpm(24, 192, 168, 0, 0), U32(2));
        map.Update(Lpm(24, 192, 168, 128, 0), U32(3));
        map.Update(Lpm(24, 192, 168, 1, 0), U32(4));
        (byte[] Addr, uint? Expected)[] cases =
        [
            ([192, 168, 0, 1], 2), ([192, 168, 1, 200], 4), ([192, 168, 128, 5], 3), ([192, 168, 2, 1], 1),
            ([192, 168, 255, 255], 1), ([192, 169, 0, 0], null), ([10, 0, 0, 1], null),
        ];
        foreach (var (addr, expected) in cases)
        {
            byte* v = Lookup(map, Lpm(32, addr));
            Assert.True(expected is null ? v == null : v != null && *(uint*)v == expected, string.Join('.', addr));
        }
        // Post-order: more specific prefixes before the prefix covering them, the 0 branch first.
        Assert.Equal(["192.168.0.0/24", "192.168.1.0/24", "192.168.128.0/24", "192.168.0.0/16"], map.Keys().Select(LpmText));
        Assert.Equal(E(BpfErrno.EINVAL), Update(map, Lpm(33, 1, 2, 3, 4), U32(0)));
        Assert.Equal(0, Delete(map, Lpm(16, 192, 168, 0, 0)));
        Assert.True(Lookup(map, Lpm(32, 192, 168, 2, 1)) == null);
        Assert.Equal(2u, *(uint*)Lookup(map, Lpm(32, 192, 168, 0, 9)));
        Assert.Equal(E(BpfErrno.ENOENT), Delete(map, Lpm(16, 192, 168, 0, 0)));
    }

    [Fact]
    public void Lpm_trie_full_gives_ENOSPC_and_zero_length_prefix_matches_everything()
    {
        using var map = BpfMap.Create(new MapSpec("lpm", BpfMapType.LpmTrie, 5, 1, 2, BpfMapFlags.NoPrealloc));
        Assert.Equal(0, Update(map, Lpm(0, 0), [9]));
        Assert.Equal(0, Update(map, Lpm(8, 7), [7]));
        Assert.Equal(E(BpfErrno.ENOSPC), Update(map, Lpm(4, 0x70), [4]));
        Assert.Equal(0, Update(map, Lpm(8, 7), [8])); // replacing is not adding
        Assert.Equal(9, *Lookup(map, Lpm(8, 0xff)));
        Assert.Equal(8, *Lookup(map, Lpm(8, 7)));
    }

    [Theory]
    [InlineData(BpfMapType.Queue, new uint[] { 1, 2, 3 })]
    [InlineData(BpfMapType.Stack, new uint[] { 3, 2, 1 })]
    public void Queue_and_stack_pop_order(BpfMapType type, uint[] expected)
    {
        using var map = BpfMap.Create(new MapSpec("q", type, 0, 4, 3));
        for (uint v = 1; v <= 3; v++) Assert.Equal(0, Push(map, U32(v)));
        Assert.Equal(E(BpfErrno.E2BIG), Push(map, U32(4)));
        Assert.Equal(E(BpfErrno.EINVAL), Push(map, U32(4), (ulong)BpfUpdateFlags.NoExist));
        var peek = new byte[4];
        fixed (byte* p = peek) Assert.Equal(0, map.Peek(p));
        Assert.Equal(expected[0], BinaryPrimitives.ReadUInt32LittleEndian(peek));
        foreach (var e in expected)
        {
            var (rc, v) = Pop(map, 4);
            Assert.Equal(0, rc);
            Assert.Equal(e, BinaryPrimitives.ReadUInt32LittleEndian(v));
        }
        Assert.Equal(E(BpfErrno.ENOENT), Pop(map, 4).Rc);
    }

    [Theory]
    [InlineData(BpfMapType.Queue, new uint[] { 2, 3, 4 })]
    [InlineData(BpfMapType.Stack, new uint[] { 4, 3, 2 })]
    public void Push_with_BPF_EXIST_on_a_full_map_drops_the_oldest(BpfMapType type, uint[] expected)
    {
        using var map = BpfMap.Create(new MapSpec("q", type, 0, 4, 3));
        for (uint v = 1; v <= 3; v++) Push(map, U32(v));
        Assert.Equal(0, Push(map, U32(4), (ulong)BpfUpdateFlags.Exist));
        foreach (var e in expected) Assert.Equal(e, BinaryPrimitives.ReadUInt32LittleEndian(Pop(map, 4).Value));
    }

    [Fact]
    public void Prog_array_holds_runtime_program_objects()
    {
        using var map = (ProgramArrayMap)BpfMap.Create(new MapSpec("jmp", BpfMapType.ProgArray, 4, 4, 4));
        var program = new object();
        map.SetProgram(2, program, handle: 77);
        Assert.Same(program, map.GetProgram(2));
        Assert.Null(map.GetProgram(1));
        Assert.Null(map.GetProgram(4));
        var v = new byte[4];
        Assert.True(map.TryLookup(U32(2), v));
        Assert.Equal(77u, BinaryPrimitives.ReadUInt32LittleEndian(v));
        Assert.True(Lookup(map, U32(2)) == null); // programs cannot look into a prog array
        Assert.Equal(BpfErrno.EINVAL, map.UpdateElem(U32(0), U32(5), BpfUpdateFlags.NoExist));
        Assert.Equal(BpfErrno.E2BIG, map.UpdateElem(U32(4), U32(5)));
        map.ProgramResolver = h => h == 5 ? "five" : null;
        Assert.Equal(BpfErrno.None, map.UpdateElem(U32(0), U32(5)));
        Assert.Equal("five", map.GetProgram(0));
        Assert.Equal(BpfErrno.EBADF, map.UpdateElem(U32(0), U32(6)));
        Assert.True(map.Delete(U32(2)));
        Assert.False(map.Delete(U32(2)));
        Assert.Equal(BpfErrno.E2BIG, map.DeleteElem(U32(9)));
    }

    [Fact]
    public void Array_of_maps_returns_inner_map_handles_and_keeps_inner_maps_alive()
    {
        var innerSpec = new MapSpec("inner", BpfMapType.Array, 4, 8, 2);
        using var outer = (ArrayOfMapsMap)BpfMap.Create(new MapSpec("aom", BpfMapType.ArrayOfMaps, 4, 4, 2, InnerMap: innerSpec));
        var inner = BpfMap.Create(innerSpec with { Name = "inner1" });
        outer.SetInner(1, inner);
        Assert.True(Lookup(outer, U32(0)) == null);
        var handle = (nint)Lookup(outer, U32(1));
        Assert.Same(inner, BpfMap.FromHandle(handle));
        var id = new byte[4];
        Assert.True(outer.TryLookup(U32(1), id));
        Assert.Equal(inner.Id, BinaryPrimitives.ReadUInt32LittleEndian(id));
        using var wrong = BpfMap.Create(innerSpec with { MaxEntries = 3 });
        Assert.Equal(BpfErrno.EINVAL, outer.UpdateElem(U32(0), U32(wrong.Id)));
        Assert.Equal(BpfErrno.EBADF, outer.UpdateElem(U32(0), U32(0xffffff)));
        Assert.Equal(BpfErrno.EINVAL, outer.UpdateElem(U32(0), U32(inner.Id), BpfUpdateFlags.NoExist));
        inner.Dispose();
        Assert.False(inner.IsDisposed); // the slot still holds a reference
        Assert.True(outer.Delete(U32(1)));
        Assert.True(inner.IsDisposed);
    }

    [Fact]
    public void Hash_of_maps_stores_and_releases_inner_maps()
    {
        var innerSpec = new MapSpec("inner", BpfMapType.Hash, 4, 4, 8);
        var outer = (HashOfMapsMap)BpfMap.Create(new MapSpec("hom", BpfMapType.HashOfMaps, 8, 4, 4, InnerMap: innerSpec));
        var a = BpfMap.Create(innerSpec);
        var b = BpfMap.Create(innerSpec);
        outer.SetInner(U64(1), a);
        outer.SetInner(U64(2), b);
        Assert.Same(a, BpfMap.FromHandle((nint)Lookup(outer, U64(1))));
        Assert.Same(b, outer.GetInner(U64(2)));
        outer.SetInner(U64(1), b); // replacing releases a's slot reference
        a.Dispose();
        Assert.True(a.IsDisposed);
        b.Dispose();
        Assert.False(b.IsDisposed);
        outer.Dispose();
        Assert.True(b.IsDisposed);
    }

    [Fact]
    public void Read_only_flags_and_freeze_are_visible()
    {
        using var map = BpfMap.Create(new MapSpec("ro", BpfMapType.Array, 4, 4, 1, BpfMapFlags.ReadOnlyProg));
        Assert.True(map.IsReadOnlyForPrograms);
        Assert.False(map.IsFrozen);
        Assert.Equal(BpfErrno.None, map.Freeze());
        Assert.True(map.IsFrozen);
        Assert.Equal(BpfErrno.EPERM, map.UpdateElem(U32(0), U32(1)));
        Assert.Equal(0, Update(map, U32(0), U32(1))); // freezing restricts the host, not programs
        var ex = Assert.Throws<BpfMapException>(() => map.Update(U32(0), U32(1)));
        Assert.Equal(BpfErrno.EPERM, ex.Errno);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct FlowKey { public uint Src; public uint Dst; public ushort SPort; public ushort DPort; public uint Proto; }

    [Fact]
    public void Typed_host_api_round_trips_structs_and_rejects_wrong_sizes()
    {
        using var map = BpfMap.Create(new MapSpec("flows", BpfMapType.Hash, 16, 8, 64));
        var k = new FlowKey { Src = 0x0a000001, Dst = 0x0a000002, SPort = 80, DPort = 443, Proto = 6 };
        map.Update(k, 42ul);
        Assert.True(map.TryLookup(k, out ulong v));
        Assert.Equal(42ul, v);
        Assert.False(map.TryLookup(k with { Proto = 17 }, out ulong _));
        var ex = Assert.Throws<ArgumentException>(() => map.Update(1u, 1ul));
        Assert.Contains("16", ex.Message);
        Assert.Throws<BpfMapException>(() => map.Update(k, 1ul, BpfUpdateFlags.NoExist));
        Assert.Single(map.Entries<FlowKey, ulong>());
        Assert.True(map.Delete(k));
        Assert.Empty(map.Entries());
    }

    [Fact]
    public void ForEachElement_visits_until_the_callback_stops()
    {
        using var map = BpfMap.Create(new MapSpec("h", BpfMapType.Hash, 4, 8, 16));
        for (uint i = 0; i < 5; i++) map.Update(i, (ulong)i * 10);
        ulong sum = 0;
        Assert.Equal(5, map.ForEachElement((k, v) => { sum += *(ulong*)v; return true; }));
        Assert.Equal(100ul, sum);
        int seen = 0;
        Assert.Equal(2, map.ForEachElement((k, v) => ++seen < 2)); // the stopping element counts, as in bpf_for_each_map_elem
        using var array = BpfMap.Create(new MapSpec("a", BpfMapType.Array, 4, 8, 7));
        Assert.Equal(7, array.ForEachElement((k, v) => true));
    }

    [Fact]
    public void Host_api_reports_bad_sizes_with_names()
    {
        using var map = BpfMap.Create(new MapSpec("sized", BpfMapType.Hash, 4, 8, 4));
        var ex = Assert.Throws<ArgumentException>(() => map.LookupElem(new byte[3], new byte[8]));
        Assert.Contains("sized", ex.Message);
        Assert.Throws<ArgumentException>(() => map.UpdateElem(new byte[4], new byte[7]));
        map.Dispose();
        Assert.Throws<ObjectDisposedException>(() => map.LookupElem(new byte[4], new byte[8]));
    }
}
