using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>XDP attach mode.</summary>
public enum XdpMode
{
    /// <summary>Let the kernel choose (driver mode when the driver supports it).</summary>
    Default = 0,
    /// <summary>Generic (skb) mode, XDP_FLAGS_SKB_MODE: works on any device, slower.</summary>
    Generic = 2,
    /// <summary>Native driver mode, XDP_FLAGS_DRV_MODE (veth, most NIC drivers).</summary>
    Driver = 4,
    /// <summary>Offloaded to the NIC, XDP_FLAGS_HW_MODE.</summary>
    Offload = 8,
}

/// <summary>
/// An attachment of a program to a kernel hook. Disposing detaches it (closes the link and any perf event
/// descriptors it owns). Pinning a link keeps it alive beyond the process.
/// </summary>
public sealed class BpfLink : IDisposable
{
    private readonly BpfLinkHandle? _link;
    private readonly List<FileDescriptorHandle> _owned;

    internal BpfLink(string description, BpfLinkHandle? link, params FileDescriptorHandle[] owned)
    {
        Description = description;
        _link = link;
        _owned = [.. owned];
    }

    /// <summary>What was attached where, e.g. "xdp on ifindex 3 (Generic)".</summary>
    public string Description { get; }

    /// <summary>The BPF link descriptor, or null for attachments made with the legacy perf ioctl.</summary>
    public BpfLinkHandle? Handle => _link;

    /// <summary>Whether the attachment is a real BPF link (which can be pinned and queried).</summary>
    public bool IsLink => _link is not null;

    /// <summary>The kernel's description of the link.</summary>
    public LinkInfo GetInfo() => BpfSyscall.GetLinkInfo(_link ?? throw new InvalidOperationException($"{Description} is not a BPF link."));

    /// <summary>Pins the link in bpffs: it then survives this process until the pin is removed.</summary>
    public void Pin(string path) => BpfSyscall.ObjPin(_link ?? throw new InvalidOperationException($"{Description} is not a BPF link."), path);

    /// <summary>
    /// Detaches now (BPF_LINK_DETACH), keeping the descriptor; Dispose also detaches. Only some link types
    /// implement it (XDP, tcx, cgroup, netns, netfilter...); others throw <see cref="BpfNotSupportedException"/>.
    /// </summary>
    public void Detach()
    {
        if (_link is null)
            return;
        try
        {
            BpfSyscall.LinkDetach(_link);
        }
        catch (BpfException ex) when (ex.Errno is Errnos.EOPNOTSUPP or Errnos.ENOTSUPP)
        {
            throw new BpfNotSupportedException($"BPF_LINK_DETACH of a {Description} link", "this link type cannot be detached while open; dispose it instead", ex);
        }
    }

    /// <summary>Closes the link and the perf events it owns; an unpinned link detaches.</summary>
    public void Dispose()
    {
        _link?.Dispose();
        foreach (var h in _owned)
            h.Dispose();
    }

    /// <inheritdoc/>
    public override string ToString() => Description;
}

/// <summary>A socket filter program attached with SO_ATTACH_BPF; Dispose detaches it (SO_DETACH_BPF).</summary>
public sealed class SocketFilterAttachment : IDisposable
{
    private readonly SafeHandle _socket;
    private bool _detached;

    internal SocketFilterAttachment(SafeHandle socket) => _socket = socket;

    /// <summary>Removes the filter from the socket (a socket already closed needs nothing).</summary>
    public unsafe void Dispose()
    {
        if (_detached || _socket.IsClosed)
            return;
        _detached = true;
        const int SolSocket = 1, SoDetachBpf = 27;
        int dummy = 0;
        LibC.SetSockOpt((int)_socket.DangerousGetHandle(), SolSocket, SoDetachBpf, &dummy, sizeof(int));
    }
}

/// <summary>perf_event_open(2) for the attach paths that go through perf events.</summary>
public static class PerfEvents
{
    /// <summary>PERF_TYPE_HARDWARE.</summary>
    public const uint TypeHardware = 0;
    /// <summary>PERF_TYPE_SOFTWARE.</summary>
    public const uint TypeSoftware = 1;
    /// <summary>PERF_TYPE_TRACEPOINT.</summary>
    public const uint TypeTracepoint = 2;
    /// <summary>PERF_COUNT_SW_CPU_CLOCK.</summary>
    public const ulong SoftwareCpuClock = 0;
    /// <summary>PERF_COUNT_SW_TASK_CLOCK.</summary>
    public const ulong SoftwareTaskClock = 1;

