using BpfSharp.Isa;
using BpfSharp.Maps;

namespace BpfSharp.Runtime.HelperFunctions;

/// <summary>
/// The map helpers with Linux's ids and semantics. A program names a map by the handle the loader put in its lddw;
/// key and value pointers are checked against the program's memory before the map reads or writes them, and a value
/// pointer a lookup returns is granted to the program for the rest of the run (read-only for BPF_F_RDONLY_PROG maps).
/// </summary>
public static unsafe class MapHelpers
{
    /// <summary>Registers the map helpers into <paramref name="table"/>.</summary>
    public static HelperTable RegisterAll(HelperTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        Add(table, "map_lookup_elem", static (c, m, k, _, _, _) => Lookup(c, m, k, cpu: -1));
        Add(table, "map_lookup_percpu_elem", static (c, m, k, cpu, _, _) => Lookup(c, m, k, cpu: (long)(uint)cpu));
        Add(table, "map_update_elem", Update);
        Add(table, "map_delete_elem", Delete);
        Add(table, "map_push_elem", static (c, m, v, flags, _, _) =>
        {
            var map = c.MapFromHandle(m, "map_push_elem");
            return (ulong)map.Push(c.CheckHelperAccess(v, (ulong)map.ValueSize, false, "map_push_elem value"), flags);
        });
        Add(table, "map_pop_elem", static (c, m, v, _, _, _) =>
        {
            var map = c.MapFromHandle(m, "map_pop_elem");
            return (ulong)map.Pop(c.CheckHelperAccess(v, (ulong)map.ValueSize, true, "map_pop_elem value"));
        });
        Add(table, "map_peek_elem", static (c, m, v, _, _, _) =>
        {
            var map = c.MapFromHandle(m, "map_peek_elem");
            return (ulong)map.Peek(c.CheckHelperAccess(v, (ulong)map.ValueSize, true, "map_peek_elem value"));
        });
        Add(table, "ringbuf_output", static (c, m, data, size, flags, _) =>
        {
            var ring = Ring(c, m, "ringbuf_output");
            return (ulong)ring.Output(c.CheckHelperAccess(data, size, false, "ringbuf_output data"), size, flags);
        });
        Add(table, "ringbuf_reserve", RingbufReserve);
        Add(table, "ringbuf_submit", static (c, sample, flags, _, _, _) => RingbufCommit(c, sample, flags, discard: false));
        Add(table, "ringbuf_discard", static (c, sample, flags, _, _, _) => RingbufCommit(c, sample, flags, discard: true));
        Add(table, "ringbuf_query", static (c, m, flags, _, _, _) => Ring(c, m, "ringbuf_query").Query(flags));
        Add(table, "tail_call", TailCall);
        return table;
    }

    private static void Add(HelperTable table, string name, HelperFunction function) =>
        table.Register(HelperNames.IdOf(name), name, function);

    private static ulong Lookup(RunContext c, ulong mapHandle, ulong key, long cpu)
    {
        var map = c.MapFromHandle(mapHandle, "map_lookup_elem");
        byte* k = c.CheckHelperAccess(key, (ulong)map.KeySize, false, "map_lookup_elem key");
        byte* value;
        if (cpu >= 0) value = map.LookupPerCpu(k, (uint)cpu);
        else if (map.Spec.IsPerCpu) value = map.LookupPerCpu(k, (uint)c.CpuId);
        else value = map.Lookup(k);
        if (value == null) return 0;
        if (map is ArrayOfMapsMap or HashOfMapsMap)
        {
            // The value is the inner map; the program may only pass it to other map helpers.
            var inner = map is ArrayOfMapsMap a ? a.GetInner(*(uint*)k) : BpfMap.FromHandle((nint)value);
            return inner is null ? 0 : c.RegisterMap(inner);
        }
        c.GrantRegion(new MemoryRegion((ulong)value, (ulong)map.ValueSize, RegionKind.MapValue, !map.IsReadOnlyForPrograms));
        return (ulong)value;
    }

    private static ulong Update(RunContext c, ulong mapHandle, ulong key, ulong value, ulong flags, ulong _5)
    {
        var map = c.MapFromHandle(mapHandle, "map_update_elem");
        if (map.IsReadOnlyForPrograms) return unchecked((ulong)-(long)BpfErrno.EPERM);
        byte* k = c.CheckHelperAccess(key, (ulong)map.KeySize, false, "map_update_elem key");
        byte* v = c.CheckHelperAccess(value, (ulong)map.ValueSize, false, "map_update_elem value");
        return (ulong)map.Update(k, v, flags);
    }

    private static ulong Delete(RunContext c, ulong mapHandle, ulong key, ulong _3, ulong _4, ulong _5)
    {
        var map = c.MapFromHandle(mapHandle, "map_delete_elem");
        if (map.IsReadOnlyForPrograms) return unchecked((ulong)-(long)BpfErrno.EPERM);
        return (ulong)map.Delete(c.CheckHelperAccess(key, (ulong)map.KeySize, false, "map_delete_elem key"));
    }

    private static RingBufferMap Ring(RunContext c, ulong handle, string helper) =>
        c.MapFromHandle(handle, helper) as RingBufferMap
        ?? throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, c.HelperPc, $"bpf_{helper}: the map is not a ring buffer"));

    private static ulong RingbufReserve(RunContext c, ulong mapHandle, ulong size, ulong flags, ulong _4, ulong _5)
    {
        var ring = Ring(c, mapHandle, "ringbuf_reserve");
        byte* sample = ring.Reserve(size, flags);
        if (sample == null) return 0;
        c.RingbufReservations.Add(((ulong)sample, ring));
        c.GrantRegion(new MemoryRegion((ulong)sample, size, RegionKind.HelperMemory, true));
        return (ulong)sample;
    }

    private static ulong RingbufCommit(RunContext c, ulong sample, ulong flags, bool discard)
    {
        var reservations = c.RingbufReservations;
        for (int i = 0; i < reservations.Count; i++)
        {
            if (reservations[i].Address != sample) continue;
            var ring = reservations[i].Map;
            reservations.RemoveAt(i);
            if (discard) ring.Discard((byte*)sample, flags);
            else ring.Submit((byte*)sample, flags);
            return 0;
        }
        string name = discard ? "ringbuf_discard" : "ringbuf_submit";
        throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, c.HelperPc, $"bpf_{name}: 0x{sample:x} is not a reserved ring buffer record"));
    }

    /// <summary>The kernel's MAX_TAIL_CALL_CNT.</summary>
    public const int MaxTailCalls = 33;

    private static ulong TailCall(RunContext c, ulong ctx, ulong mapHandle, ulong index, ulong _4, ulong _5)
    {
        if (c.MapFromHandle(mapHandle, "tail_call") is not ProgramArrayMap progs)
            throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, c.HelperPc, "bpf_tail_call: the map is not a program array"));
        // As in the kernel, a failed tail call (bad index, empty slot, too many) just continues with the next instruction.
        if (index > uint.MaxValue || c.TailCallCount >= MaxTailCalls) return unchecked((ulong)-(long)BpfErrno.ENOENT);
        if (progs.GetProgram((uint)index) is not IBpfExecutable target) return unchecked((ulong)-(long)BpfErrno.ENOENT);
        c.TailCallCount++;
        c.PendingTailCall = target;
        return 0;
    }
}
