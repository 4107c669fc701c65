using BpfSharp.Isa;
using System.Runtime.InteropServices;
using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>Receives one perf buffer sample: the CPU it came from and the raw bytes (valid only during the call).</summary>
public delegate void PerfSampleHandler(int cpu, ReadOnlySpan<byte> sample);

/// <summary>
/// Reader of a BPF_MAP_TYPE_PERF_EVENT_ARRAY (the perf buffer that <c>bpf_perf_event_output</c> writes to):
/// one PERF_COUNT_SW_BPF_OUTPUT event per online CPU, each with its own mmap'ed ring, installed into the map
/// at the CPU's index; epoll over all of them.
/// </summary>
/// <remarks>
/// Each CPU ring is <c>struct perf_event_mmap_page</c> (data_head at byte 1024, data_tail at 1032, data_offset
/// at 1040, data_size at 1048) followed by 2^n data pages. Records are <c>perf_event_header</c>
/// {u32 type; u16 misc; u16 size}: PERF_RECORD_SAMPLE (9) carries u32 raw size + raw bytes (the kernel pads the
/// raw part so records stay 8-byte aligned, so a sample can be up to 7 bytes longer than what the program
/// wrote); PERF_RECORD_LOST (2) counts samples dropped because the ring was full.
/// </remarks>
public sealed unsafe class PerfBuffer : IDisposable
{
    private const uint RecordLost = 2, RecordSample = 9;
    private const ulong SoftwareBpfOutput = 10;

    private readonly struct CpuRing(int cpu, PerfEventHandle perf, nint mapping, nuint length, byte* data, ulong size)
    {
        public readonly int Cpu = cpu;
        public readonly PerfEventHandle Perf = perf;
        public readonly nint Mapping = mapping;
        public readonly nuint Length = length;
        public readonly byte* Data = data;
        public readonly ulong Size = size;
    }

    private readonly List<CpuRing> _rings = [];
    private readonly int _epoll, _wakeFd;
    private byte[] _scratch = new byte[256];
    private int _disposed;

