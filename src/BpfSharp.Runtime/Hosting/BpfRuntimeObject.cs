using BpfSharp.Isa;
using BpfSharp.Elf;
using BpfSharp.Maps;
using ElfMapSpec = BpfSharp.Elf.MapSpec;
using MapsMapSpec = BpfSharp.Maps.MapSpec;

namespace BpfSharp.Runtime.Hosting;

/// <summary>
/// An eBPF object file loaded into the userspace runtime: its maps created in native memory (global data
/// initialised, <c>.rodata</c> frozen), its programs linked to those maps and ready to run. Like libbpf's
/// <c>bpf_object</c>, without the kernel.
/// </summary>
public sealed class BpfRuntimeObject : IDisposable
{
    private readonly List<BpfMap> _maps = [];
    private readonly Dictionary<string, RuntimeProgram> _programs = new(StringComparer.Ordinal);
    private readonly List<RuntimeProgram> _programList = [];

    private BpfRuntimeObject(BpfObject obj, RuntimeOptions options)
    {
        Object = obj;
        Options = options;
        Helpers = HelperFunctions.CallbackHelpers.RegisterAll(HelperFunctions.MapHelpers.RegisterAll(HelperFunctions.StandardHelpers.RegisterAll(new HelperTable())));
        options.ConfigureHelpers?.Invoke(Helpers);
        var mapOptions = new BpfMapOptions { CpuCount = options.CpuCount };
        try
        {
            foreach (var spec in obj.Maps) _maps.Add(CreateMap(spec, mapOptions));
            foreach (var spec in obj.Programs)
            {
                var program = new RuntimeProgram(this, spec);
                _programList.Add(program);
                _programs.TryAdd(spec.Name, program);
            }
            FillProgramArrays();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Loads an object file (ELF) and prepares all its programs; throws <see cref="BpfObjectException"/> or <see cref="BpfLoadException"/>.</summary>
    public static BpfRuntimeObject Load(string path, RuntimeOptions? options = null) => Load(BpfObject.Load(path), options);

    /// <summary>Prepares a parsed object.</summary>
    public static BpfRuntimeObject Load(BpfObject obj, RuntimeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(obj);
        return new BpfRuntimeObject(obj, options ?? new RuntimeOptions());
    }

    /// <summary>The parsed object.</summary>
    public BpfObject Object { get; }

    /// <summary>The options the object runs with.</summary>
    public RuntimeOptions Options { get; }

    /// <summary>The helpers programs may call.</summary>
    public HelperTable Helpers { get; }

    /// <summary>The maps, in the object's map order.</summary>
    public IReadOnlyList<BpfMap> Maps => _maps;

    /// <summary>The programs, in the object's order.</summary>
    public IReadOnlyList<RuntimeProgram> Programs => _programList;

    /// <summary>The map with a name (as in the object: <c>flows</c>, <c>.rodata</c>...); throws when absent.</summary>
    public BpfMap Map(string name)
    {
        foreach (var m in _maps) if (m.Name == name) return m;
        throw new KeyNotFoundException($"{Object.Name}: no map named '{name}' (maps: {string.Join(", ", _maps.Select(m => m.Name))})");
    }

    /// <summary>The program with a function name, or the only program when <paramref name="name"/> is null.</summary>
    public RuntimeProgram Program(string? name = null)
    {
        if (name is null)
        {
            return _programList.Count == 1 ? _programList[0]
                : throw new KeyNotFoundException($"{Object.Name} has {_programList.Count} programs; name one of: {string.Join(", ", _programList.Select(p => p.Name))}");
        }
        if (_programs.TryGetValue(name, out var p)) return p;
        foreach (var q in _programList) if (q.Spec.SectionName == name) return q;
        throw new KeyNotFoundException($"{Object.Name}: no program named '{name}' (programs: {string.Join(", ", _programList.Select(q => q.Name))})");
    }

    internal int MapIndexOf(BpfMap map) => _maps.IndexOf(map);

    private static BpfMap CreateMap(ElfMapSpec spec, BpfMapOptions options)
    {
        var map = BpfMap.Create(Convert(spec), options);
        try
        {
            if (spec.Source == MapSource.GlobalData && spec.InitialData.Length > 0)
            {
                var key = new byte[4];
                var value = new byte[spec.ValueSize];
                spec.InitialData.Span[..Math.Min(value.Length, spec.InitialData.Length)].CopyTo(value);
                var err = map.UpdateElem(key, value);
                if (err != 0) throw new BpfLoadException($"map {spec.Name}: initialising global data failed ({err})");
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

    private static MapsMapSpec Convert(ElfMapSpec spec) => new(
        spec.Name,
        spec.Type,
        spec.KeySize,
        spec.ValueSize,
        spec.MaxEntries,
        (BpfSharp.Maps.BpfMapFlags)spec.Flags,
        spec.InnerMap is null ? null : Convert(spec.InnerMap));

    private void FillProgramArrays()
    {
        for (int i = 0; i < _maps.Count; i++)
        {
            if (_maps[i] is not ProgramArrayMap array) continue;
            foreach (var slot in Object.Maps[i].InitialSlots)
            {
                if (_programs.TryGetValue(slot.SymbolName, out var target))
                    array.SetProgram((uint)slot.Slot, target.Executable);
            }
        }
    }

    /// <summary>Frees the maps (programs hold no native memory of their own).</summary>
    public void Dispose()
    {
        foreach (var p in _programList) p.Dispose();
        foreach (var m in _maps) m.Dispose();
        _maps.Clear();
    }
}
