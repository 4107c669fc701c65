using System.Buffers.Binary;
using BpfSharp.Elf;
using BpfSharp.Isa;
using ElfMapType = BpfSharp.Isa.BpfMapType;

namespace BpfSharp.Linux;

/// <summary>Options for <see cref="KernelObject.Load(BpfObject, KernelObjectOptions?)"/>.</summary>
public sealed record KernelObjectOptions
{
    /// <summary>
    /// Load the object's <c>.BTF</c> into the kernel and pass func_info/line_info with each program (default true).
    /// When the kernel rejects the BTF the object still loads without it, as libbpf does on old kernels;
    /// <see cref="KernelObject.BtfLoadError"/> then says why.
    /// </summary>
    public bool LoadBtf { get; init; } = true;

    /// <summary>Verifier log level for each program (0 = none; a rejected program is always re-tried with level 1 for the log).</summary>
    public uint LogLevel { get; init; }

    /// <summary>When set, only the programs with these names are loaded (maps are always all created).</summary>
    public IReadOnlyCollection<string>? ProgramNames { get; init; }
}

/// <summary>
/// A BPF object file loaded into the running kernel: every map created (global data maps filled, <c>.rodata</c>
/// frozen, map-in-map and program-array slots set), every program verified and loaded with its map references
/// patched to real map descriptors. The kernel-side twin of <c>BpfRuntimeObject</c>: the same
/// <see cref="Program(string?)"/> / <see cref="Map(string)"/> shape, so code can switch engines.
/// </summary>
/// <example>
/// <code>
/// using var obj = KernelObject.Load("firewall.o");
/// var result = obj.Program("xdp_filter").TestRun(packet);   // BPF_PROG_TEST_RUN
/// foreach (var (k, v) in obj.Map("counters").Entries()) { ... }
/// </code>
/// </example>
public sealed class KernelObject : IDisposable
{
    private const byte OpLddw = 0x18;
    private const byte PseudoMapFd = 1;
    private const byte PseudoMapValue = 2;

    private readonly List<KernelMap> _maps = [];
    private readonly List<KernelProgram> _programs = [];
    private readonly List<ProgramSpec> _programSpecs = [];
    private readonly List<string> _btfFallbacks = [];

    private KernelObject(BpfObject obj) => Object = obj;

    /// <summary>Parses an object file and loads it into the kernel (see <see cref="Load(BpfObject, KernelObjectOptions?)"/>).</summary>
    public static KernelObject Load(string path, KernelObjectOptions? options = null) => Load(BpfObject.Load(path), options);

    /// <summary>
    /// Creates the object's maps and loads its programs into the kernel.
    /// </summary>
    /// <exception cref="BpfVerifierException">A program was rejected; the message names it, <c>Log</c> has the verifier log.</exception>
    /// <exception cref="NotSupportedException">A program needs extern symbols (not supported yet), or CO-RE without BTF.</exception>
    /// <exception cref="BpfException">A map could not be created or initialised (the message names the map).</exception>
    public static KernelObject Load(BpfObject obj, KernelObjectOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(obj);
        options ??= new KernelObjectOptions();
        BpfSyscall.EnsureAvailable();
        var ko = new KernelObject(obj);
        try
        {
            if (options.LoadBtf) ko.LoadObjectBtf();
            ko.CreateMaps();
            ko.LoadPrograms(options);
            ko.FillProgramArrays();
            return ko;
        }
        catch
        {
            ko.Dispose();
            throw;
        }
    }

    /// <summary>The parsed object this was loaded from.</summary>
    public BpfObject Object { get; }

    /// <summary>The object's BTF in the kernel, or null when it has none or the kernel rejected it.</summary>
    public BtfHandle? Btf { get; private set; }

    /// <summary>Why the object's BTF is not loaded (kernel's BTF log line), or null.</summary>
    public string? BtfLoadError { get; private set; }

    /// <summary>
    /// Programs that the kernel refused with the object's func_info/line_info and that were loaded again without
    /// BTF (name and the kernel's reason). Empty when everything loaded as described.
    /// </summary>
    public IReadOnlyList<string> BtfInfoFallbacks => _btfFallbacks;

    /// <summary>The kernel maps, in the object's map order (<c>Object.Maps[i]</c> is <c>Maps[i]</c>).</summary>
    public IReadOnlyList<KernelMap> Maps => _maps;

    /// <summary>The loaded programs, in object order (only those selected by <see cref="KernelObjectOptions.ProgramNames"/>).</summary>
    public IReadOnlyList<KernelProgram> Programs => _programs;