    /// <summary>
    /// Sets up per-CPU rings of <paramref name="pagesPerCpu"/> data pages (a power of two) for a perf event array map.
    /// The map is not owned.
    /// </summary>
    public PerfBuffer(KernelMap map, int pagesPerCpu = 64)
    {
        ArgumentNullException.ThrowIfNull(map);
        if (map.Type != BpfMapType.PerfEventArray)
            throw new ArgumentException($"{map} is not a perf event array map.", nameof(map));
        if (pagesPerCpu <= 0 || (pagesPerCpu & (pagesPerCpu - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(pagesPerCpu), pagesPerCpu, "Must be a power of two.");
        _epoll = LibC.EpollCreate1(LibC.EpollCloexec);
        _wakeFd = LibC.EventFd(0, LibC.EfdCloexec | LibC.EfdNonblock);
        try
        {
            if (_epoll < 0 || _wakeFd < 0)
                throw new BpfException("epoll_create1/eventfd", Marshal.GetLastPInvokeError());
            AddToEpoll(_wakeFd);
            int page = LibC.PageSize;
            foreach (int cpu in LinuxSystem.OnlineCpus())
            {
                if (cpu >= map.MaxEntries)
                    throw new ArgumentException($"{map} has {map.MaxEntries} slots; CPU {cpu} needs one (use max_entries = possible CPUs).");
                var perf = PerfEvents.Open(PerfEvents.TypeSoftware, SoftwareBpfOutput, -1, cpu, samplePeriod: 1);
                nuint length = (nuint)(page * (1 + pagesPerCpu));
                nint mapping = LibC.Mmap(0, length, LibC.ProtRead | LibC.ProtWrite, LibC.MapShared, perf.Fd, 0);
                if (mapping == LibC.MapFailed)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    perf.Dispose();
                    throw new BpfException("mmap(perf buffer)", errno, $"CPU {cpu}, {pagesPerCpu} pages");
                }
                ulong dataOffset = *(ulong*)(mapping + 1040), dataSize = *(ulong*)(mapping + 1048);
                if (dataSize == 0)
                {
                    dataOffset = (ulong)page;
                    dataSize = (ulong)(page * pagesPerCpu);
                }
                _rings.Add(new CpuRing(cpu, perf, mapping, length, (byte*)mapping + dataOffset, dataSize));
                if (LibC.Ioctl(perf.Fd, PerfEvents.IocEnable, 0) != 0)
                    throw new BpfException("ioctl(PERF_EVENT_IOC_ENABLE)", Marshal.GetLastPInvokeError());
                map.Update(BitConverter.GetBytes((uint)cpu), BitConverter.GetBytes(perf.Fd));
                AddToEpoll(perf.Fd);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private void AddToEpoll(int fd)
    {
        var ev = new LibC.EpollEvent { Events = LibC.EpollIn, Data = (ulong)fd };
        if (LibC.EpollCtl(_epoll, LibC.EpollCtlAdd, fd, &ev) != 0)
            throw new BpfException("epoll_ctl", Marshal.GetLastPInvokeError());
    }

    /// <summary>Samples the kernel reported as lost (ring full) so far.</summary>
    public long Lost { get; private set; }

    /// <summary>Delivers every available sample of every CPU; returns how many. Never blocks.</summary>
    public int Consume(PerfSampleHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int count = 0;
        foreach (var ring in _rings)
            count += ConsumeRing(ring, handler);
        return count;
    }

    private int ConsumeRing(in CpuRing ring, PerfSampleHandler handler)
    {
        ulong* headPtr = (ulong*)(ring.Mapping + 1024);
        ulong* tailPtr = (ulong*)(ring.Mapping + 1032);
        ulong head = Volatile.Read(ref *headPtr);   // acquire: record bytes below head are complete
        ulong tail = *tailPtr;
        int count = 0;
        while (tail < head)
        {
            ulong at = tail & (ring.Size - 1);
            byte* rec = ring.Data + at;
            // The 8-byte header never wraps (records are 8-byte aligned); the body may.
            uint type = *(uint*)rec;
            ushort size = *(ushort*)(rec + 6);
            if (size < 8)
                break;   // corrupt; stop rather than spin
            ReadOnlySpan<byte> body;
            if (at + size <= ring.Size)
            {
                body = new ReadOnlySpan<byte>(rec, size);
            }
            else
            {
                if (_scratch.Length < size)
                    _scratch = new byte[Math.Max(size, _scratch.Length * 2)];
                int first = (int)(ring.Size - at);
                new ReadOnlySpan<byte>(rec, first).CopyTo(_scratch);
                new ReadOnlySpan<byte>(ring.Data, size - first).CopyTo(_scratch.AsSpan(first));
                body = _scratch.AsSpan(0, size);
            }
            if (type == RecordSample && size >= 12)
            {
                uint raw = MemoryMarshal.Read<uint>(body[8..]);
                handler(ring.Cpu, body.Slice(12, (int)Math.Min(raw, (uint)(size - 12))));
                count++;
            }
            else if (type == RecordLost && size >= 24)
            {
                Lost += (long)MemoryMarshal.Read<ulong>(body[16..]);
            }
            tail += size;
        }
        Volatile.Write(ref *tailPtr, tail);   // release: the kernel may reuse the space
        return count;
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for samples, then consumes them.</summary>
    public int Poll(PerfSampleHandler handler, int timeoutMs)
    {
        int n = Consume(handler);
        if (n > 0)
            return n;
        byte* events = stackalloc byte[16 * 16];
        int r = LibC.EpollWait(_epoll, (LibC.EpollEvent*)events, 16, timeoutMs);
        if (r < 0 && Marshal.GetLastPInvokeError() != Errnos.EINTR)
            throw new BpfException("epoll_wait", Marshal.GetLastPInvokeError());
        return Consume(handler);
    }

    /// <summary>Runs a consume loop on the calling thread until <paramref name="cancellation"/> fires.</summary>
    public void Run(PerfSampleHandler handler, CancellationToken cancellation)
    {
        using var reg = cancellation.Register(Wake);
        while (!cancellation.IsCancellationRequested)
            Poll(handler, 1000);
        Consume(handler);
    }

    /// <summary>Wakes a thread blocked in <see cref="Poll"/>.</summary>
    public void Wake()
    {
        if (_disposed != 0 || _wakeFd < 0)
            return;
        ulong one = 1;
        LibC.Write(_wakeFd, &one, 8);
    }

    /// <summary>Unmaps the rings and closes the perf events.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        foreach (var ring in _rings)
        {
            LibC.Ioctl(ring.Perf.Fd, PerfEvents.IocDisable, 0);
            LibC.Munmap(ring.Mapping, ring.Length);
            ring.Perf.Dispose();
        }
        _rings.Clear();
        if (_epoll >= 0) LibC.Close(_epoll);
        if (_wakeFd >= 0) LibC.Close(_wakeFd);
    }
}
