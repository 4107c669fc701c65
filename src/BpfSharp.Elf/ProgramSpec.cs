using BpfSharp.Elf.Btf;
using BpfSharp.Isa;

namespace BpfSharp.Elf;

/// <summary>How an instruction refers to a map.</summary>
public enum MapReferenceKind
{
    /// <summary><c>lddw rX, map</c> (<c>BPF_PSEUDO_MAP_FD</c>, src=1): the map itself.</summary>
    MapFd,
    /// <summary><c>lddw rX, map_value + offset</c> (<c>BPF_PSEUDO_MAP_VALUE</c>, src=2): an address inside the map's value.</summary>
    MapValue,
}

/// <summary>
/// A map reference to patch: the <c>lddw</c> at <paramref name="InstructionIndex"/> has src set per
/// <paramref name="Kind"/> and imm = <paramref name="MapIndex"/> as a placeholder; a loader replaces imm with a real fd,
/// or the pair of imms with an address.
/// </summary>
/// <param name="InstructionIndex">Index of the first slot of the <c>lddw</c> in the linked program.</param>
/// <param name="MapIndex">Index into <see cref="BpfObject.Maps"/>.</param>
/// <param name="Kind">Whether the map or a value address is loaded.</param>
/// <param name="Offset">Byte offset within the value (for <see cref="MapReferenceKind.MapValue"/>; 0 otherwise).</param>
public readonly record struct MapReference(int InstructionIndex, int MapIndex, MapReferenceKind Kind, uint Offset);

/// <summary>How an instruction refers to an extern symbol.</summary>
public enum ExternReferenceKind
{
    /// <summary>A call to a kernel function (<c>call</c> with src=2, <c>BPF_PSEUDO_KFUNC_CALL</c>).</summary>
    KfuncCall,
    /// <summary>A <c>lddw</c> of an extern variable (<c>__ksym</c> or <c>__kconfig</c>).</summary>
    Variable,
}

/// <summary>An instruction that refers to a symbol the object does not define; a loader resolves it.</summary>
/// <param name="InstructionIndex">Index of the instruction in the linked program.</param>
/// <param name="SymbolName">The extern symbol's name.</param>
/// <param name="Kind">Call or variable.</param>
public readonly record struct ExternReference(int InstructionIndex, string SymbolName, ExternReferenceKind Kind);

/// <summary>Where one function (the program's own or a linked subprogram) sits in the linked program.</summary>
/// <param name="Name">Function symbol name.</param>
/// <param name="SectionName">Section the function came from.</param>
/// <param name="StartIndex">First instruction index in the linked program.</param>
/// <param name="Length">Number of instruction slots.</param>
public readonly record struct ProgramFunction(string Name, string SectionName, int StartIndex, int Length);

/// <summary>
/// One program of an object, linked like libbpf does: its own instructions followed by every subprogram it calls
/// (transitively), with call offsets fixed. Map and extern references are left as placeholders listed beside the code.
/// </summary>
public sealed class ProgramSpec
{
    internal ProgramSpec(string name, string sectionName, ProgramSectionInfo info, RawInstruction[] instructions,
        IReadOnlyList<ProgramFunction> functions, IReadOnlyList<MapReference> maps, IReadOnlyList<ExternReference> externs,
        IReadOnlyList<BtfFuncInfo> funcInfos, IReadOnlyList<BtfLineInfo> lineInfos, IReadOnlyList<CoreRelocation> core,
        ulong sectionOffset)
    {
        Name = name; SectionName = sectionName; Type = info.Type; ExpectedAttachType = info.ExpectedAttachType;
        AttachTarget = info.AttachTarget; Flags = info.Flags; IsLegacySectionName = info.IsLegacyMatch;
        _instructions = instructions; Functions = functions; MapReferences = maps; ExternReferences = externs;
        FuncInfos = funcInfos; LineInfos = lineInfos; CoreRelocations = core; SectionOffset = sectionOffset;
    }

    private readonly RawInstruction[] _instructions;

    /// <summary>Program (function symbol) name.</summary>
    public string Name { get; }
    /// <summary>ELF section the program came from.</summary>
    public string SectionName { get; }
    /// <summary>Byte offset of the program in its section.</summary>
    public ulong SectionOffset { get; }
    /// <summary>Program type from the section name.</summary>
    public BpfProgramType Type { get; }
    /// <summary>Expected attach type from the section name, when the convention sets one.</summary>
    public BpfAttachType? ExpectedAttachType { get; }
    /// <summary>Attach target from the section name (e.g. the function of <c>kprobe/func</c>), when present.</summary>
    public string? AttachTarget { get; }
    /// <summary>Load flags implied by the section name.</summary>
    public BpfProgramFlags Flags { get; }
    /// <summary>True when the section name was classified by a legacy (pre-libbpf-1.0) prefix rule or not at all.</summary>
    public bool IsLegacySectionName { get; }
    /// <summary>The linked instructions in host order (little-endian slot layout), placeholders for maps and externs.</summary>
    public ReadOnlySpan<RawInstruction> Instructions => _instructions;
    /// <summary>Number of instruction slots.</summary>
    public int InstructionCount => _instructions.Length;
    /// <summary>The program's own function first, then each linked subprogram.</summary>
    public IReadOnlyList<ProgramFunction> Functions { get; }
    /// <summary>Map references to patch.</summary>
    public IReadOnlyList<MapReference> MapReferences { get; }
    /// <summary>Extern (kfunc, ksym, kconfig) references to resolve.</summary>
    public IReadOnlyList<ExternReference> ExternReferences { get; }
    /// <summary>BTF function info, with instruction indexes in the linked program.</summary>
    public IReadOnlyList<BtfFuncInfo> FuncInfos { get; }
    /// <summary>BTF line info, with instruction indexes in the linked program, sorted by index.</summary>
    public IReadOnlyList<BtfLineInfo> LineInfos { get; }
    /// <summary>CO-RE relocations, with instruction indexes in the linked program.</summary>
    public IReadOnlyList<CoreRelocation> CoreRelocations { get; }

    /// <summary>A copy of the instructions.</summary>
    public RawInstruction[] ToArray() => (RawInstruction[])_instructions.Clone();

    /// <summary>The source line of the instruction at <paramref name="index"/> (the last line_info at or before it), or null.</summary>
    public BtfLineInfo? FindLine(int index)
    {
        int lo = 0, hi = LineInfos.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (LineInfos[mid].InstructionIndex <= index) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        return found < 0 ? null : LineInfos[found];
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({SectionName}, {Type}, {InstructionCount} insns)";
}
