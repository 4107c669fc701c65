namespace BpfSharp.Runtime;

/// <summary>What a granted memory region holds; named in faults.</summary>
public enum RegionKind : byte
{
    /// <summary>The program's stack frames.</summary>
    Stack,
    /// <summary>The program context (r1 at entry).</summary>
    Context,
    /// <summary>Packet data.</summary>
    Packet,
    /// <summary>Plain memory handed to the program.</summary>
    Memory,
    /// <summary>A map value.</summary>
    MapValue,
    /// <summary>Memory a helper handed out (ring buffer record, ...).</summary>
    HelperMemory,
}

/// <summary>A range of native memory a program may access.</summary>
/// <param name="Start">First address.</param>
/// <param name="Length">Length in bytes.</param>
/// <param name="Kind">What the region holds.</param>
/// <param name="Writable">Whether stores and atomics may target it.</param>
public readonly record struct MemoryRegion(ulong Start, ulong Length, RegionKind Kind, bool Writable)
{
    /// <summary>One past the last address.</summary>
    public ulong End => Start + Length;

    /// <summary>Whether [address, address + size) lies inside the region (overflow-safe).</summary>
    public bool Contains(ulong address, int size) =>
        Length >= (ulong)size && address - Start <= Length - (ulong)size;

    /// <inheritdoc/>
    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()} [0x{Start:x}, +{Length}){(Writable ? "" : " read-only")}";
}
