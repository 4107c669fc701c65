using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using BpfSharp.Isa;
using BpfSharp.Linux;
using Xunit;
using Xunit.Abstractions;
using static BpfSharp.Linux.Tests.I;

namespace BpfSharp.Linux.Tests;

public partial class AttachTests(ITestOutputHelper output)
{

    [KernelFact]
    public void Socket_filter_drops_small_udp_datagrams_until_detached()
    {
        // r0 = skb->len; keep (0xFFFF bytes) if len > 50, else 0 = drop. On a UDP socket len = 8 + payload.
        RawInstruction[] filter = [LdxW(R0, R1, 0), JgtImm(R0, 50, 2), Mov(R0, 0), Exit(), Mov(R0, 0xFFFF), Exit()];
        using var prog = KernelProgram.Load(filter, BpfProgramType.SocketFilter);
        using var rx = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        rx.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        rx.ReceiveTimeout = 300;
        using var tx = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var to = rx.LocalEndPoint!;

        var attachment = prog.AttachSocket(rx);
        foreach (int size in new[] { 10, 100, 10, 100, 20 })
            tx.SendTo(new byte[size], to);
        Assert.Equal(new[] { 100, 100 }, ReceiveAll(rx));

        attachment.Dispose();
        tx.SendTo(new byte[10], to);
        Assert.Equal(new[] { 10 }, ReceiveAll(rx));
    }

    private static List<int> ReceiveAll(Socket s)
    {
        var sizes = new List<int>();
        byte[] buf = new byte[2048];
        try
        {
            while (true) sizes.Add(s.Receive(buf));
        }
        catch (SocketException) { }
        return sizes;
    }

    [KernelFact("netns")]
    public void Xdp_on_veth_counts_then_drops_packets()
    {
        using var veth = new VethPair();
        int ifindex = veth.IfindexA;
        using var counter = KernelMap.Create(BpfMapType.Array, 4, 8, 1);
        using var pass = KernelProgram.Load(Prog(CountInto(counter), Mov(R0, 2), Exit()), BpfProgramType.Xdp);   // XDP_PASS
        using var drop = KernelProgram.Load([Mov(R0, 1), Exit()], BpfProgramType.Xdp);                          // XDP_DROP

        Assert.Equal(5, veth.SendUdpBToA(5));   // baseline: no program

        using (var link = NetworkNamespace.Run(veth.NsA, () => pass.AttachXdp(ifindex, XdpMode.Generic)))
        {
            var info = link.GetInfo();
            Assert.Equal(BpfLinkType.Xdp, info.Type);
            Assert.Equal((uint)ifindex, info.Ifindex);
            Assert.Equal(pass.GetInfo().Id, info.ProgramId);
            Assert.Equal(5, veth.SendUdpBToA(5));
            Assert.True(counter.TryLookup(0u, out ulong seen));
            Assert.True(seen >= 5, $"XDP saw {seen} packets, expected at least the 5 datagrams");
            output.WriteLine($"generic XDP counted {seen} packets (5 UDP + ARP)");
        }

        using (NetworkNamespace.Run(veth.NsA, () => drop.AttachXdp(ifindex, XdpMode.Driver)))
            Assert.Equal(0, veth.SendUdpBToA(3));

        Assert.Equal(3, veth.SendUdpBToA(3));   // detached on Dispose: traffic flows again

        // BPF_LINK_DETACH: the link fd stays open but the program is off the device.
        using var kept = NetworkNamespace.Run(veth.NsA, () => drop.AttachXdp(ifindex, XdpMode.Generic));
        Assert.Equal(0, veth.SendUdpBToA(2));
        kept.Detach();
        Assert.Equal(2, veth.SendUdpBToA(2));
    }

