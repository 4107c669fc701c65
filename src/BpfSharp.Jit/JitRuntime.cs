using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using BpfSharp.Isa;
using BpfSharp.Runtime;

namespace BpfSharp.Jit;

/// <summary>A region the compiled code caches for its second fast path: accesses inside it need no call.</summary>
internal readonly struct HotRegion(ulong start, ulong length)
{
    public readonly ulong Start = start;
    public readonly ulong Length = length;
}

/// <summary>
/// The out-of-line parts of compiled programs: slow-path memory checks, faults, indirect calls, packet loads and
/// atomics. Compiled code calls these with constants for pc, size and access kind, so each is a plain call.
/// </summary>
internal static unsafe class JitRuntime
{
    /// <summary>Smallest region the compiled fast path may cache (the largest access size), so <c>length - size</c> cannot wrap.</summary>
    public const ulong MinCachedLength = 8;

    /// <summary>
    /// Slow path of a checked access that missed the current frame and the cached region: the interpreter's
    /// <see cref="RunContext.CheckSlow"/> decides (and throws the same fault); on success returns the region to cache
    /// next, or the current stack when the region is too small to cache or may not be the one the interpreter would pick.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static HotRegion Resolve(RunContext context, ulong address, int size, bool write, int pc, ulong stackLow, long executedIfFault)
    {
        context.InstructionsExecuted = executedIfFault;
        context.CheckSlow(address, size, write, pc, stackLow);
        foreach (ref readonly var region in context.Regions)
        {
            if (!region.Contains(address, size)) continue;
            // The interpreter takes the first region containing the access; cache it only if it allows this access.
            if (region.Length >= MinCachedLength && (!write || region.Writable)) return new HotRegion(region.Start, region.Length);
            break;
        }
        return new HotRegion(stackLow, context.StackTop - stackLow);
    }

    /// <summary>Slow path of access site <paramref name="site"/> (see <see cref="Resolve"/>).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static HotRegion ResolveSite(JitClosure closure, RunContext context, ulong address, int site, ulong stackLow, long start, long budget)
    {
        var s = closure.Sites[site];
        return Resolve(context, address, s.Size, s.Write, s.Pc, stackLow, closure.Counting ? start - budget - s.After : 0);
    }

    /// <summary>The budget ran out in the block at <paramref name="blockStart"/>; <paramref name="budget"/> is already reduced by the block's length.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Exception BudgetExhaustedAt(JitClosure closure, RunContext context, long start, int blockStart, long budget) =>
        BudgetExhausted(closure, context, start, blockStart, Math.Max(0, budget + closure.BlockLength[blockStart]));

    /// <summary>The budget ran out before instruction <paramref name="index"/> (counted in instructions) of the block at <paramref name="blockStart"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Exception BudgetExhausted(JitClosure closure, RunContext context, long start, int blockStart, long index)
    {
        context.InstructionsExecuted = start;
        var code = closure.Code;
        int pc = blockStart;
        for (long i = 0; i < index && pc < code.Length; i++)
            pc += code[pc].Width;
        return new BpfFaultException(new BpfFault(BpfFaultKind.BudgetExceeded, pc, $"instruction budget of {context.InstructionBudget} exhausted"));
    }

    /// <summary>A fault raised by compiled code itself (depth, unsupported instruction, falling off the end).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Exception Fault(RunContext context, long executed, int kind, int pc, string detail)
    {
        context.InstructionsExecuted = executed;
        return new BpfFaultException(new BpfFault((BpfFaultKind)kind, pc, detail));
    }

    /// <summary>A local call beyond the context's maximum depth.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static Exception DepthFault(RunContext context, long executed, int pc, int maxDepth) =>
        Fault(context, executed, (int)BpfFaultKind.CallDepthExceeded, pc, $"local call nests deeper than {maxDepth} frames");