    internal const nuint IocEnable = 0x2400, IocDisable = 0x2401, IocSetBpf = 0x40042408;

    /// <summary>
    /// Opens a perf event. <paramref name="pid"/> −1 with a <paramref name="cpu"/> ≥ 0 watches all tasks on that
    /// CPU. <paramref name="frequency"/> makes <paramref name="samplePeriod"/> a frequency in Hz.
    /// </summary>
    public static unsafe PerfEventHandle Open(uint type, ulong config, int pid, int cpu, ulong samplePeriod = 1, bool frequency = false,
        ulong config1 = 0, ulong config2 = 0)
    {
        if (BpfSyscall.PerfEventOpenNr < 0)
            throw new BpfNotSupportedException("perf_event_open", $"syscall number unknown for {RuntimeInformation.ProcessArchitecture}");
        var attr = new PerfEventAttr
        {
            Type = type,
            Size = (uint)sizeof(PerfEventAttr),
            Config = config,
            SamplePeriod = samplePeriod,
            SampleType = 1ul << 10,        // PERF_SAMPLE_RAW
            Flags = frequency ? 1ul << 10 : 0,
            WakeupEvents = 1,
            Config1 = config1,
            Config2 = config2,
        };
        const long PerfFlagFdCloexec = 8;
        long fd = LibC.Syscall5(BpfSyscall.PerfEventOpenNr, (long)&attr, pid, cpu, -1, PerfFlagFdCloexec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errnos.ENOENT && type == TypeHardware)
                throw new BpfNotSupportedException("hardware perf events", "no hardware PMU (virtual machine?)");
            throw new BpfException("perf_event_open", errno, $"type {type}, config {config}, pid {pid}, cpu {cpu}");
        }
        return new PerfEventHandle((int)fd);
    }

    /// <summary>The dynamic PMU type of a perf event source (/sys/bus/event_source/devices/NAME/type), or null.</summary>
    public static uint? PmuType(string name)
    {
        string path = $"/sys/bus/event_source/devices/{name}/type";
        return File.Exists(path) ? uint.Parse(File.ReadAllText(path).Trim()) : null;
    }

    /// <summary>The config bit of the "retprobe" format of a probe PMU (usually 0).</summary>
    internal static int RetprobeBit(string pmu)
    {
        string path = $"/sys/bus/event_source/devices/{pmu}/format/retprobe";
        if (!File.Exists(path))
            return 0;
        string text = File.ReadAllText(path).Trim();   // "config:0"
        return int.Parse(text[(text.IndexOf(':', StringComparison.Ordinal) + 1)..]);
    }
}

public sealed partial class KernelProgram
{
    private void RequireType(string hook, params BpfProgramType[] types)
    {
        if (Array.IndexOf(types, Type) < 0)
            throw new InvalidOperationException($"Cannot attach a {Type} program as {hook}; it needs a {string.Join(" or ", types)} program.");
    }

    /// <summary>Attaches a socket filter to a socket (SO_ATTACH_BPF). The program's r0 is the number of bytes to keep (0 drops).</summary>
    public SocketFilterAttachment AttachSocket(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return AttachSocket(socket.SafeHandle);
    }

    /// <summary>Attaches a socket filter to a socket given by its handle.</summary>
    public unsafe SocketFilterAttachment AttachSocket(SafeHandle socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        RequireType("a socket filter", BpfProgramType.SocketFilter);
        const int SolSocket = 1, SoAttachBpf = 50;
        using var lease = Handle.Borrow();
        int progFd = lease.Fd;
        if (LibC.SetSockOpt((int)socket.DangerousGetHandle(), SolSocket, SoAttachBpf, &progFd, sizeof(int)) != 0)
            throw new BpfException("setsockopt(SO_ATTACH_BPF)", Marshal.GetLastPInvokeError());
        return new SocketFilterAttachment(socket);
    }

    /// <summary>
    /// Attaches an XDP program to a network device of the calling thread's namespace with a BPF link
    /// (use <see cref="NetworkNamespace.Run{T}"/> for devices in another namespace).
    /// </summary>
    public BpfLink AttachXdp(int ifindex, XdpMode mode = XdpMode.Default)
    {
        RequireType("XDP", BpfProgramType.Xdp);
        try
        {
            var link = BpfSyscall.LinkCreate(Handle, (uint)ifindex, BpfAttachType.Xdp, (uint)mode);
            return new BpfLink($"xdp on ifindex {ifindex} ({mode})", link);
        }
        catch (BpfException ex) when (ex.Errno is Errnos.EOPNOTSUPP or Errnos.ENOTSUPP && mode == XdpMode.Driver)
        {
            throw new BpfNotSupportedException("native (driver) XDP on this device", ex.Message, ex);
        }
    }

