namespace BpfSharp.Runtime.Hosting;

/// <summary>
/// A place in the host application where eBPF programs run: the application declares it, programs attach to it, and
/// the application fires it with a context (bytes the programs read through r1, r2 = their length). Like a kernel
/// tracepoint, but the host's own. Attaching returns a link that detaches on dispose.
/// </summary>
public sealed class HookPoint
{
    private RuntimeProgram[] _attached = [];
    private readonly object _gate = new();

    /// <summary>Declares a hook point.</summary>
    public HookPoint(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <summary>The hook's name; programs in <c>SEC("tracepoint/NAME")</c> or <c>SEC("tp/NAME")</c> attach to it by name.</summary>
    public string Name { get; }

    /// <summary>The programs attached, in attach order.</summary>
    public IReadOnlyList<RuntimeProgram> Attached => Volatile.Read(ref _attached);

    /// <summary>Attaches a program; the returned link detaches it when disposed.</summary>
    public IDisposable Attach(RuntimeProgram program)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (program.Layout is not null)
            throw new ArgumentException($"{program.Name} is a {program.Spec.Type} program with a packet context; hook points pass plain memory", nameof(program));
        lock (_gate) _attached = [.. _attached, program];
        return new Link(this, program);
    }

    /// <summary>Runs every attached program on <paramref name="context"/>; returns how many ran. Results go to <paramref name="results"/> when given.</summary>
    public int Fire(Span<byte> context, Span<uint> results = default)
    {
        var programs = Volatile.Read(ref _attached);
        for (int i = 0; i < programs.Length; i++)
        {
            uint r = programs[i].RunWithContext(context);
            if (i < results.Length) results[i] = r;
        }
        return programs.Length;
    }

    /// <summary>Fires the hook with an unmanaged struct as the context (the programs may modify it).</summary>
    public int Fire<T>(ref T context) where T : unmanaged =>
        Fire(System.Runtime.InteropServices.MemoryMarshal.AsBytes(new Span<T>(ref context)));

    /// <summary>Attaches every program of <paramref name="obj"/> whose tracepoint target is this hook's name.</summary>
    public IReadOnlyList<IDisposable> AttachAll(BpfRuntimeObject obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var links = new List<IDisposable>();
        foreach (var p in obj.Programs)
            if (p.Spec.AttachTarget == Name && p.Layout is null) links.Add(Attach(p));
        return links;
    }

    private void Detach(RuntimeProgram program)
    {
        lock (_gate)
        {
            int i = Array.IndexOf(_attached, program);
            if (i >= 0) _attached = [.. _attached[..i], .. _attached[(i + 1)..]];
        }
    }

    private sealed class Link(HookPoint hook, RuntimeProgram program) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) hook.Detach(program);
        }
    }
}