    /// <summary>The map the object calls <paramref name="name"/> (e.g. "counters", ".rodata", ".bss").</summary>
    public KernelMap Map(string name)
    {
        int i = Object.FindMapIndex(name);
        if (i < 0)
            throw new KeyNotFoundException($"{Object.Name}: no map named '{name}' (maps: {string.Join(", ", Object.Maps.Select(m => m.Name))})");
        return _maps[i];
    }

    /// <summary>A program by function name or section name; with no name, the only program.</summary>
    public KernelProgram Program(string? name = null)
    {
        if (name is null)
        {
            return _programs.Count == 1 ? _programs[0]
                : throw new KeyNotFoundException($"{Object.Name} has {_programs.Count} loaded programs; name one of: {string.Join(", ", _programSpecs.Select(p => p.Name))}");
        }
        for (int i = 0; i < _programSpecs.Count; i++) if (_programSpecs[i].Name == name) return _programs[i];
        for (int i = 0; i < _programSpecs.Count; i++) if (_programSpecs[i].SectionName == name) return _programs[i];
        throw new KeyNotFoundException($"{Object.Name}: no loaded program named '{name}' (programs: {string.Join(", ", _programSpecs.Select(p => p.Name))})");
    }

    /// <summary>The object's description of a loaded program.</summary>
    public ProgramSpec SpecOf(KernelProgram program)
    {
        int i = _programs.IndexOf(program);
        return i >= 0 ? _programSpecs[i] : throw new ArgumentException("That program does not belong to this object.", nameof(program));
    }

    private void LoadObjectBtf()
    {
        var section = Object.Elf.FindSection(".BTF");
        if (section is null || Object.Btf is null)
        {
            BtfLoadError = Object.BtfError ?? (section is null ? "the object has no .BTF section" : null);
            return;
        }
        try
        {
            var raw = Object.Elf.GetData(section);
            Btf = BpfSyscall.BtfLoad(ObjectBtfFixup.Apply(Object, raw) ?? raw.ToArray());
        }
        catch (BpfException e)
        {
            BtfLoadError = e.Message;
        }
    }

    private void CreateMaps()
    {
        var specs = Object.Maps;
        for (int i = 0; i < specs.Count; i++)
            _maps.Add(CreateMap(specs[i]));
        // Map-in-map slots name other maps of the object; fill them once all exist.
        for (int i = 0; i < specs.Count; i++)
        {
            if (specs[i].Type is not (ElfMapType.ArrayOfMaps or ElfMapType.HashOfMaps)) continue;
            foreach (var slot in specs[i].InitialSlots)
            {
                int target = Object.FindMapIndex(slot.SymbolName);
                if (target < 0)
                    throw new BpfException("BPF_MAP_UPDATE_ELEM", 2, $"map '{specs[i].Name}' slot {slot.Slot} names '{slot.SymbolName}', which is not a map of the object");
                _maps[i].Update(BitConverter.GetBytes(slot.Slot), BitConverter.GetBytes(_maps[target].Fd));
            }
        }
    }