    /// <summary>callx: the helper whose id the register holds, looked up now, as the interpreter does.</summary>
    public static ulong CallIndirect(HelperTable table, RunContext context, ulong id, int pc, int register,
        ulong r1, ulong r2, ulong r3, ulong r4, ulong r5)
    {
        var helper = table.Find((long)id)
            ?? throw new BpfFaultException(new BpfFault(BpfFaultKind.UnknownHelper, pc, $"callx r{register}: no helper with id {(long)id}"));
        return helper.Function(context, r1, r2, r3, r4, r5);
    }

    /// <summary>Legacy LD ABS/IND: the big-endian value at the packet offset, or -1 when outside the packet (the program then ends with 0).</summary>
    public static long LoadPacket(RunContext context, long offset, int size)
    {
        if (offset < 0 || (ulong)offset + (ulong)size > context.PacketLength) return -1;
        byte* p = (byte*)(context.PacketStart + (ulong)offset);
        return size switch
        {
            1 => *p,
            2 => BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(p)),
            _ => BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(p)),
        };
    }

    // ---- atomics on real addresses; each returns the old value (zero-extended for 32-bit)

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicAdd64(ulong address, ulong value) => Interlocked.Add(ref *(ulong*)address, value) - value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicOr64(ulong address, ulong value) => Interlocked.Or(ref *(ulong*)address, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicAnd64(ulong address, ulong value) => Interlocked.And(ref *(ulong*)address, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicXor64(ulong address, ulong value)
    {
        ref ulong cell = ref *(ulong*)address;
        ulong old;
        do { old = Volatile.Read(ref cell); } while (Interlocked.CompareExchange(ref cell, old ^ value, old) != old);
        return old;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicXchg64(ulong address, ulong value) => Interlocked.Exchange(ref *(ulong*)address, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicCmpXchg64(ulong address, ulong value, ulong comparand) => Interlocked.CompareExchange(ref *(ulong*)address, value, comparand);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicAdd32(ulong address, ulong value) => Interlocked.Add(ref *(uint*)address, (uint)value) - (uint)value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicOr32(ulong address, ulong value) => Interlocked.Or(ref *(uint*)address, (uint)value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicAnd32(ulong address, ulong value) => Interlocked.And(ref *(uint*)address, (uint)value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicXor32(ulong address, ulong value)
    {
        ref uint cell = ref *(uint*)address;
        uint old;
        do { old = Volatile.Read(ref cell); } while (Interlocked.CompareExchange(ref cell, old ^ (uint)value, old) != old);
        return old;
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicXchg32(ulong address, ulong value) => Interlocked.Exchange(ref *(uint*)address, (uint)value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong AtomicCmpXchg32(ulong address, ulong value, ulong comparand) => Interlocked.CompareExchange(ref *(uint*)address, (uint)value, (uint)comparand);

    /// <summary>The atomic implementation for a row of the opcode table.</summary>
    public static string AtomicMethodName(OpInfo row) => $"Atomic{row.Atomic}{(row.Size == 8 ? 64 : 32)}";
}

/// <summary>A checked memory access: its pc, size, kind, and the instructions after it in its block.</summary>
internal readonly record struct MemorySite(int Pc, int Size, bool Write, int After);

/// <summary>What compiled code reaches through its first argument: resolved helpers and the program.</summary>
internal sealed class JitClosure(Instruction[] code, HelperTable table, HelperFunction[] helpers, object?[] helperTargets,
    MemorySite[] sites, int[] blockLength, bool counting)
{
    /// <summary>Checked memory accesses, by site index.</summary>
    public readonly MemorySite[] Sites = sites;
    /// <summary>Instructions in the block starting at each leader pc.</summary>
    public readonly int[] BlockLength = blockLength;
    /// <summary>Whether the program counts instructions.</summary>
    public readonly bool Counting = counting;
    /// <summary>The decoded program (for mapping a budget fault to its pc).</summary>
    public readonly Instruction[] Code = code;
    /// <summary>The helper table callx consults at run time.</summary>
    public readonly HelperTable Table = table;
    /// <summary>Helpers called through their delegate, by call-site index.</summary>
    public readonly HelperFunction[] Helpers = helpers;
    /// <summary>Targets of helpers called directly as instance methods, by call-site index.</summary>
    public readonly object?[] HelperTargets = helperTargets;
}
