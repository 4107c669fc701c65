using BpfSharp.Isa;
using BpfSharp.Maps;
using Xunit;
using Xunit.Abstractions;
using static BpfSharp.Maps.BpfMapFlags;
using T = BpfSharp.Isa.BpfMapType;

namespace BpfSharp.Maps.Tests;

public class MapSpecTests(ITestOutputHelper output)
{
    // Expected errnos come from the kernel's map_alloc_check rules (kernel/bpf/arraymap.c, hashtab.c,
    // queue_stack_maps.c, lpm_trie.c, ringbuf.c) and Documentation/bpf/map_*.rst; the differential test below
    // checks the same rows against the running kernel.
    public static TheoryData<string, T, uint, uint, uint, BpfMapFlags, BpfErrno> Cases => new()
    {
        { "array ok", T.Array, 4, 8, 16, None, BpfErrno.None },
        { "array key 8", T.Array, 8, 8, 16, None, BpfErrno.EINVAL },
        { "array value 0", T.Array, 4, 0, 16, None, BpfErrno.EINVAL },
        { "array max 0", T.Array, 4, 4, 0, None, BpfErrno.EINVAL },
        { "array mmapable", T.Array, 4, 4, 16, Mmapable, BpfErrno.None },
        { "array zero seed", T.Array, 4, 4, 16, ZeroSeed, BpfErrno.EINVAL },
        { "array no prealloc", T.Array, 4, 4, 16, NoPrealloc, BpfErrno.EINVAL },
        { "array rdonly_prog", T.Array, 4, 4, 16, ReadOnlyProg, BpfErrno.None },
        { "array rdonly+wronly", T.Array, 4, 4, 16, ReadOnly | WriteOnly, BpfErrno.EINVAL },
        { "array rdonly_prog+wronly_prog", T.Array, 4, 4, 16, ReadOnlyProg | WriteOnlyProg, BpfErrno.EINVAL },
        { "array preserve elems", T.Array, 4, 4, 16, PreserveElems, BpfErrno.EINVAL },
        { "percpu array ok", T.PerCpuArray, 4, 12, 16, None, BpfErrno.None },
        { "percpu array mmapable", T.PerCpuArray, 4, 4, 16, Mmapable, BpfErrno.EINVAL },
        { "percpu array value 32768", T.PerCpuArray, 4, 32768, 1, None, BpfErrno.None },
        { "percpu array value 32769", T.PerCpuArray, 4, 32769, 1, None, BpfErrno.E2BIG },
        { "hash ok", T.Hash, 8, 8, 16, None, BpfErrno.None },
        { "hash key 0", T.Hash, 0, 8, 16, None, BpfErrno.EINVAL },
        { "hash value 0", T.Hash, 4, 0, 16, None, BpfErrno.EINVAL },
        { "hash max 0", T.Hash, 4, 4, 0, None, BpfErrno.EINVAL },
        { "hash no prealloc", T.Hash, 4, 4, 16, NoPrealloc, BpfErrno.None },
        { "hash zero seed", T.Hash, 4, 4, 16, ZeroSeed, BpfErrno.None },
        { "hash mmapable", T.Hash, 4, 4, 16, Mmapable, BpfErrno.EINVAL },
        { "hash no common lru", T.Hash, 4, 4, 16, NoCommonLru, BpfErrno.EINVAL },
        { "hash odd key 3", T.Hash, 3, 5, 16, None, BpfErrno.None },
        { "hash element too big", T.Hash, 4, 4u * 1024 * 1024, 1, NoPrealloc, BpfErrno.E2BIG },
        { "percpu hash value 32769", T.PerCpuHash, 4, 32769, 1, None, BpfErrno.E2BIG },
        { "lru ok", T.LruHash, 4, 4, 16, None, BpfErrno.None },
        { "lru no prealloc", T.LruHash, 4, 4, 16, NoPrealloc, BpfErrno.ENOTSUPP },
        { "lru no common lru", T.LruHash, 4, 4, 16, NoCommonLru, BpfErrno.None },
        { "lru percpu ok", T.LruPerCpuHash, 4, 4, 16, None, BpfErrno.None },
        { "lpm ok", T.LpmTrie, 8, 4, 16, NoPrealloc, BpfErrno.None },
        { "lpm without no_prealloc", T.LpmTrie, 8, 4, 16, None, BpfErrno.EINVAL },
        { "lpm key 4", T.LpmTrie, 4, 4, 16, NoPrealloc, BpfErrno.EINVAL },
        { "lpm key 5", T.LpmTrie, 5, 4, 16, NoPrealloc, BpfErrno.None },
        { "lpm key 260", T.LpmTrie, 260, 4, 16, NoPrealloc, BpfErrno.None },
        { "lpm key 261", T.LpmTrie, 261, 4, 16, NoPrealloc, BpfErrno.EINVAL },
        { "lpm value 0", T.LpmTrie, 8, 0, 16, NoPrealloc, BpfErrno.EINVAL },
        { "lpm max 0", T.LpmTrie, 8, 4, 0, NoPrealloc, BpfErrno.EINVAL },
        { "lpm zero seed", T.LpmTrie, 8, 4, 16, NoPrealloc | ZeroSeed, BpfErrno.EINVAL },
        { "queue ok", T.Queue, 0, 4, 16, None, BpfErrno.None },
        { "queue key 4", T.Queue, 4, 4, 16, None, BpfErrno.EINVAL },
        { "queue value 0", T.Queue, 0, 0, 16, None, BpfErrno.EINVAL },
        { "queue max 0", T.Queue, 0, 4, 0, None, BpfErrno.EINVAL },
        { "queue no prealloc", T.Queue, 0, 4, 16, NoPrealloc, BpfErrno.EINVAL },
        { "stack ok", T.Stack, 0, 4, 16, None, BpfErrno.None },
        { "stack value too big", T.Stack, 0, 4u * 1024 * 1024 + 1, 1, None, BpfErrno.E2BIG },
        { "ringbuf 4096", T.RingBuf, 0, 0, 4096, None, BpfErrno.None },
        { "ringbuf 8192", T.RingBuf, 0, 0, 8192, None, BpfErrno.None },
        { "ringbuf 4097", T.RingBuf, 0, 0, 4097, None, BpfErrno.EINVAL },
        { "ringbuf 12288", T.RingBuf, 0, 0, 12288, None, BpfErrno.EINVAL },
        { "ringbuf 2048", T.RingBuf, 0, 0, 2048, None, BpfErrno.EINVAL },
        { "ringbuf key 4", T.RingBuf, 4, 0, 4096, None, BpfErrno.EINVAL },
        { "ringbuf value 4", T.RingBuf, 0, 4, 4096, None, BpfErrno.EINVAL },
        { "ringbuf rdonly_prog", T.RingBuf, 0, 0, 4096, ReadOnlyProg, BpfErrno.EINVAL },
        { "prog array ok", T.ProgArray, 4, 4, 8, None, BpfErrno.None },
        { "prog array value 8", T.ProgArray, 4, 8, 8, None, BpfErrno.EINVAL },
        { "prog array rdonly_prog", T.ProgArray, 4, 4, 8, ReadOnlyProg, BpfErrno.EINVAL },
        { "unspec", T.Unspecified, 4, 4, 8, None, BpfErrno.EINVAL },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Check_gives_the_kernel_rule_errno(string name, T type, uint key, uint value, uint max, BpfMapFlags flags, BpfErrno expected)
    {
        var spec = new MapSpec(name, type, key, value, max, flags);
        Assert.Equal(expected, spec.Check(out var reason));
        if (expected != BpfErrno.None)
        {
            Assert.NotEmpty(reason);
            var ex = Assert.ThrowsAny<MapSpecException>(() => BpfMap.Create(spec, new BpfMapOptions { CpuCount = 2 }));
            Assert.Equal(expected, ex.Errno);
            Assert.Contains(name, ex.Message);
        }
        else
        {
            using var map = BpfMap.Create(spec, new BpfMapOptions { CpuCount = 2 });
            Assert.Equal(type, map.Type);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Check_agrees_with_the_running_kernel(string name, T type, uint key, uint value, uint max, BpfMapFlags flags, BpfErrno expected)
    {
        _ = expected;
        if (KernelMap.Unavailable is { } why) { output.WriteLine("SKIPPED: " + why); return; }
        var spec = new MapSpec(name, type, key, value, max, flags);
        int kernel = KernelMap.TryCreate(spec, out var km);
        km?.Dispose();
        Assert.Equal((BpfErrno)kernel, spec.Check(out _));
    }

    [Fact]
    public void Map_in_map_needs_a_compatible_one_level_inner_template()
    {
        var inner = new MapSpec("inner", T.Array, 4, 8, 4);
        Assert.Equal(BpfErrno.None, new MapSpec("aom", T.ArrayOfMaps, 4, 4, 4, InnerMap: inner).Check(out _));
        Assert.Equal(BpfErrno.EBADF, new MapSpec("aom", T.ArrayOfMaps, 4, 4, 4).Check(out _));
        Assert.Equal(BpfErrno.EINVAL, new MapSpec("aom", T.ArrayOfMaps, 4, 8, 4, InnerMap: inner).Check(out _));
        var nested = new MapSpec("hom", T.HashOfMaps, 4, 4, 4, InnerMap: inner);
        Assert.Equal(BpfErrno.EINVAL, new MapSpec("outer", T.HashOfMaps, 4, 4, 4, InnerMap: nested).Check(out _));
        Assert.True(inner.IsCompatibleInner(inner with { Name = "other" }));
        Assert.False(inner.IsCompatibleInner(inner with { MaxEntries = 8 }));
        Assert.True((inner with { Flags = InnerMap }).IsCompatibleInner(inner with { MaxEntries = 8, Flags = InnerMap }));
    }
}
