using BpfSharp.Elf.Btf;
using BpfSharp.Isa;

namespace BpfSharp.Elf;

/// <summary>
/// An eBPF object file read the way libbpf opens one: programs found by section-name conventions and linked with
/// their subprograms, map definitions (legacy <c>maps</c>, BTF <c>.maps</c>, global data sections), license, kernel
/// version, BTF and <c>.BTF.ext</c>. Nothing is created in a kernel or runtime; references are left as placeholders.
/// </summary>
public sealed class BpfObject
{
    /// <summary>Most instruction slots one linked program may have (the kernel's limit for privileged programs).</summary>
    public const int MaxProgramInstructions = 1_000_000;

    /// <summary>Most instruction slots all linked programs together may have; bounds work on hostile inputs.</summary>
    public const int MaxTotalInstructions = 8_000_000;

    private readonly List<ProgramSpec> _programs = new();
    private readonly List<MapSpec> _maps = new();
    private readonly List<string> _externs = new();

    private BpfObject(string name, ElfFile elf)
    {
        Name = name;
        Elf = elf;
    }

    /// <summary>Object name (file name without extension, or the name given).</summary>
    public string Name { get; }
    /// <summary>The underlying ELF file.</summary>
    public ElfFile Elf { get; }
    /// <summary>True for a big-endian (<c>bpfeb</c>) object.</summary>
    public bool IsBigEndian => Elf.IsBigEndian;
    /// <summary>The <c>license</c> section's string, or "" when absent.</summary>
    public string License { get; private set; } = "";
    /// <summary>The <c>version</c> section's value, or null when absent.</summary>
    public uint? KernelVersion { get; private set; }
    /// <summary>The programs, in section then offset order.</summary>
    public IReadOnlyList<ProgramSpec> Programs => _programs;
    /// <summary>The map definitions; <see cref="MapReference.MapIndex"/> indexes this list.</summary>
    public IReadOnlyList<MapSpec> Maps => _maps;
    /// <summary>Parsed <c>.BTF</c>, or null when absent or unusable (see <see cref="BtfError"/>).</summary>
    public Btf.Btf? Btf { get; private set; }
    /// <summary>Parsed <c>.BTF.ext</c>, or null when absent or unusable.</summary>
    public BtfExt? BtfExt { get; private set; }
    /// <summary>
    /// Why <c>.BTF</c> or <c>.BTF.ext</c> was ignored, or null. Like libbpf, broken BTF only fails the load when something
    /// needs it (BTF-defined maps).
    /// </summary>
    public string? BtfError { get; private set; }
    /// <summary>Names of the undefined (extern) symbols that instructions refer to.</summary>
    public IReadOnlyList<string> Externs => _externs;