    /// <summary>Attaches a sched_cls program to a device's ingress or egress with a TCX link (kernel 6.6+).</summary>
    public BpfLink AttachTcx(int ifindex, bool ingress)
    {
        RequireType("tcx", BpfProgramType.SchedCls);
        try
        {
            var link = BpfSyscall.LinkCreate(Handle, (uint)ifindex, ingress ? BpfAttachType.TcxIngress : BpfAttachType.TcxEgress);
            return new BpfLink($"tcx {(ingress ? "ingress" : "egress")} on ifindex {ifindex}", link);
        }
        catch (BpfException ex) when (ex.Errno == Errnos.EINVAL)
        {
            throw new BpfNotSupportedException("tcx links", "BPF_LINK_CREATE rejected BPF_TCX_* (kernel older than 6.6?)", ex);
        }
    }

    /// <summary>
    /// Attaches a tracepoint program to CATEGORY:NAME (e.g. "sched", "sched_process_exec"): perf_event_open of
    /// the tracefs event id (mounting tracefs if needed), then a BPF_PERF_EVENT link (falling back to
    /// PERF_EVENT_IOC_SET_BPF on kernels without perf links).
    /// </summary>
    public BpfLink AttachTracepoint(string category, string name) => AttachTracepoint(category, name, legacy: false);

    /// <summary>Tracepoint attach; <paramref name="legacy"/> forces the PERF_EVENT_IOC_SET_BPF path (for tests).</summary>
    internal BpfLink AttachTracepoint(string category, string name, bool legacy)
    {
        RequireType("a tracepoint", BpfProgramType.Tracepoint);
        int id = Tracefs.EventId(category, name);
        var perf = PerfEvents.Open(PerfEvents.TypeTracepoint, (ulong)id, pid: -1, cpu: 0);
        return AttachPerf(perf, $"tracepoint {category}:{name}", legacy);
    }

    /// <summary>Attaches a raw tracepoint program (args as u64[]) to a tracepoint by name, e.g. "sched_switch".</summary>
    public BpfLink AttachRawTracepoint(string name)
    {
        RequireType("a raw tracepoint", BpfProgramType.RawTracepoint, BpfProgramType.RawTracepointWritable);
        return new BpfLink($"raw_tracepoint {name}", BpfSyscall.RawTracepointOpen(Handle, name));
    }

    /// <summary>
    /// Loads a tp_btf program (BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP) for tracepoint <paramref name="tracepoint"/>:
    /// the target is the vmlinux BTF typedef <c>btf_trace_NAME</c>. Attach it with <see cref="AttachTpBtf"/>.
    /// </summary>
    public static KernelProgram LoadTpBtf(ReadOnlySpan<Isa.RawInstruction> instructions, string tracepoint, string license = "GPL", string? name = null)
    {
        uint id = KernelBtf.Vmlinux.FindType("btf_trace_" + tracepoint, BtfKind.Typedef)
            ?? throw new BpfNotSupportedException($"tp_btf/{tracepoint}", $"vmlinux BTF has no typedef btf_trace_{tracepoint}");
        return Load(instructions, new ProgramLoadOptions
        {
            Type = BpfProgramType.Tracing, ExpectedAttachType = BpfAttachType.TraceRawTp, AttachBtfId = id, License = license, Name = name,
        });
    }

    /// <summary>Attaches a tp_btf program loaded with <see cref="LoadTpBtf"/>.</summary>
    public BpfLink AttachTpBtf()
    {
        RequireType("tp_btf", BpfProgramType.Tracing);
        return new BpfLink("tp_btf", BpfSyscall.RawTracepointOpen(Handle, null));
    }

    /// <summary>
    /// Attaches a kprobe-type program as a uprobe (or uretprobe) on <paramref name="symbol"/> of the ELF file
    /// <paramref name="binaryPath"/>; <paramref name="pid"/> −1 traces every process mapping that file.
    /// </summary>
    public BpfLink AttachUprobe(string binaryPath, string symbol, bool retprobe = false, int pid = -1) =>
        AttachUprobe(binaryPath, ElfSymbols.FileOffsetOf(binaryPath, symbol), retprobe, pid, symbol);

