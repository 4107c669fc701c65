namespace BpfSharp.Runtime;

/// <summary>
/// A helper implementation: receives the run context and r1-r5, returns r0. Helpers that hand out memory to the
/// program (map values, ring buffer records) grant it through <see cref="RunContext.GrantRegion"/>.
/// </summary>
public delegate ulong HelperFunction(RunContext context, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5);

/// <summary>A helper as the engines see it: its Linux id, name and implementation.</summary>
/// <param name="Id">Helper id (the call instruction's imm), Linux numbering.</param>
/// <param name="Name">Helper name without the <c>bpf_</c> prefix, e.g. <c>map_lookup_elem</c>.</param>
/// <param name="Function">The implementation.</param>
public sealed record HelperDescriptor(int Id, string Name, HelperFunction Function);

/// <summary>Helpers by id. Engines resolve ids once, at load time, never per call.</summary>
public sealed class HelperTable
{
    private HelperDescriptor?[] _byId = new HelperDescriptor?[256];

    /// <summary>Registers (or replaces) a helper.</summary>
    public HelperTable Register(HelperDescriptor helper)
    {
        ArgumentNullException.ThrowIfNull(helper);
        ArgumentOutOfRangeException.ThrowIfNegative(helper.Id);
        if (helper.Id >= _byId.Length) Array.Resize(ref _byId, Math.Max(helper.Id + 1, _byId.Length * 2));
        _byId[helper.Id] = helper;
        return this;
    }

    /// <summary>Registers a helper from its parts.</summary>
    public HelperTable Register(int id, string name, HelperFunction function) => Register(new HelperDescriptor(id, name, function));

    /// <summary>The helper with an id, or null.</summary>
    public HelperDescriptor? Find(long id) => id >= 0 && id < _byId.Length ? _byId[id] : null;

    /// <summary>All registered helpers, by id.</summary>
    public IEnumerable<HelperDescriptor> All
    {
        get
        {
            foreach (var h in _byId) if (h is not null) yield return h;
        }
    }
}

/// <summary>Thrown when a program cannot be prepared for an engine (unknown helper, unsupported instruction...).</summary>
public sealed class BpfLoadException : Exception
{
    /// <summary>Creates the exception naming the instruction.</summary>
    public BpfLoadException(string message, int instructionIndex)
        : base(instructionIndex >= 0 ? $"instruction {instructionIndex}: {message}" : message) => InstructionIndex = instructionIndex;

    /// <summary>Creates the exception.</summary>
    public BpfLoadException() : this("invalid program", -1) { }

    /// <summary>Creates the exception.</summary>
    public BpfLoadException(string message) : this(message, -1) { }

    /// <summary>Creates the exception with a cause.</summary>
    public BpfLoadException(string message, Exception inner) : base(message, inner) => InstructionIndex = -1;

    /// <summary>Slot index of the offending instruction, or -1.</summary>
    public int InstructionIndex { get; }
}
