using System.Runtime.InteropServices;
using BpfSharp.Maps;
using BpfSharp.Runtime.Hosting;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Runtime.Tests;

/// <summary>A host-declared hook point firing a clang-built program (tests/.../data/hooks.c) that uses maps, global data and a ring buffer.</summary>
public class HookPointTests
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Request
    {
        public uint Status;
        public uint LatencyUs;
    }

    private static T Get<T>(BpfMap map, uint key) where T : unmanaged
    {
        Assert.True(map.TryLookup(key, out T value), $"{map.Name} has no key {key}");
        return value;
    }

    private static string ObjectPath => Path.Combine(TestPaths.RepoRoot, "tests", "BpfSharp.Runtime.Tests", "data", "hooks.o");

    [Fact]
    public void Fired_hook_runs_the_attached_program_which_fills_maps_and_the_ring_buffer()
    {
        using var obj = BpfRuntimeObject.Load(ObjectPath);
        var hook = new HookPoint("app/request");
        var links = hook.AttachAll(obj);
        Assert.Single(links);

        var requests = new (uint Status, uint Latency)[] { (200, 120), (200, 80), (404, 15), (500, 2500), (200, 1000) };
        foreach (var (status, latency) in requests)
        {
            var r = new Request { Status = status, LatencyUs = latency };
            Assert.Equal(1, hook.Fire(ref r));
        }

        var byStatus = obj.Map("by_status");
        Assert.Equal(3UL, Get<ulong>(byStatus, 200));
        Assert.Equal(1UL, Get<ulong>(byStatus, 404));
        Assert.Equal(1UL, Get<ulong>(byStatus, 500));
        Assert.Equal(120UL + 80 + 15 + 2500 + 1000, Get<ulong>(obj.Map("total_latency"), 0));

        // slow_threshold_us = 1000 (in .rodata): two requests are slow, numbered by the .bss counter.
        var events = new List<(uint, uint, ulong)>();
        var ring = (RingBufferMap)obj.Map("slow");
        ring.Consume(record =>
        {
            events.Add((BitConverter.ToUInt32(record), BitConverter.ToUInt32(record[4..]), BitConverter.ToUInt64(record[8..])));
            return 0;
        });
        Assert.Equal([(500u, 2500u, 1UL), (200u, 1000u, 2UL)], events);

        foreach (var link in links) link.Dispose();
        var again = new Request { Status = 200, LatencyUs = 1 };
        Assert.Equal(0, hook.Fire(ref again));
        Assert.Equal(3UL, Get<ulong>(byStatus, 200));
    }

    [Fact]
    public void Rodata_is_read_only_to_the_host_after_load()
    {
        using var obj = BpfRuntimeObject.Load(ObjectPath);
        var rodata = obj.Maps.Single(m => m.Name.EndsWith(".rodata", StringComparison.Ordinal));
        Assert.True(rodata.IsFrozen);
        Assert.True(rodata.IsReadOnlyForPrograms);
        Assert.Equal(1000u, Get<uint>(rodata, 0));
    }
}