    /// <summary>Attaches a uprobe at a file offset of an ELF file.</summary>
    public BpfLink AttachUprobe(string binaryPath, ulong fileOffset, bool retprobe = false, int pid = -1, string? label = null)
    {
        RequireType("a uprobe", BpfProgramType.Kprobe);
        uint pmu = PerfEvents.PmuType("uprobe") ?? throw new BpfNotSupportedException("uprobes", "no /sys/bus/event_source/devices/uprobe (CONFIG_UPROBE_EVENTS off)");
        return AttachProbe(pmu, "uprobe", binaryPath, fileOffset, retprobe, pid,
            $"{(retprobe ? "uretprobe" : "uprobe")} {binaryPath}:{label ?? "0x" + fileOffset.ToString("x")}");
    }

    /// <summary>
    /// Attaches a kprobe (or kretprobe) on a kernel function. Throws <see cref="BpfNotSupportedException"/> when the
    /// kernel has no kprobe PMU (built without CONFIG_KPROBES).
    /// </summary>
    public BpfLink AttachKprobe(string function, bool retprobe = false)
    {
        RequireType("a kprobe", BpfProgramType.Kprobe);
        uint pmu = PerfEvents.PmuType("kprobe") ?? throw new BpfNotSupportedException("kprobes",
            "no /sys/bus/event_source/devices/kprobe (kernel built without CONFIG_KPROBES)");
        return AttachProbe(pmu, "kprobe", function, 0, retprobe, -1, $"{(retprobe ? "kretprobe" : "kprobe")} {function}");
    }

    private unsafe BpfLink AttachProbe(uint pmu, string pmuName, string target, ulong offset, bool retprobe, int pid, string description)
    {
        byte[] path = Encoding.UTF8.GetBytes(target + "\0");
        ulong config = retprobe ? 1ul << PerfEvents.RetprobeBit(pmuName) : 0;
        PerfEventHandle perf;
        fixed (byte* p = path)
            perf = PerfEvents.Open(pmu, config, pid, pid == -1 ? 0 : -1, config1: (ulong)p, config2: offset);
        return AttachPerf(perf, description);
    }

    /// <summary>
    /// Attaches a perf_event program to a software (or hardware) event on every online CPU, sampling every
    /// <paramref name="period"/> events (or at <paramref name="period"/> Hz with <paramref name="frequency"/>).
    /// </summary>
    public BpfLink AttachPerfEvent(uint type, ulong config, ulong period, bool frequency = false)
    {
        RequireType("a perf event", BpfProgramType.PerfEvent);
        var owned = new List<FileDescriptorHandle>();
        int cpus = 0;
        try
        {
            foreach (int cpu in LinuxSystem.OnlineCpus())
            {
                var perf = PerfEvents.Open(type, config, -1, cpu, period, frequency);
                owned.Add(perf);
                cpus++;
                if (LinkPerf(perf) is { } link)
                    owned.Add(link);
            }
            return new BpfLink($"perf_event type {type} config {config} on {cpus} CPUs", null, [.. owned]);
        }
        catch
        {
            foreach (var h in owned)
                h.Dispose();
            throw;
        }
    }

    private BpfLink AttachPerf(PerfEventHandle perf, string description, bool legacy = false)
    {
        try
        {
            var link = LinkPerf(perf, legacy);
            return new BpfLink(description, link, perf);
        }
        catch
        {
            perf.Dispose();
            throw;
        }
    }

    /// <summary>BPF_LINK_CREATE(BPF_PERF_EVENT), or the ioctl fallback (then returns null: the perf fd owns the attachment).</summary>
    private BpfLinkHandle? LinkPerf(PerfEventHandle perf, bool legacy = false)
    {
        using var perfLease = perf.Borrow();
        try
        {
            if (legacy)
                throw new BpfException("BPF_LINK_CREATE", Errnos.EINVAL, "legacy attach requested");
            return BpfSyscall.LinkCreate(Handle, (uint)perfLease.Fd, BpfAttachType.PerfEvent);
        }
        catch (BpfException ex) when (ex.Errno == Errnos.EINVAL)
        {
            using var progLease = Handle.Borrow();
            if (LibC.Ioctl(perfLease.Fd, PerfEvents.IocSetBpf, progLease.Fd) != 0)
                throw new BpfException("ioctl(PERF_EVENT_IOC_SET_BPF)", Marshal.GetLastPInvokeError());
            if (LibC.Ioctl(perfLease.Fd, PerfEvents.IocEnable, 0) != 0)
                throw new BpfException("ioctl(PERF_EVENT_IOC_ENABLE)", Marshal.GetLastPInvokeError());
            return null;
        }
    }
}
