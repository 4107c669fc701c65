using BpfSharp.Isa;
namespace BpfSharp.Elf;


/// <summary>Where a map definition came from.</summary>
public enum MapSource
{
    /// <summary>The legacy <c>maps</c> section (<c>struct bpf_map_def</c>).</summary>
    LegacyMapsSection,
    /// <summary>A BTF-defined map in <c>.maps</c>.</summary>
    BtfMapsSection,
    /// <summary>A global data section (<c>.data</c>, <c>.rodata</c>, <c>.bss</c>, ...) as a one-entry array.</summary>
    GlobalData,
    /// <summary>The inner map template of a map-in-map.</summary>
    InnerMapTemplate,
}

/// <summary>Map flag bits that the object loader sets or reads (<c>map_flags</c>).</summary>
public static class BpfMapFlags
{
    /// <summary><c>BPF_F_NO_PREALLOC</c>.</summary>
    public const uint NoPrealloc = 1;
    /// <summary><c>BPF_F_RDONLY_PROG</c>: programs may only read the map.</summary>
    public const uint ReadOnlyProgram = 1 << 7;
    /// <summary><c>BPF_F_MMAPABLE</c>: the array can be memory-mapped.</summary>
    public const uint Mmapable = 1 << 10;
}

/// <summary>One initial slot value of a map-in-map or program array (<c>.values = { [i] = &amp;x }</c>).</summary>
/// <param name="Slot">Index in the outer map.</param>
/// <param name="SymbolName">Name of the map or program stored there.</param>
public readonly record struct MapInitialSlot(int Slot, string SymbolName);

/// <summary>A global variable inside a global-data map's value.</summary>
/// <param name="Name">Symbol name.</param>
/// <param name="Offset">Byte offset in the section (and so in the map value).</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="BtfTypeId">The variable's type id from the section's DATASEC, or 0 when the BTF does not describe it.</param>
/// <param name="IsGlobal">True for a global symbol, false for a static one.</param>
public readonly record struct GlobalVariable(string Name, uint Offset, uint Size, int BtfTypeId, bool IsGlobal);

/// <summary>A map definition read from an object: what to create, not a created map.</summary>
public sealed class MapSpec
{
    internal MapSpec(string name, MapSource source) { Name = name; Source = source; }

    /// <summary>Map name (symbol name, or section name for global data).</summary>
    public string Name { get; }
    /// <summary>Where the definition came from.</summary>
    public MapSource Source { get; }
    /// <summary>Map type.</summary>
    public BpfMapType Type { get; internal set; }
    /// <summary>Key size in bytes.</summary>
    public uint KeySize { get; internal set; }
    /// <summary>Value size in bytes.</summary>
    public uint ValueSize { get; internal set; }
    /// <summary>Maximum number of entries.</summary>
    public uint MaxEntries { get; internal set; }
    /// <summary>Map flags (<see cref="BpfMapFlags"/>).</summary>
    public uint Flags { get; internal set; }
    /// <summary>Pinning mode (0 none, 1 by name).</summary>
    public uint Pinning { get; internal set; }
    /// <summary>NUMA node.</summary>
    public uint NumaNode { get; internal set; }
    /// <summary>Type-specific extra (<c>map_extra</c>).</summary>
    public ulong MapExtra { get; internal set; }
    /// <summary>The section the definition or data lives in.</summary>
    public string SectionName { get; internal set; } = "";
    /// <summary>Offset of the definition in its section.</summary>
    public ulong SectionOffset { get; internal set; }
    /// <summary>BTF type id of the key, when the BTF says (0 otherwise).</summary>
    public int BtfKeyTypeId { get; internal set; }
    /// <summary>BTF type id of the value, when the BTF says (0 otherwise).</summary>
    public int BtfValueTypeId { get; internal set; }
    /// <summary>For global data: the section contents (empty for <c>.bss</c>, which starts zeroed).</summary>
    public ReadOnlyMemory<byte> InitialData { get; internal set; }
    /// <summary>True when the map must be frozen after its initial data is written (<c>.rodata</c>).</summary>
    public bool IsFrozen { get; internal set; }
    /// <summary>For a map-in-map: the inner map template.</summary>
    public MapSpec? InnerMap { get; internal set; }
    /// <summary>Initial slots of a map-in-map or program array.</summary>
    public IReadOnlyList<MapInitialSlot> InitialSlots { get; internal set; } = [];
    /// <summary>
    /// For global data: the variables in the section, placed by their ELF symbols (compilers leave BTF DATASEC offsets
    /// 0 in objects; libbpf places variables the same way), sorted by offset.
    /// </summary>
    public IReadOnlyList<GlobalVariable> Variables { get; internal set; } = [];

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {Type} key={KeySize} value={ValueSize} max_entries={MaxEntries} flags=0x{Flags:x}";
}