    /// <summary>Loads an object file.</summary>
    /// <exception cref="BpfObjectException">The file is malformed or a reference cannot be resolved.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static BpfObject Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        long length = new FileInfo(path).Length;
        if (length > int.MaxValue)
            throw new BpfObjectException($"'{path}' is {length} bytes, larger than the 2 GiB an object may have");
        return Load(File.ReadAllBytes(path), Path.GetFileNameWithoutExtension(path));
    }

    /// <summary>Loads an object from its bytes (the array is kept, not copied: do not modify it afterwards).</summary>
    /// <exception cref="BpfObjectException">The image is malformed or a reference cannot be resolved.</exception>
    public static BpfObject Load(byte[] bytes, string name = "object")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var elf = ElfFile.Parse(bytes);
        // Old LLVM wrote EM_NONE; libbpf accepts it too.
        if (elf.Machine != ElfFile.MachineBpf && elf.Machine != 0)
            throw new BpfObjectException($"e_machine is {elf.Machine}, not EM_BPF ({ElfFile.MachineBpf})", null, 18);
        if (elf.FileType != 1)
            throw new BpfObjectException($"e_type is {elf.FileType}, expected a relocatable object (ET_REL = 1)", null, 16);
        var obj = new BpfObject(name, elf);
        new ObjectLinker(obj, elf).Run();
        return obj;
    }

    /// <summary>The program with this name, or null.</summary>
    public ProgramSpec? FindProgram(string name)
    {
        foreach (var p in _programs)
            if (p.Name == name) return p;
        return null;
    }

    /// <summary>The index of the map with this name in <see cref="Maps"/>, or -1.</summary>
    public int FindMapIndex(string name)
    {
        for (int i = 0; i < _maps.Count; i++)
            if (_maps[i].Name == name) return i;
        return -1;
    }

    /// <summary>The map with this name, or null.</summary>
    public MapSpec? FindMap(string name)
    {
        int i = FindMapIndex(name);
        return i < 0 ? null : _maps[i];
    }

    /// <summary>Reads the object's sections into programs and maps; one instance per load.</summary>
    private sealed class ObjectLinker(BpfObject obj, ElfFile elf)
    {
        private const byte OpLddw = 0x18;
        private const byte OpCall = 0x85;
        private const byte PseudoMapFd = 1;
        private const byte PseudoMapValue = 2;
        private const byte PseudoCall = 1;
        private const byte PseudoKfuncCall = 2;
        private const byte PseudoFunc = 4;

        private readonly Dictionary<(int Section, ulong Offset), int> _mapAt = new();
        private readonly Dictionary<int, int> _dataMapBySection = new();
        private readonly HashSet<int> _mapDefinitionSections = new();
        private readonly HashSet<string> _mapNames = new(StringComparer.Ordinal);
        private readonly HashSet<string> _externNames = new(StringComparer.Ordinal);
        private Dictionary<int, List<ElfSymbol>>? _symbolsBySection;
        private SectionCode?[] _code = [];
        private int _totalLinked;

        /// <summary>The symbols defined in a section (built once, so lookups stay linear overall).</summary>
        private List<ElfSymbol> SymbolsIn(int section)
        {
            if (_symbolsBySection is null)
            {
                _symbolsBySection = new Dictionary<int, List<ElfSymbol>>();
                foreach (var sym in elf.Symbols)
                {
                    if (!_symbolsBySection.TryGetValue(sym.SectionIndex, out var l)) _symbolsBySection[sym.SectionIndex] = l = new();
                    l.Add(sym);
                }
            }
            return _symbolsBySection.TryGetValue(section, out var list) ? list : [];
        }

        public void Run()
        {
            ReadLicenseAndVersion();
            ReadBtf();
            ReadLegacyMaps();
            ReadBtfMaps();
            ReadGlobalData();
            ReadCode();
            ReadRelocations();
            LinkPrograms();
        }

        private void ReadLicenseAndVersion()
        {
            foreach (var s in elf.Sections)
            {
                if (s.Name == "license" && s.Type != ElfSectionType.NoBits)
                {
                    var d = elf.GetData(s);
                    int nul = d.IndexOf((byte)0);
                    obj.License = System.Text.Encoding.UTF8.GetString(nul < 0 ? d : d[..nul]);
                }
                else if (s.Name == "version")
                {
                    if (s.Size != 4 || s.Type == ElfSectionType.NoBits)
                        throw new BpfObjectException($"must hold exactly 4 bytes, has {s.Size}", s.Name, (long)s.Offset);
                    obj.KernelVersion = new EndianReader(elf.IsBigEndian).U32(elf.GetData(s), 0);
                }
            }
        }

        private void ReadBtf()
        {
            var btfSec = elf.FindSection(".BTF");
            if (btfSec is null) return;
            try
            {
                obj.Btf = BpfSharp.Elf.Btf.Btf.Parse(elf.GetData(btfSec), elf.IsBigEndian);
            }
            catch (BpfObjectException e)
            {
                obj.BtfError = e.Message;
                return;
            }
            var extSec = elf.FindSection(".BTF.ext");
            if (extSec is null) return;
            try
            {
                obj.BtfExt = BpfSharp.Elf.Btf.BtfExt.Parse(elf.GetData(extSec), obj.Btf, elf.IsBigEndian);
            }
            catch (BpfObjectException e)
            {
                obj.BtfError = e.Message;
            }
        }

        private static bool IsLegacyMapsSection(string name) => name == "maps" || name.StartsWith("maps/", StringComparison.Ordinal);

        private void ReadLegacyMaps()
        {
            var r = new EndianReader(elf.IsBigEndian);
            foreach (var sec in elf.Sections)
            {
                if (!IsLegacyMapsSection(sec.Name) || sec.Type == ElfSectionType.NoBits) continue;
                _mapDefinitionSections.Add(sec.Index);
                var data = elf.GetData(sec);
                var syms = new List<ElfSymbol>();
                foreach (var sym in SymbolsIn(sec.Index))
                    if (sym.Type != ElfSymbolType.Section && sym.Type != ElfSymbolType.File)
                        syms.Add(sym);
                if (syms.Count == 0)
                {
                    if (data.Length == 0) continue;
                    // A single unnamed definition ("maps/NAME" sections of old toolchains).
                    syms.Add(new ElfSymbol(0, sec.Name.Length > 5 ? sec.Name[5..] : sec.Name, 0, (ulong)data.Length,
                        ElfSymbolType.Object, ElfSymbolBinding.Global, 0, (ushort)sec.Index));
                }
                syms.Sort((a, b) => a.Value.CompareTo(b.Value));
                int defSize = data.Length / syms.Count;
                if (defSize < 16)
                    throw new BpfObjectException(
                        $"{syms.Count} map symbols in {data.Length} bytes leave {defSize} bytes per definition, fewer than the 16 of type/key/value/max_entries",
                        sec.Name, (long)sec.Offset);
                foreach (var sym in syms)
                {
                    if (sym.Value > (ulong)data.Length || (ulong)data.Length - sym.Value < (ulong)defSize)
                        throw new BpfObjectException(
                            $"map '{sym.Name}' at offset {sym.Value} with definition size {defSize} extends past the section's {data.Length} bytes",
                            sec.Name, (long)sec.Offset);
                    var def = data.Slice((int)sym.Value, defSize);
                    var m = new MapSpec(sym.Name, MapSource.LegacyMapsSection)
                    {
                        Type = (BpfMapType)r.U32(def, 0),
                        KeySize = r.U32(def, 4),
                        ValueSize = r.U32(def, 8),
                        MaxEntries = r.U32(def, 12),
                        Flags = defSize >= 20 ? r.U32(def, 16) : 0,
                        SectionName = sec.Name,
                        SectionOffset = sym.Value,
                    };
                    AddMap(m, sec.Index, sym.Value);
                }
            }
        }

        private void AddMap(MapSpec m, int section, ulong offset)
        {
            if (!_mapNames.Add(m.Name))
                throw new BpfObjectException($"map '{m.Name}' is defined twice", m.SectionName, null);
            if (!_mapAt.TryAdd((section, offset), obj._maps.Count))
                throw new BpfObjectException($"two maps are defined at offset {offset}", m.SectionName, null);
            obj._maps.Add(m);
        }

        private void ReadBtfMaps()
        {
            var sec = elf.FindSection(".maps");
            if (sec is null) return;
            _mapDefinitionSections.Add(sec.Index);
            var btf = obj.Btf ?? throw new BpfObjectException(
                "BTF-defined maps need valid .BTF" + (obj.BtfError is null ? ", which is missing" : ": " + obj.BtfError), ".maps", null);
            var datasec = btf.Find<BtfDataSec>(".maps")
                ?? throw new BpfObjectException("no DATASEC '.maps' in the BTF describes the map definitions", ".maps", null);
            var slotRelocs = new List<(ulong Offset, string Symbol)>();
            foreach (var rs in elf.RelocationSections)
            {
                if (rs.Target.Index != sec.Index) continue;
                foreach (var rel in rs.Entries)
                    slotRelocs.Add((rel.Offset, elf.Symbols[rel.SymbolIndex].Name));
            }
            slotRelocs.Sort((a, b) => a.Offset.CompareTo(b.Offset));
            var symbolByName = new Dictionary<string, ElfSymbol>(StringComparer.Ordinal);
            foreach (var candidate in SymbolsIn(sec.Index))
                symbolByName.TryAdd(candidate.Name, candidate);
            var extents = new List<(ulong Start, ulong End, string Name)>();

            foreach (var vsi in datasec.Variables)
            {
                if (btf[vsi.TypeId] is not BtfVar v)
                    throw new BpfObjectException($"DATASEC entry type {vsi.TypeId} is {btf[vsi.TypeId].Kind}, expected VAR", ".maps", null);
                // Compilers leave DATASEC offsets 0 in objects (libbpf fills them from the symbols), so the symbol places the map.
                if (!symbolByName.TryGetValue(v.Name, out var sym))
                    throw new BpfObjectException($"map '{v.Name}' has no symbol in the section", ".maps", null);
                ulong mapOffset = sym.Value, mapSize = sym.Size != 0 ? sym.Size : vsi.Size;
                if (mapOffset > sec.Size || mapSize > sec.Size - mapOffset)
                    throw new BpfObjectException($"map '{v.Name}' at offset {mapOffset} size {mapSize} extends past the section's {sec.Size} bytes", ".maps", null);
                var m = ParseBtfMapDefinition(btf, v.Name, v.TypeId, MapSource.BtfMapsSection, 0, out var valuesMember);
                m.SectionName = ".maps";
                m.SectionOffset = mapOffset;
                if (valuesMember is { } vm)
                {
                    var slots = new List<MapInitialSlot>();
                    ulong start = mapOffset + vm.ByteOffset, end = mapOffset + mapSize;
                    int lo = 0, hi = slotRelocs.Count;
                    while (lo < hi)
                    {
                        int mid = (lo + hi) >>> 1;
                        if (slotRelocs[mid].Offset < start) lo = mid + 1; else hi = mid;
                    }
                    for (int j = lo; j < slotRelocs.Count && slotRelocs[j].Offset < end; j++)
                    {
                        var (off, symName) = slotRelocs[j];
                        if ((off - start) % 8 != 0)
                            throw new BpfObjectException($"map '{v.Name}': initial value relocation at offset {off} is not 8-byte aligned", ".maps", null);
                        slots.Add(new MapInitialSlot((int)((off - start) / 8), symName));
                    }
                    m.InitialSlots = slots;
                }
                extents.Add((mapOffset, mapOffset + mapSize, v.Name));
                AddMap(m, sec.Index, mapOffset);
            }
            // Overlapping definitions would make relocations ambiguous (and slot scans quadratic).
            extents.Sort((a, b) => a.Start.CompareTo(b.Start));
            for (int i = 1; i < extents.Count; i++)
                if (extents[i].Start < extents[i - 1].End)
                    throw new BpfObjectException($"maps '{extents[i - 1].Name}' and '{extents[i].Name}' overlap", ".maps", null);
        }

        private static MapSpec ParseBtfMapDefinition(Btf.Btf btf, string name, int typeId, MapSource source, int depth,
            out BtfMember? valuesMember)
        {
            valuesMember = null;
            var def = btf.SkipModifiers(typeId);
            if (def is BtfVar var) def = btf.SkipModifiers(var.TypeId);
            if (def is not BtfComposite { IsUnion: false } st)
                throw new BpfObjectException($"map '{name}': definition is {def.Kind}, expected a struct", ".maps", null);
            var m = new MapSpec(name, source);
            ulong? keySize = null, valueSize = null;
            foreach (var member in st.Members)
            {
                switch (member.Name)
                {
                    case "type": m.Type = (BpfMapType)UintField(btf, name, member); break;
                    case "max_entries": m.MaxEntries = UintField(btf, name, member); break;
                    case "map_flags": m.Flags = UintField(btf, name, member); break;
                    case "numa_node": m.NumaNode = UintField(btf, name, member); break;
                    case "pinning": m.Pinning = UintField(btf, name, member); break;
                    case "map_extra": m.MapExtra = UintField(btf, name, member); break;
                    case "key_size": SetSize(ref keySize, UintField(btf, name, member), name, "key"); break;
                    case "value_size": SetSize(ref valueSize, UintField(btf, name, member), name, "value"); break;
                    case "key":
                    {
                        int target = PointerTarget(btf, name, member);
                        m.BtfKeyTypeId = target;
                        SetSize(ref keySize, btf.GetSize(target), name, "key");
                        break;
                    }
                    case "value":
                    {
                        int target = PointerTarget(btf, name, member);
                        m.BtfValueTypeId = target;
                        SetSize(ref valueSize, btf.GetSize(target), name, "value");
                        break;
                    }
                    case "values":
                    {
                        if (btf.SkipModifiers(member.TypeId) is not BtfArray arr)
                            throw new BpfObjectException($"map '{name}': field 'values' must be an array", ".maps", null);
                        var elem = btf.SkipModifiers(arr.ElementTypeId);
                        if (elem is not BtfReference { Kind: BtfKind.Pointer } ptr)
                            throw new BpfObjectException($"map '{name}': 'values' elements must be pointers", ".maps", null);
                        var inner = btf.SkipModifiers(ptr.TargetId);
                        if (inner is BtfComposite)
                        {
                            if (depth > 0)
                                throw new BpfObjectException($"map '{name}': inner maps cannot themselves hold maps", ".maps", null);
                            m.InnerMap = ParseBtfMapDefinition(btf, name + ".inner", inner.Id, MapSource.InnerMapTemplate, depth + 1, out _);
                        }
                        else if (inner is not BtfFuncProto)
                            throw new BpfObjectException($"map '{name}': 'values' must point to a map definition or a function", ".maps", null);
                        valueSize ??= 4;
                        valuesMember = member;
                        break;
                    }
                    default:
                        throw new BpfObjectException($"map '{name}': unknown field '{member.Name}'", ".maps", null);
                }
            }
            m.KeySize = ToU32(keySize ?? 0, name, "key size");
            m.ValueSize = ToU32(valueSize ?? 0, name, "value size");
            return m;
        }

        private static uint ToU32(ulong v, string map, string what) =>
            v > uint.MaxValue ? throw new BpfObjectException($"map '{map}': {what} {v} does not fit in 32 bits", ".maps", null) : (uint)v;

        private static void SetSize(ref ulong? slot, ulong value, string map, string what)
        {
            if (slot is { } existing && existing != value)
                throw new BpfObjectException($"map '{map}': {what} size given twice, as {existing} and {value}", ".maps", null);
            slot = value;
        }

        // __uint(name, N) is "int (*name)[N]": a pointer to an array whose length carries the value.
        private static uint UintField(Btf.Btf btf, string map, BtfMember member)
        {
            int target = PointerTarget(btf, map, member);
            if (btf.SkipModifiers(target) is not BtfArray arr)
                throw new BpfObjectException($"map '{map}': field '{member.Name}' must be a pointer to an array (__uint)", ".maps", null);
            return arr.Length;
        }

        private static int PointerTarget(Btf.Btf btf, string map, BtfMember member)
        {
            if (btf.SkipModifiers(member.TypeId) is not BtfReference { Kind: BtfKind.Pointer } ptr)
                throw new BpfObjectException($"map '{map}': field '{member.Name}' must be a pointer", ".maps", null);
            return ptr.TargetId;
        }

        private static bool IsGlobalDataName(string n, string stem) =>
            n == stem || n.StartsWith(stem + ".", StringComparison.Ordinal);

        private void ReadGlobalData()
        {
            foreach (var sec in elf.Sections)
            {
                if ((sec.Flags & ElfSectionFlags.Alloc) == 0 || sec.IsExecutable) continue;
                bool ro = IsGlobalDataName(sec.Name, ".rodata");
                bool bss = IsGlobalDataName(sec.Name, ".bss");
                if (!ro && !bss && !IsGlobalDataName(sec.Name, ".data")) continue;
                if (sec.Size == 0) continue;
                if (sec.Size > int.MaxValue)
                    throw new BpfObjectException($"global data section of {sec.Size} bytes is larger than a map value may be", sec.Name, null);
                var m = new MapSpec(sec.Name, MapSource.GlobalData)
                {
                    Type = BpfMapType.Array,
                    KeySize = 4,
                    ValueSize = (uint)sec.Size,
                    MaxEntries = 1,
                    Flags = BpfMapFlags.Mmapable | (ro ? BpfMapFlags.ReadOnlyProgram : 0),
                    IsFrozen = ro,
                    SectionName = sec.Name,
                    InitialData = sec.Type == ElfSectionType.NoBits ? ReadOnlyMemory<byte>.Empty
                        : elf.Bytes.Slice((int)sec.Offset, (int)sec.Size),
                };
                var btfVars = new Dictionary<string, int>(StringComparer.Ordinal);
                if (obj.Btf?.Find<BtfDataSec>(sec.Name) is { } ds)
                {
                    m.BtfValueTypeId = ds.Id;
                    foreach (var vsi in ds.Variables)
                        if (obj.Btf[vsi.TypeId] is BtfVar bv) btfVars.TryAdd(bv.Name, bv.TypeId);
                }
                var vars = new List<GlobalVariable>();
                foreach (var sym in SymbolsIn(sec.Index))
                {
                    if (sym.Type != ElfSymbolType.Object || sym.Name.Length == 0) continue;
                    if (sym.Value > sec.Size || sym.Size > sec.Size - sym.Value)
                        throw new BpfObjectException($"variable '{sym.Name}' at offset {sym.Value} size {sym.Size} extends past the section's {sec.Size} bytes", sec.Name, null);
                    vars.Add(new GlobalVariable(sym.Name, (uint)sym.Value, (uint)sym.Size, btfVars.GetValueOrDefault(sym.Name),
                        sym.Binding != ElfSymbolBinding.Local));
                }
                vars.Sort((a, b) => a.Offset.CompareTo(b.Offset));
                m.Variables = vars;
                _dataMapBySection[sec.Index] = obj._maps.Count;
                AddMap(m, sec.Index, ulong.MaxValue);
            }
        }

        /// <summary>One executable section: its instructions, function symbols and per-instruction relocations.</summary>
        private sealed class SectionCode(ElfSection section, RawInstruction[] insns)
        {
            public ElfSection Section { get; } = section;
            public RawInstruction[] Insns { get; } = insns;
            public List<Function> Functions { get; } = new();
            public Dictionary<int, Function> FunctionAt { get; } = new();
            public Dictionary<int, Reloc> RelocAt { get; } = new();
        }

        private sealed record Function(SectionCode Code, string Name, int Start, int Length, bool IsProgram);

        private enum RelocKind { MapFd, MapValue, Call, FuncAddress, KfuncCall, ExternVariable }

        private readonly record struct Reloc(RelocKind Kind, int MapIndex, uint Offset, int TargetSection, long TargetInsn, string Symbol);

        private void ReadCode()
        {
            _code = new SectionCode?[elf.Sections.Count];
            foreach (var sec in elf.Sections)
            {
                if (!sec.IsExecutable || sec.Type != ElfSectionType.ProgBits || sec.Size == 0) continue;
                if (sec.Size % RawInstruction.Size != 0)
                    throw new BpfObjectException($"code size {sec.Size} is not a multiple of 8", sec.Name, (long)sec.Offset);
                _code[sec.Index] = new SectionCode(sec, DecodeInstructions(elf.GetData(sec), elf.IsBigEndian));
            }

            // Function symbols, grouped per section.
            var perSection = new Dictionary<int, List<ElfSymbol>>();
            foreach (var sym in elf.Symbols)
            {
                if (sym.Type != ElfSymbolType.Func || sym.SectionIndex >= _code.Length || _code[sym.SectionIndex] is null) continue;
                if (!perSection.TryGetValue(sym.SectionIndex, out var l)) perSection[sym.SectionIndex] = l = new();
                l.Add(sym);
            }

            bool onlyText = true;
            foreach (var code in _code)
                if (code is not null && code.Section.Name != ".text") onlyText = false;
            foreach (var code in _code)
            {
                if (code is null) continue;
                var sec = code.Section;
                // Like libbpf, .text holds subprograms; but an object with no other code section (plain C compiled
                // without SEC(), as in verifier test suites) gets its global .text functions as programs.
                bool isText = sec.Name == ".text" && !onlyText;
                int count = code.Insns.Length;
                if (!perSection.TryGetValue(sec.Index, out var funcs) || funcs.Count == 0)
                {
                    // Old toolchains emit no FUNC symbols: the whole section is one function, named by a symbol at 0 if any.
                    string name = sec.Name;
                    foreach (var sym in SymbolsIn(sec.Index))
                        if (sym.Value == 0 && sym.Name.Length > 0 && sym.Type != ElfSymbolType.Section
                            && sym.Type != ElfSymbolType.File)
                        {
                            name = sym.Name;
                            break;
                        }
                    AddFunction(code, new Function(code, name, 0, count, !isText));
                    continue;
                }
                funcs.Sort((a, b) => a.Value.CompareTo(b.Value));
                bool anyGlobal = funcs.Exists(f => f.Binding != ElfSymbolBinding.Local);
                for (int i = 0; i < funcs.Count; i++)
                {
                    var f = funcs[i];
                    if (f.Value % 8 != 0 || f.Value / 8 >= (ulong)count)
                        throw new BpfObjectException($"function '{f.Name}' starts at offset {f.Value}, which is not an instruction in the {sec.Size}-byte section", sec.Name, null);
                    int start = (int)(f.Value / 8);
                    ulong size = f.Size;
                    if (size == 0)
                        size = (i + 1 < funcs.Count ? funcs[i + 1].Value : sec.Size) - f.Value;
                    if (size % 8 != 0 || size / 8 > (ulong)(count - start))
                        throw new BpfObjectException($"function '{f.Name}' at offset {f.Value} has size {f.Size}, which does not fit the {sec.Size}-byte section in whole instructions", sec.Name, null);
                    bool isProgram = !isText && (f.Binding != ElfSymbolBinding.Local || !anyGlobal);
                    if (code.FunctionAt.TryGetValue(start, out var clash))
                        throw new BpfObjectException($"two functions start at offset {f.Value} ('{clash.Name}' and '{f.Name}')", sec.Name, null);
                    AddFunction(code, new Function(code, f.Name, start, (int)(size / 8), isProgram));
                }
            }
        }

        private static void AddFunction(SectionCode code, Function f)
        {
            code.Functions.Add(f);
            code.FunctionAt[f.Start] = f;
        }

        private static RawInstruction[] DecodeInstructions(ReadOnlySpan<byte> bytes, bool bigEndian)
        {
            var insns = new RawInstruction[bytes.Length / RawInstruction.Size];
            var r = new EndianReader(bigEndian);
            for (int i = 0; i < insns.Length; i++)
            {
                var s = bytes.Slice(i * 8, 8);
                byte regs = s[1];
                // In big-endian objects the register nibbles are swapped: dst is the high nibble.
                byte dst = bigEndian ? (byte)(regs >> 4) : (byte)(regs & 0xf);
                byte src = bigEndian ? (byte)(regs & 0xf) : (byte)(regs >> 4);
                insns[i] = new RawInstruction(s[0], dst, src, unchecked((short)r.U16(s, 2)), r.I32(s, 4));
            }
            return insns;
        }

        private void ReadRelocations()
        {
            foreach (var rs in elf.RelocationSections)
            {
                var target = rs.Target;
                if (target.Index >= _code.Length || _code[target.Index] is not { } code) continue;
                for (int i = 0; i < rs.Entries.Count; i++)
                {
                    var rel = rs.Entries[i];
                    long at = (long)rs.Section.Offset + (long)i * (rs.Section.Type == ElfSectionType.Rela ? 24 : 16);
                    if (rel.Type == 0) continue; // R_BPF_NONE
                    if (rel.Offset % 8 != 0 || rel.Offset / 8 >= (ulong)code.Insns.Length)
                        throw new BpfObjectException($"relocation {i} at offset {rel.Offset} does not point at an instruction of section '{target.Name}'", rs.Section.Name, at);
                    int idx = (int)(rel.Offset / 8);
                    var reloc = Classify(code, idx, rel, rs.Section.Name, at);
                    if (!code.RelocAt.TryAdd(idx, reloc))
                        throw new BpfObjectException($"two relocations apply to instruction {idx} of section '{target.Name}'", rs.Section.Name, at);
                }
            }
        }

        private Reloc Classify(SectionCode code, int idx, ElfRelocation rel, string relSection, long at)
        {
            var sym = elf.Symbols[rel.SymbolIndex];
            var insn = code.Insns[idx];
            string symName = sym.Name.Length > 0 ? sym.Name
                : sym.SectionIndex < elf.Sections.Count ? elf.Sections[sym.SectionIndex].Name : $"#{sym.Index}";
            string Where() => $"relocation for instruction {idx} of section '{code.Section.Name}' against symbol '{symName}'";

            if (rel.Type != 1 && rel.Type != 10)
                throw new BpfObjectException($"{Where()}: relocation type {rel.Type} is not valid for instructions (R_BPF_64_64 or R_BPF_64_32 expected)", relSection, at);

            if (insn.Opcode == OpCall)
            {
                if (sym.IsUndefined)
                {
                    if (sym.Name.Length == 0) throw new BpfObjectException($"{Where()}: call to an unnamed undefined symbol", relSection, at);
                    return new Reloc(RelocKind.KfuncCall, -1, 0, 0, 0, sym.Name);
                }
                if (insn.Src != PseudoCall)
                    throw new BpfObjectException($"{Where()}: call instruction has src={insn.Src}, expected {PseudoCall} (BPF_PSEUDO_CALL)", relSection, at);
                if (sym.SectionIndex >= _code.Length || _code[sym.SectionIndex] is null)
                    throw new BpfObjectException($"{Where()}: call target is not in a code section", relSection, at);
                if (sym.Value % 8 != 0)
                    throw new BpfObjectException($"{Where()}: call target offset {sym.Value} is not a multiple of 8", relSection, at);
                long addend = rel.Addend is { } a ? a / 8 : 0;
                return new Reloc(RelocKind.Call, -1, 0, sym.SectionIndex, (long)(sym.Value / 8) + insn.Imm + 1 + addend, symName);
            }

            if (insn.Opcode != OpLddw)
                throw new BpfObjectException($"{Where()}: instruction opcode 0x{insn.Opcode:x2} is neither lddw nor call", relSection, at);
            if (idx + 1 >= code.Insns.Length)
                throw new BpfObjectException($"{Where()}: lddw is the last slot of the section and lacks its second half", relSection, at);

            if (sym.IsUndefined)
            {
                if (sym.Name.Length == 0) throw new BpfObjectException($"{Where()}: reference to an unnamed undefined symbol", relSection, at);
                return new Reloc(RelocKind.ExternVariable, -1, 0, 0, 0, sym.Name);
            }
            if (sym.SectionIndex >= elf.Sections.Count)
                throw new BpfObjectException($"{Where()}: symbol section index 0x{sym.SectionIndex:x} is not a section", relSection, at);
            long addendBytes = rel.Addend ?? insn.Imm;

            if (_mapDefinitionSections.Contains(sym.SectionIndex))
            {
                ulong off = sym.Value + (sym.Type == ElfSymbolType.Section ? (ulong)addendBytes : 0);
                if (!_mapAt.TryGetValue((sym.SectionIndex, off), out int mapIndex))
                    throw new BpfObjectException($"{Where()}: no map is defined at offset {off} of section '{elf.Sections[sym.SectionIndex].Name}'", relSection, at);
                return new Reloc(RelocKind.MapFd, mapIndex, 0, 0, 0, symName);
            }
            if (_dataMapBySection.TryGetValue(sym.SectionIndex, out int dataMap))
            {
                long off = (long)sym.Value + addendBytes;
                var map = obj._maps[dataMap];
                if (sym.Value > map.ValueSize || off < 0 || off > map.ValueSize)
                    throw new BpfObjectException($"{Where()}: offset {off} is outside the {map.ValueSize}-byte section '{map.Name}'", relSection, at);
                return new Reloc(RelocKind.MapValue, dataMap, (uint)off, 0, 0, symName);
            }
            if (sym.SectionIndex < _code.Length && _code[sym.SectionIndex] is not null)
            {
                long byteOff = (long)sym.Value + addendBytes;
                if (byteOff < 0 || byteOff % 8 != 0)
                    throw new BpfObjectException($"{Where()}: function address offset {byteOff} is not a multiple of 8", relSection, at);
                return new Reloc(RelocKind.FuncAddress, -1, 0, sym.SectionIndex, byteOff / 8, symName);
            }
            throw new BpfObjectException(
                $"{Where()}: symbol is in section '{elf.Sections[sym.SectionIndex].Name}', which is neither a map, a data section nor code",
                relSection, at);
        }

        private void LinkPrograms()
        {
            SortBtfExt();
            foreach (var code in _code)
            {
                if (code is null) continue;
                var info = ProgramSectionNames.Classify(code.Section.Name);
                foreach (var f in code.Functions)
                    if (f.IsProgram)
                        obj._programs.Add(Link(f, info));
            }
        }

        private ProgramSpec Link(Function main, ProgramSectionInfo info)
        {
            var insns = new List<RawInstruction>(main.Length);
            var placed = new Dictionary<Function, int>();
            var order = new List<(Function F, int Pos)>();
            var mapRefs = new List<MapReference>();
            var externs = new List<ExternReference>();

            int Place(Function f)
            {
                if (placed.TryGetValue(f, out int pos)) return pos;
                pos = insns.Count;
                if ((long)pos + f.Length > MaxProgramInstructions)
                    throw new BpfObjectException($"program '{main.Name}' exceeds {MaxProgramInstructions} instructions after linking subprograms", main.Code.Section.Name, null);
                _totalLinked += f.Length;
                if (_totalLinked > MaxTotalInstructions)
                    throw new BpfObjectException($"the object's programs exceed {MaxTotalInstructions} instructions in total after linking");
                placed[f] = pos;
                order.Add((f, pos));
                insns.AddRange(new ArraySegment<RawInstruction>(f.Code.Insns, f.Start, f.Length));
                return pos;
            }

            // Depth-first like libbpf's bpf_object__reloc_code: a subprogram is appended when first called and
            // processed before the caller continues. An explicit stack keeps hostile call chains off the CLR stack.
            var stack = new Stack<(Function F, int Pos, int Next)>();
            stack.Push((main, Place(main), 0));
            while (stack.Count > 0)
            {
                var (f, pos, next) = stack.Pop();
                var code = f.Code;
                for (int k = next; k < f.Length; k++)
                {
                    int sIdx = f.Start + k, pIdx = pos + k;
                    var insn = insns[pIdx];
                    bool hasReloc = code.RelocAt.TryGetValue(sIdx, out var rel);
                    if (hasReloc)
                    {
                        switch (rel.Kind)
                        {
                            case RelocKind.MapFd:
                                insns[pIdx] = With(insn, PseudoMapFd, rel.MapIndex);
                                insns[pIdx + 1] = With(insns[pIdx + 1], insns[pIdx + 1].Src, 0);
                                mapRefs.Add(new MapReference(pIdx, rel.MapIndex, MapReferenceKind.MapFd, 0));
                                continue;
                            case RelocKind.MapValue:
                                insns[pIdx] = With(insn, PseudoMapValue, rel.MapIndex);
                                insns[pIdx + 1] = With(insns[pIdx + 1], insns[pIdx + 1].Src, (int)rel.Offset);
                                mapRefs.Add(new MapReference(pIdx, rel.MapIndex, MapReferenceKind.MapValue, rel.Offset));
                                continue;
                            case RelocKind.KfuncCall:
                                insns[pIdx] = With(insn, PseudoKfuncCall, 0);
                                externs.Add(new ExternReference(pIdx, rel.Symbol, ExternReferenceKind.KfuncCall));
                                AddExtern(rel.Symbol);
                                continue;
                            case RelocKind.ExternVariable:
                                externs.Add(new ExternReference(pIdx, rel.Symbol, ExternReferenceKind.Variable));
                                AddExtern(rel.Symbol);
                                continue;
                        }
                    }

                    bool isCall = insn.Opcode == OpCall && insn.Src == PseudoCall;
                    bool isFuncAddr = hasReloc && rel.Kind == RelocKind.FuncAddress;
                    if (!isCall && !isFuncAddr) continue;

                    SectionCode targetCode;
                    long target;
                    if (hasReloc)
                    {
                        targetCode = _code[rel.TargetSection]!;
                        target = rel.TargetInsn;
                    }
                    else
                    {
                        targetCode = code;
                        target = (long)sIdx + insn.Imm + 1;
                    }
                    if (target < 0 || target >= targetCode.Insns.Length)
                        throw new BpfObjectException($"program '{main.Name}': instruction {sIdx} of function '{f.Name}': call target {target} is outside section '{targetCode.Section.Name}' ({targetCode.Insns.Length} instructions)", code.Section.Name, null);
                    int targetPos;
                    bool descend = false;
                    Function? callee = null;
                    if (targetCode == code && target > f.Start && target < f.Start + f.Length)
                    {
                        // A call into the middle of the same function keeps its relative position.
                        if (!isFuncAddr) continue;
                        targetPos = pos + (int)(target - f.Start);
                    }
                    else
                    {
                        if (!targetCode.FunctionAt.TryGetValue((int)target, out callee))
                            throw new BpfObjectException($"program '{main.Name}': instruction {sIdx} of function '{f.Name}': call target {target} in section '{targetCode.Section.Name}' is not the start of a function", code.Section.Name, null);
                        descend = !placed.ContainsKey(callee);
                        targetPos = Place(callee);
                    }
                    insns[pIdx] = With(insns[pIdx], isFuncAddr ? PseudoFunc : PseudoCall, (int)((long)targetPos - pIdx - 1));
                    if (descend)
                    {
                        stack.Push((f, pos, k + 1));
                        stack.Push((callee!, targetPos, 0));
                        break;
                    }
                }
            }

            var funcs = new List<ProgramFunction>(order.Count);
            var funcInfos = new List<BtfFuncInfo>();
            var lineInfos = new List<BtfLineInfo>();
            var core = new List<CoreRelocation>();
            foreach (var (f, pos) in order)
            {
                funcs.Add(new ProgramFunction(f.Name, f.Code.Section.Name, pos, f.Length));
                string sec = f.Code.Section.Name;
                foreach (var x in InRange(_funcInfos, sec, f, static x => x.InstructionIndex))
                    funcInfos.Add(x with { InstructionIndex = pos + x.InstructionIndex - f.Start });
                foreach (var x in InRange(_lineInfos, sec, f, static x => x.InstructionIndex))
                    lineInfos.Add(x with { InstructionIndex = pos + x.InstructionIndex - f.Start });
                foreach (var x in InRange(_coreRelos, sec, f, static x => x.InstructionIndex))
                    core.Add(x with { InstructionIndex = pos + x.InstructionIndex - f.Start });
            }
            lineInfos.Sort((a, b) => a.InstructionIndex.CompareTo(b.InstructionIndex));

            return new ProgramSpec(main.Name, main.Code.Section.Name, info, insns.ToArray(), funcs, mapRefs, externs,
                funcInfos, lineInfos, core, (ulong)main.Start * 8);
        }

        private Dictionary<string, BtfFuncInfo[]>? _funcInfos;
        private Dictionary<string, BtfLineInfo[]>? _lineInfos;
        private Dictionary<string, CoreRelocation[]>? _coreRelos;

        private void SortBtfExt()
        {
            if (obj.BtfExt is not { } ext) return;
            _funcInfos = Sorted(ext.FuncInfos, static x => x.InstructionIndex);
            _lineInfos = Sorted(ext.LineInfos, static x => x.InstructionIndex);
            _coreRelos = Sorted(ext.CoreRelocations, static x => x.InstructionIndex);
        }

        private static Dictionary<string, T[]> Sorted<T>(IReadOnlyDictionary<string, IReadOnlyList<T>> d, Func<T, int> key)
        {
            var result = new Dictionary<string, T[]>(StringComparer.Ordinal);
            foreach (var (sec, list) in d)
            {
                var arr = list.ToArray();
                Array.Sort(arr, (a, b) => key(a).CompareTo(key(b)));
                result[sec] = arr;
            }
            return result;
        }

        /// <summary>The records of a section that fall inside a function, found by binary search.</summary>
        private static IEnumerable<T> InRange<T>(Dictionary<string, T[]>? bySection, string sec, Function f, Func<T, int> key)
        {
            if (bySection is null || !bySection.TryGetValue(sec, out var arr)) yield break;
            int lo = 0, hi = arr.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (key(arr[mid]) < f.Start) lo = mid + 1; else hi = mid;
            }
            for (int i = lo; i < arr.Length && key(arr[i]) < f.Start + f.Length; i++)
                yield return arr[i];
        }

        private void AddExtern(string name)
        {
            if (_externNames.Add(name)) obj._externs.Add(name);
        }

        private static RawInstruction With(RawInstruction i, byte src, int imm) => new(i.Opcode, i.Dst, src, i.Offset, imm);
    }
}
