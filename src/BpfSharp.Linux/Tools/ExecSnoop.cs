using System.Buffers.Binary;
using System.Text;

namespace BpfSharp.Linux.Tools;

/// <summary>One program execution seen by <see cref="ExecSnoop"/>.</summary>
/// <param name="TimestampNs">CLOCK_MONOTONIC time of the exec, in ns (bpf_ktime_get_ns).</param>
/// <param name="Pid">Process id after the exec.</param>
/// <param name="ParentPid">Parent pid, read from /proc when the event is consumed (0 when the process already exited).</param>
/// <param name="Uid">Real uid of the process.</param>
/// <param name="Comm">Task name after the exec (at most 15 characters).</param>
/// <param name="Filename">Path of the executed file as passed to execve.</param>
/// <param name="Arguments">Command line from /proc/PID/cmdline when the event is consumed ("" when the process already exited).</param>
public sealed record ExecEvent(ulong TimestampNs, int Pid, int ParentPid, uint Uid, string Comm, string Filename, string Arguments);

/// <summary>
/// execsnoop: traces every successful exec system-wide through the sched:sched_process_exec tracepoint and a
/// BPF ring buffer. The kernel side records pid, uid, comm and filename; parent pid and arguments are read from
/// /proc as events arrive (short-lived processes may be gone by then, which leaves those two fields empty).
/// </summary>
public sealed class ExecSnoop : IDisposable
{
    // struct exec_event in examples/tools/execsnoop/execsnoop.bpf.c.
    private const int OffsetTimestamp = 0, OffsetPid = 8, OffsetOldPid = 12, OffsetUid = 16, OffsetComm = 24, OffsetFilename = 40;
    private const int FilenameLength = 256;

    private readonly KernelObject _object;
    private readonly BpfLink _link;
    private readonly RingBuffer _ring;

    private ExecSnoop(KernelObject obj, BpfLink link, RingBuffer ring)
    {
        _object = obj;
        _link = link;
        _ring = ring;
    }

    /// <summary>Loads the tool's program, attaches it to sched:sched_process_exec and opens the ring buffer.</summary>
    public static ExecSnoop Start()
    {
        var obj = KernelObject.Load(ToolObjects.Load("execsnoop"));
        BpfLink? link = null;
        try
        {
            link = obj.Program("execsnoop").AttachTracepoint("sched", "sched_process_exec");
            return new ExecSnoop(obj, link, new RingBuffer(obj.Map("events")));
        }
        catch
        {
            link?.Dispose();
            obj.Dispose();
            throw;
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for events and hands each to <paramref name="handler"/>; returns how many.</summary>
    public int Poll(Action<ExecEvent> handler, int timeoutMs)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return _ring.Poll(record => handler(Decode(record)), timeoutMs);
    }

    /// <summary>Delivers events until <paramref name="cancellation"/> fires.</summary>
    public void Run(Action<ExecEvent> handler, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(handler);
        while (!cancellation.IsCancellationRequested)
            Poll(handler, 100);
    }

    /// <summary>Decodes one ring-buffer record (struct exec_event) and adds the /proc details.</summary>
    public static ExecEvent Decode(ReadOnlySpan<byte> record)
    {
        if (record.Length < OffsetFilename + FilenameLength)
            throw new InvalidDataException($"exec event is {record.Length} bytes, expected {OffsetFilename + FilenameLength}");
        int pid = BinaryPrimitives.ReadInt32LittleEndian(record[OffsetPid..]);
        return new ExecEvent(
            BinaryPrimitives.ReadUInt64LittleEndian(record[OffsetTimestamp..]),
            pid,
            ReadParentPid(pid),
            BinaryPrimitives.ReadUInt32LittleEndian(record[OffsetUid..]),
            CString(record.Slice(OffsetComm, 16)),
            CString(record.Slice(OffsetFilename, FilenameLength)),
            ReadCommandLine(pid));
    }

    /// <summary>The record's old_pid (differs from pid when a non-leader thread called exec).</summary>
    internal static int OldPid(ReadOnlySpan<byte> record) => BinaryPrimitives.ReadInt32LittleEndian(record[OffsetOldPid..]);

    private static string CString(ReadOnlySpan<byte> s)
    {
        int nul = s.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul < 0 ? s : s[..nul]);
    }

    private static int ReadParentPid(int pid)
    {
        try
        {
            // /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces and ')' so split after the last ')'.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            var fields = stat[(close + 2)..].Split(' ');
            return fields.Length > 1 && int.TryParse(fields[1], out int ppid) ? ppid : 0;
        }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    private static string ReadCommandLine(int pid)
    {
        try
        {
            var bytes = File.ReadAllBytes($"/proc/{pid}/cmdline");
            return Encoding.UTF8.GetString(bytes).TrimEnd('\0').Replace('\0', ' ');
        }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    /// <summary>Detaches the program and closes everything.</summary>
    public void Dispose()
    {
        _ring.Dispose();
        _link.Dispose();
        _object.Dispose();
    }
}
