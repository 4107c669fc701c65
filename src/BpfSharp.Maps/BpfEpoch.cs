namespace BpfSharp.Maps;

/// <summary>
/// Epoch-based deferred reclamation for map elements, so that a value pointer a running program got from a
/// lookup never points at memory reused for another element.
/// </summary>
/// <remarks>
/// Engines wrap every program run in <c>using var scope = BpfEpoch.Enter();</c>. A hash or LPM element that is
/// deleted or replaced goes to its map's limbo list tagged with the current epoch; it is reused only once every
/// thread inside a scope entered after that epoch. Memory is never returned to the OS before the map is
/// disposed. Code outside a scope (the host API copies values) is not protected and needs none.
/// Scopes nest; entering costs one interlocked store.
/// </remarks>
public static class BpfEpoch
{
    private const long Idle = long.MaxValue;
    private static long s_global = 1;
    private static ThreadRecord[] s_records = [];
    private static readonly Lock s_registerLock = new();

    [ThreadStatic] private static ThreadRecord? t_record;

    private sealed class ThreadRecord
    {
        public long Active = Idle;
        public int Depth;
    }

    /// <summary>A program-run scope; dispose it when the program returns.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly ThreadRecord? _record;
        internal Scope(object record) => _record = (ThreadRecord)record;

        /// <summary>Leaves the scope.</summary>
        public void Dispose()
        {
            var r = _record;
            if (r is not null && --r.Depth == 0) Volatile.Write(ref r.Active, Idle);
        }
    }

    /// <summary>Enters a scope in which map value pointers stay valid (see the type remarks).</summary>
    public static Scope Enter()
    {
        var r = t_record ?? Register();
        if (r.Depth++ == 0) Interlocked.Exchange(ref r.Active, Volatile.Read(ref s_global));
        return new Scope(r);
    }

    /// <summary>True when the calling thread is inside a scope.</summary>
    public static bool IsInScope => t_record is { Depth: > 0 };

    /// <summary>The tag for an element retired now.</summary>
    internal static long Current => Volatile.Read(ref s_global); // 64-bit reads are atomic on the 64-bit runtimes we target

    /// <summary>
    /// Starts a new epoch, so that scopes entered from now on do not hold back elements retired before.
    /// Called only when a reclaim found elements still blocked, which keeps the shared counter cold.
    /// </summary>
    internal static void Advance() => Interlocked.Increment(ref s_global);

    /// <summary>The oldest epoch any thread is still inside (long.MaxValue when none); tags below it are free.</summary>
    internal static long MinimumActive()
    {
        long min = Idle;
        foreach (var r in Volatile.Read(ref s_records))
        {
            long a = Volatile.Read(ref r.Active);
            if (a < min) min = a;
        }
        return min;
    }

    private static ThreadRecord Register()
    {
        var r = new ThreadRecord();
        lock (s_registerLock)
        {
            var old = s_records;
            var next = new ThreadRecord[old.Length + 1];
            old.CopyTo(next, 0);
            next[^1] = r;
            Volatile.Write(ref s_records, next);
        }
        t_record = r;
        return r;
    }
}

/// <summary>The CPU whose slot per-CPU maps use for program-side operations on the current thread.</summary>
/// <remarks>
/// The kernel runs a program on one CPU; here the engine (or host) says which "CPU" a thread is by setting
/// <see cref="Current"/> before running a program. Values at or above a map's CPU count wrap modulo that count.
/// </remarks>
public static class BpfCpu
{
    [ThreadStatic] private static int t_current;

    /// <summary>The current thread's CPU id (default 0).</summary>
    public static int Current
    {
        get => t_current;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            t_current = value;
        }
    }
}