    [KernelFact("netns")]
    public void Tcx_ingress_counts_packets()
    {
        using var veth = new VethPair();
        int ifindex = veth.IfindexA;
        using var counter = KernelMap.Create(BpfMapType.Array, 4, 8, 1);
        // TCX_NEXT (-1) lets later programs in the tcx chain run; TCX_PASS (0) would end the chain.
        using var prog = KernelProgram.Load(Prog(CountInto(counter), Mov(R0, -1), Exit()), BpfProgramType.SchedCls);
        using var drop = KernelProgram.Load([Mov(R0, 2), Exit()], BpfProgramType.SchedCls);                            // TCX_DROP
        BpfLink link;
        try
        {
            link = NetworkNamespace.Run(veth.NsA, () => prog.AttachTcx(ifindex, ingress: true));
        }
        catch (BpfNotSupportedException ex)
        {
            output.WriteLine("SKIP: " + ex.Message);
            return;
        }
        using (link)
        {
            Assert.Equal(BpfLinkType.Tcx, link.GetInfo().Type);
            Assert.Equal(4, veth.SendUdpBToA(4));
            Assert.True(counter.TryLookup(0u, out ulong seen));
            Assert.True(seen >= 4, $"tcx saw {seen}");
            using (NetworkNamespace.Run(veth.NsA, () => drop.AttachTcx(ifindex, ingress: true)))
                Assert.Equal(0, veth.SendUdpBToA(2));
        }
    }

    /// <summary>A program that stores the u32 at ctx+offset (loaded with the given width) as a key in a hash map.</summary>
    private static RawInstruction[] RecordPid(KernelMap pids, short offset, bool wide) => Prog(
        wide ? LdxDW(R2, R1, offset) : LdxW(R2, R1, offset),
        StxW(R10, -4, R2),
        StW(R10, -8, 1),
        LdMap(R1, pids),
        MovR(R2, R10), Add(R2, -4),
        MovR(R3, R10), Add(R3, -8),
        Mov(R4, 0),
        Call(BpfHelperIds.MapUpdateElem),
        Mov(R0, 0),
        Exit());