    private KernelMap CreateMap(MapSpec spec)
    {
        KernelMap? inner = spec.InnerMap is null ? null : CreateMap(spec.InnerMap);
        KernelMap map;
        try
        {
            map = KernelMap.Create(new MapCreateOptions
            {
                Type = (BpfMapType)(int)spec.Type,
                KeySize = spec.KeySize,
                ValueSize = spec.ValueSize,
                MaxEntries = spec.MaxEntries,
                Flags = (MapCreateFlags)spec.Flags,
                MapExtra = spec.MapExtra,
                Name = KernelMapName(spec),
                InnerMap = inner?.Handle,
            });
        }
        catch (BpfException e)
        {
            throw new BpfException(e.Operation, e.Errno, $"creating map '{spec.Name}' ({spec})");
        }
        finally
        {
            inner?.Dispose();
        }
        try
        {
            if (spec.Source == MapSource.GlobalData && spec.InitialData.Length > 0)
            {
                var value = new byte[spec.ValueSize];
                spec.InitialData.Span[..Math.Min(value.Length, spec.InitialData.Length)].CopyTo(value);
                map.Update(stackalloc byte[4], value);
            }
            if (spec.IsFrozen) map.Freeze();
            return map;
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    // libbpf names global-data maps "<object prefix><section>" within the kernel's 15 characters, e.g. "firewall.rodata".
    private string KernelMapName(MapSpec spec)
    {
        if (spec.Source != MapSource.GlobalData || !spec.Name.StartsWith('.')) return spec.Name;
        int prefix = Math.Min(Math.Max(0, 15 - spec.Name.Length), Object.Name.Length);
        return Object.Name[..prefix] + spec.Name;
    }

    private void LoadPrograms(KernelObjectOptions options)
    {
        Dictionary<string, uint>? stringOffsets = null;
        foreach (var spec in Object.Programs)
        {
            if (options.ProgramNames is not null && !options.ProgramNames.Contains(spec.Name)) continue;
            RawInstruction[]? relocated = null;
            if (spec.CoreRelocations.Count > 0)
            {
                // CO-RE: field offsets, sizes, existence, type and enum facts resolved against the running kernel's BTF.
                if (Object.Btf is null)
                    throw new NotSupportedException($"{Object.Name}: program '{spec.Name}' has CO-RE relocations but the object has no usable BTF ({Object.BtfError})");
                _kernelBtf ??= BpfSharp.Elf.Btf.Btf.LoadKernel();
                var report = BpfSharp.Elf.Btf.CoreRelocator.Apply(spec, Object.Btf, _kernelBtf);
                report.ThrowIfFailed();
                relocated = report.Instructions;
            }
            if (spec.ExternReferences.Count > 0)
                throw new NotSupportedException(
                    $"{Object.Name}: program '{spec.Name}' uses extern symbols (kfuncs, __kconfig variables), not supported yet by the kernel loader: {string.Join(", ", spec.ExternReferences.Select(e => e.SymbolName).Distinct())}");
            var code = PatchMapReferences(spec, relocated);
            byte[] funcInfo = [], lineInfo = [];
            if (Btf is not null)
            {
                funcInfo = EncodeFuncInfo(spec);
                stringOffsets ??= ReadStringOffsets();
                lineInfo = EncodeLineInfo(spec, stringOffsets);
            }
            var load = new ProgramLoadOptions
            {
                Type = (BpfProgramType)(int)spec.Type,
                ExpectedAttachType = spec.ExpectedAttachType is { } t ? (BpfAttachType)(int)t : null,
                License = Object.License,
                KernelVersion = Object.KernelVersion ?? 0,
                Name = spec.Name,
                LogLevel = options.LogLevel,
                Flags = (uint)spec.Flags,
                Btf = Btf,
                FuncInfo = funcInfo,
                LineInfo = lineInfo,
            };
            KernelProgram program;
            try
            {
                program = KernelProgram.Load(code, load);
            }
            catch (BpfVerifierException e) when (Btf is not null && IsBtfInfoProblem(e))
            {
                // Like libbpf on kernels that dislike the object's func/line info: retry without BTF.
                program = KernelProgram.Load(code, load with { Btf = null, FuncInfo = default, LineInfo = default });
                _btfFallbacks.Add($"{spec.Name}: {e.Summary}");
            }
            catch (BpfVerifierException e)
            {
                throw new BpfVerifierException(e.Errno, e.Log, e.ProgramType, $"{Object.Name}: program '{spec.Name}' ({spec.SectionName})");
            }
            _programs.Add(program);
            _programSpecs.Add(spec);
        }
    }

    private static bool IsBtfInfoProblem(BpfVerifierException e) =>
        e.Log.Contains("func_info", StringComparison.Ordinal) || e.Log.Contains("line_info", StringComparison.Ordinal)
        || e.Log.Contains("BTF", StringComparison.Ordinal) && e.Log.Length < 400;

    private BpfSharp.Elf.Btf.Btf? _kernelBtf;

    private RawInstruction[] PatchMapReferences(ProgramSpec spec, RawInstruction[]? relocated)
    {
        var code = relocated is null ? spec.ToArray() : (RawInstruction[])relocated.Clone();
        foreach (var reference in spec.MapReferences)
        {
            int i = reference.InstructionIndex;
            if ((uint)reference.MapIndex >= (uint)_maps.Count)
                throw new BpfException("BPF_PROG_LOAD", Errnos.EINVAL, $"program '{spec.Name}' instruction {i} references map index {reference.MapIndex}, the object has {_maps.Count} maps");
            if (i < 0 || i + 1 >= code.Length || code[i].Opcode != OpLddw)
                throw new BpfException("BPF_PROG_LOAD", Errnos.EINVAL, $"program '{spec.Name}' map reference at instruction {i} is not a 16-byte lddw");
            var first = code[i];
            var second = code[i + 1];
            int fd = _maps[reference.MapIndex].Fd;
            if (reference.Kind == MapReferenceKind.MapFd)
            {
                code[i] = new RawInstruction(first.Opcode, first.Dst, PseudoMapFd, first.Offset, fd);
                code[i + 1] = new RawInstruction(second.Opcode, 0, 0, 0, 0);
            }
            else
            {
                code[i] = new RawInstruction(first.Opcode, first.Dst, PseudoMapValue, first.Offset, fd);
                code[i + 1] = new RawInstruction(second.Opcode, 0, 0, 0, unchecked((int)reference.Offset));
            }
        }
        return code;
    }

    private static byte[] EncodeFuncInfo(ProgramSpec spec)
    {
        var bytes = new byte[spec.FuncInfos.Count * BpfSyscall.FuncInfoRecordSize];
        for (int k = 0; k < spec.FuncInfos.Count; k++)
        {
            var span = bytes.AsSpan(k * BpfSyscall.FuncInfoRecordSize);
            BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)spec.FuncInfos[k].InstructionIndex);
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)spec.FuncInfos[k].TypeId);
        }
        return bytes;
    }

    private static byte[] EncodeLineInfo(ProgramSpec spec, Dictionary<string, uint> strings)
    {
        var bytes = new byte[spec.LineInfos.Count * BpfSyscall.LineInfoRecordSize];
        for (int k = 0; k < spec.LineInfos.Count; k++)
        {
            var line = spec.LineInfos[k];
            // A string we cannot place makes the whole line info unusable; the program still loads without it.
            if (!strings.TryGetValue(line.FileName, out uint file) || !strings.TryGetValue(line.LineText, out uint text))
                return [];
            var span = bytes.AsSpan(k * BpfSyscall.LineInfoRecordSize);
            BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)line.InstructionIndex);
            BinaryPrimitives.WriteUInt32LittleEndian(span[4..], file);
            BinaryPrimitives.WriteUInt32LittleEndian(span[8..], text);
            BinaryPrimitives.WriteUInt32LittleEndian(span[12..], ((uint)line.Line << 10) | ((uint)line.Column & 0x3ff));
        }
        return bytes;
    }

    // The parsed line info carries strings; the kernel wants their offsets in the BTF string section.
    private Dictionary<string, uint> ReadStringOffsets()
    {
        var result = new Dictionary<string, uint>(StringComparer.Ordinal);
        var section = Object.Elf.FindSection(".BTF");
        if (section is null || Object.IsBigEndian) return result;
        var btf = Object.Elf.GetData(section);
        if (btf.Length < 24) return result;
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(btf[4..]);
        uint stringOffset = BinaryPrimitives.ReadUInt32LittleEndian(btf[16..]);
        uint stringLength = BinaryPrimitives.ReadUInt32LittleEndian(btf[20..]);
        ulong start = (ulong)headerLength + stringOffset;
        if (start + stringLength > (ulong)btf.Length) return result;
        var strings = btf.Slice((int)start, (int)stringLength);
        int pos = 0;
        while (pos < strings.Length)
        {
            int nul = strings[pos..].IndexOf((byte)0);
            if (nul < 0) break;
            result.TryAdd(System.Text.Encoding.UTF8.GetString(strings.Slice(pos, nul)), (uint)pos);
            pos += nul + 1;
        }
        return result;
    }

    private void FillProgramArrays()
    {
        for (int i = 0; i < _maps.Count; i++)
        {
            var spec = Object.Maps[i];
            if (spec.Type != ElfMapType.ProgArray) continue;
            foreach (var slot in spec.InitialSlots)
            {
                int p = _programSpecs.FindIndex(s => s.Name == slot.SymbolName);
                if (p < 0) continue; // not selected for loading
                _maps[i].Update(BitConverter.GetBytes(slot.Slot), BitConverter.GetBytes(_programs[p].Fd));
            }
        }
    }

    /// <summary>Closes every program, map and the BTF descriptor (pinned or attached objects stay in the kernel).</summary>
    public void Dispose()
    {
        foreach (var p in _programs) p.Dispose();
        foreach (var m in _maps) m.Dispose();
        _programs.Clear();
        _maps.Clear();
        Btf?.Dispose();
        Btf = null;
    }

    /// <inheritdoc/>
    public override string ToString() => $"kernel object '{Object.Name}' ({_programs.Count} programs, {_maps.Count} maps)";
}