    private static int SpawnTrue()
    {
        using var p = Process.Start(new ProcessStartInfo("/bin/true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    [KernelFact("tracefs")]
    public void Tracepoint_sees_exec_of_a_spawned_process()
    {
        bool mounted = SpecialFileSystems.EnsureTracefs();
        output.WriteLine(mounted ? "mounted tracefs at /sys/kernel/tracing" : "tracefs already mounted");
        var (pidOffset, pidSize) = Tracefs.Field("sched", "sched_process_exec", "pid");
        Assert.Equal(4, pidSize);
        using var pids = KernelMap.Create(BpfMapType.Hash, 4, 4, 1024);
        using var prog = KernelProgram.Load(RecordPid(pids, (short)pidOffset, wide: false), BpfProgramType.Tracepoint);
        int child;
        using (var link = prog.AttachTracepoint("sched", "sched_process_exec"))
        {
            Assert.Equal(BpfLinkType.PerfEvent, link.GetInfo().Type);
            child = SpawnTrue();
        }
        Assert.True(pids.TryLookup((uint)child, out uint _), $"pid {child} not recorded; saw {string.Join(",", pids.Keys<uint>())}");
        pids.Delete((uint)child);
        int after = SpawnTrue();   // detached: not recorded
        Assert.False(pids.TryLookup((uint)after, out uint _));
    }

    [KernelFact("tracefs")]
    public void Tracepoint_legacy_ioctl_attach_also_works_and_detaches_on_dispose()
    {
        var (pidOffset, _) = Tracefs.Field("sched", "sched_process_exec", "pid");
        using var pids = KernelMap.Create(BpfMapType.Hash, 4, 4, 1024);
        using var prog = KernelProgram.Load(RecordPid(pids, (short)pidOffset, wide: false), BpfProgramType.Tracepoint);
        int child;
        using (var attachment = prog.AttachTracepoint("sched", "sched_process_exec", legacy: true))
        {
            Assert.False(attachment.IsLink);   // PERF_EVENT_IOC_SET_BPF: the perf fd owns the attachment
            child = SpawnTrue();
        }
        Assert.True(pids.TryLookup((uint)child, out uint _));
        int after = SpawnTrue();
        Assert.False(pids.TryLookup((uint)after, out uint _));
    }

    [KernelFact]
    public void Raw_tracepoint_sees_exec_of_a_spawned_process()
    {
        // sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm): args[1] = old_pid.
        using var pids = KernelMap.Create(BpfMapType.Hash, 4, 4, 1024);
        using var prog = KernelProgram.Load(RecordPid(pids, 8, wide: false), BpfProgramType.RawTracepoint);
        int child;
        using (var link = prog.AttachRawTracepoint("sched_process_exec"))
        {
            Assert.Equal(BpfLinkType.RawTracepoint, link.GetInfo().Type);
            child = SpawnTrue();
        }
        Assert.True(pids.TryLookup((uint)child, out uint _));

        // Raw tracepoint links have no detach operation in the kernel: a typed "not supported" error.
        using var link2 = prog.AttachRawTracepoint("sched_process_exec");
        Assert.Throws<BpfNotSupportedException>(link2.Detach);
    }

    [KernelFact("uprobe")]
    public void Uretprobe_on_libc_getpid_sees_the_return_value()
    {
        // At a uretprobe, pt_regs->ax (offset 80 in x86-64 struct pt_regs) holds the return value: our pid.
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
            return;
        using var returned = KernelMap.Create(BpfMapType.Hash, 4, 4, 64);
        using var p = KernelProgram.Load(RecordPid(returned, 80, wide: false), BpfProgramType.Kprobe);
        using (p.AttachUprobe(ElfSymbols.LibcPath(), "getpid", retprobe: true, pid: Environment.ProcessId))
            Assert.Equal(Environment.ProcessId, LibcGetpid());
        Assert.True(returned.TryLookup((uint)Environment.ProcessId, out uint _), "return value not seen: " + string.Join(",", returned.Keys<uint>()));
    }

    [KernelFact("btf")]
    public void Tp_btf_sees_exec_of_a_spawned_process()
    {
        using var pids = KernelMap.Create(BpfMapType.Hash, 4, 4, 1024);
        using var prog = KernelProgram.LoadTpBtf(RecordPid(pids, 8, wide: true), "sched_process_exec");
        int child;
        using (prog.AttachTpBtf())
            child = SpawnTrue();
        Assert.True(pids.TryLookup((uint)child, out uint _));
    }

    [LibraryImport("libc", EntryPoint = "getpid")]
    private static partial int LibcGetpid();

    [KernelFact("uprobe")]
    public void Uprobe_on_libc_getpid_counts_our_calls()
    {
        string libc = ElfSymbols.LibcPath();
        using var counter = KernelMap.Create(BpfMapType.Array, 4, 8, 1);
        // Only count calls from this process: (pid_tgid >> 32) == our tgid.
        var prog = Prog(
            Call(BpfHelperIds.GetCurrentPidTgid), Rsh(R0, 32), JneImm(R0, Environment.ProcessId, 9),
            CountInto(counter),
            Mov(R0, 0), Exit());
        using var p = KernelProgram.Load(prog, BpfProgramType.Kprobe);
        using (var link = p.AttachUprobe(libc, "getpid"))
        {
            output.WriteLine(link.Description);
            for (int i = 0; i < 20; i++)
                Assert.Equal(Environment.ProcessId, LibcGetpid());
        }
        Assert.True(counter.TryLookup(0u, out ulong calls));
        Assert.InRange(calls, 20ul, 1000ul);
        Assert.Equal(Environment.ProcessId, LibcGetpid());
        Assert.True(counter.TryLookup(0u, out ulong later));
        Assert.Equal(calls, later);   // detached
    }

    [KernelFact]
    public void Software_perf_event_samples_run_the_program()
    {
        using var counter = KernelMap.Create(BpfMapType.Array, 4, 8, 1);
        using var p = KernelProgram.Load(Prog(CountInto(counter), Mov(R0, 0), Exit()), BpfProgramType.PerfEvent);
        using (var link = p.AttachPerfEvent(PerfEvents.TypeSoftware, PerfEvents.SoftwareCpuClock, 1000, frequency: true))
        {
            output.WriteLine(link.Description);
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < 300) { }   // keep a CPU busy so the clock ticks
        }
        Assert.True(counter.TryLookup(0u, out ulong samples));
        Assert.True(samples > 0, "no cpu-clock samples in 300 ms");
        output.WriteLine($"{samples} samples");
    }

    [KernelFact]
    public void Kprobe_attach_reports_missing_kernel_support_or_works()
    {
        using var p = KernelProgram.Load([Mov(R0, 0), Exit()], BpfProgramType.Kprobe);
        if (PerfEvents.PmuType("kprobe") is null)
        {
            var ex = Assert.Throws<BpfNotSupportedException>(() => p.AttachKprobe("do_sys_openat2"));
            Assert.Contains("CONFIG_KPROBES", ex.Message);
            output.WriteLine("kprobes unavailable here, as expected: " + ex.Message);
        }
        else
        {
            using var link = p.AttachKprobe("do_sys_openat2");
            Assert.NotNull(link.Description);
        }
    }

    [KernelFact]
    public void Ensure_mounts_bpffs_and_tracefs_once_and_reports_it()
    {
        bool bpffsBefore = SpecialFileSystems.IsMounted(SpecialFileSystems.BpffsPath, "bpf");
        bool mountedNow = SpecialFileSystems.EnsureBpffs();
        Assert.Equal(!bpffsBefore, mountedNow);
        Assert.True(SpecialFileSystems.IsMounted(SpecialFileSystems.BpffsPath, "bpf"));
        Assert.False(SpecialFileSystems.EnsureBpffs());   // second call: already there
        if (mountedNow)
            Assert.Contains(SpecialFileSystems.BpffsPath, SpecialFileSystems.MountedByThisProcess);
        SpecialFileSystems.EnsureTracefs();
        Assert.True(SpecialFileSystems.IsMounted(SpecialFileSystems.TracefsPath, "tracefs"));
        output.WriteLine(mountedNow ? "mounted bpffs at /sys/fs/bpf (unmounted again when the test process exits)" : "bpffs was already mounted");
    }

    [KernelFact]
    public void Pinning_in_a_private_bpffs_shares_maps_programs_and_links()
    {
        string dir = Path.Combine(Path.GetTempPath(), "bpfsharp-pin-" + Guid.NewGuid().ToString("N")[..8]);
        SpecialFileSystems.MountBpffs(dir);
        try
        {
            Assert.True(SpecialFileSystems.IsMounted(dir, "bpf"));
            using var map = KernelMap.Create(BpfMapType.Hash, 4, 4, 8, name: "pinned");
            map.Pin(Path.Combine(dir, "m"));
            using (var again = KernelMap.OpenPinned(Path.Combine(dir, "m")))
            {
                Assert.Equal(map.GetInfo().Id, again.GetInfo().Id);
                again.Update(5u, 55u);
            }
            Assert.True(map.TryLookup(5u, out uint v));
            Assert.Equal(55u, v);

            using var prog = KernelProgram.Load([Mov(R0, 0), Exit()], BpfProgramType.RawTracepoint, name: "pinprog");
            prog.Pin(Path.Combine(dir, "p"));
            using (var p2 = KernelProgram.OpenPinned(Path.Combine(dir, "p")))
                Assert.Equal(prog.GetInfo().Id, p2.GetInfo().Id);

            using var link = prog.AttachRawTracepoint("sched_process_exec");
            link.Pin(Path.Combine(dir, "l"));
            Assert.True(File.Exists(Path.Combine(dir, "l")));

            var missing = Assert.Throws<BpfException>(() => KernelMap.OpenPinned(Path.Combine(dir, "nope")));
            Assert.Equal(Errnos.ENOENT, missing.Errno);
            Assert.Contains("BPF_OBJ_GET", missing.Message);
        }
        finally
        {
            SpecialFileSystems.Unmount(dir);
            Directory.Delete(dir);
        }
    }
}
