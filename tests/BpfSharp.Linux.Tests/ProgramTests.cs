using BpfSharp.Isa;
using BpfSharp.Linux;
using Xunit;
using static BpfSharp.Linux.Tests.I;

namespace BpfSharp.Linux.Tests;

public class ProgramTests
{
    // struct xdp_md { u32 data; u32 data_end; ... }: offsets 0 and 4.
    private static readonly RawInstruction[] XdpLenTimesThreePlusSeven =
    [
        LdxW(R2, R1, 0),
        LdxW(R3, R1, 4),
        MovR(R0, R3),
        SubR(R0, R2),
        Mul(R0, 3),
        Add(R0, 7),
        Exit(),
    ];

    [KernelFact]
    public void Xdp_test_run_returns_the_computed_value()
    {
        byte[] packet = new byte[64];
        for (int i = 0; i < packet.Length; i++) packet[i] = (byte)i;
        using var prog = KernelProgram.Load(XdpLenTimesThreePlusSeven, BpfProgramType.Xdp, name: "len3p7");
        var r = prog.TestRun(packet, repeat: 100);
        Assert.Equal(64u * 3 + 7, r.ReturnValue);   // 199
        Assert.Equal(packet, r.DataOut);            // untouched packet comes back
        var info = prog.GetInfo();
        Assert.Equal(BpfProgramType.Xdp, info.Type);
        Assert.Equal("len3p7", info.Name);
        Assert.Equal(16, info.Tag.Length);
        Assert.True(info.JitedLength > 0 || info.XlatedLength > 0);
    }

    [KernelFact]
    public void Xdp_program_writes_the_packet()
    {
        RawInstruction[] prog =
        [
            LdxW(R2, R1, 0),          // r2 = data
            LdxW(R3, R1, 4),          // r3 = data_end
            MovR(R4, R2), Add(R4, 2),
            JgtR(R4, R3, 4),          // if data + 2 > data_end goto drop
            Mov(R5, 0xAB), StxB(R2, 1, R5),   // packet[1] = 0xAB
            Mov(R0, 2), Exit(),       // XDP_PASS
            Mov(R0, 1), Exit(),       // drop: XDP_DROP
        ];
        byte[] packet = new byte[20];
        var r = KernelOracle.TestRun(prog, BpfProgramType.Xdp, packet);
        Assert.Equal(2u, r.ReturnValue);
        byte[] expected = new byte[20];
        expected[1] = 0xAB;
        Assert.Equal(expected, r.DataOut);
    }

    [KernelFact]
    public void Socket_filter_sees_the_packet_after_the_ethernet_header()
    {
        // __sk_buff.len at offset 0. For socket filters the test-run skb has had its 14-byte Ethernet header
        // pulled (eth_type_trans) and not pushed back (only tc programs see L2), so len = 60 - 14.
        var r = KernelOracle.TestRun([LdxW(R0, R1, 0), Exit()], BpfProgramType.SocketFilter, new byte[60]);
        Assert.Equal(46u, r.ReturnValue);
    }

    [KernelFact]
    public void Program_updates_a_map_on_every_test_run_repetition()
    {
        using var counter = KernelMap.Create(BpfMapType.Array, 4, 8, 1);
        var prog = Prog(CountInto(counter), Mov(R0, 2), Exit());
        using var p = KernelProgram.Load(prog, BpfProgramType.Xdp);
        p.TestRun(new byte[14], repeat: 25);
        Assert.True(counter.TryLookup(0u, out ulong n));
        Assert.Equal(25ul, n);
        Assert.Contains(counter.GetInfo().Id, p.GetInfo().MapIds);
    }

    [KernelFact]
    public void Uninitialised_register_read_is_rejected_with_the_kernel_log()
    {
        var ex = Assert.Throws<BpfVerifierException>(() =>
            KernelProgram.Load([MovR(R0, R2), Exit()], BpfProgramType.SocketFilter));
        Assert.Equal(Errnos.EACCES, ex.Errno);
        Assert.Contains("R2 !read_ok", ex.Log);
        Assert.Contains("R2 !read_ok", ex.Summary);
        Assert.Contains("R2 !read_ok", ex.Message);
        Assert.Equal(BpfProgramType.SocketFilter, ex.ProgramType);
    }

    [KernelFact]
    public void Out_of_bounds_stack_write_is_rejected()
    {
        var ex = Assert.Throws<BpfVerifierException>(() =>
            KernelProgram.Load([StDW(R10, 8, 1), Mov(R0, 0), Exit()], BpfProgramType.SocketFilter));
        Assert.Contains("invalid write to stack", ex.Log);
    }

    [KernelFact]
    public void Program_without_exit_is_rejected()
    {
        var ex = Assert.Throws<BpfVerifierException>(() => KernelProgram.Load([Mov(R0, 0)], BpfProgramType.SocketFilter));
        Assert.Equal(Errnos.EINVAL, ex.Errno);
        Assert.Contains("last insn is not an exit or jmp", ex.Summary);
    }

    [KernelFact]
    public void Oracle_verdicts()
    {
        Assert.True(KernelOracle.TryVerify([Mov(R0, 0), Exit()], BpfProgramType.SocketFilter, out string okLog));
        Assert.Contains("processed 2 insns", okLog);
        Assert.False(KernelOracle.TryVerify([Exit()], BpfProgramType.SocketFilter, out string badLog));
        Assert.Contains("R0 !read_ok", badLog);
        var verdict = KernelOracle.Verify([Mov(R0, 1), Exit()], BpfProgramType.Xdp);
        Assert.True(verdict.Accepted);
        Assert.Equal(2u, verdict.VerifiedInstructions);
    }

    [KernelFact]
    public void Gpl_only_helper_needs_a_gpl_license()
    {
        // bpf_trace_printk (6) is GPL-only; the kernel says "cannot call GPL-restricted function".
        RawInstruction[] prog = [StW(R10, -4, 0x0a4948), MovR(R1, R10), Add(R1, -4), Mov(R2, 4), Call(BpfHelperIds.TracePrintk), Mov(R0, 0), Exit()];
        using (KernelProgram.Load(prog, BpfProgramType.Tracepoint, "GPL")) { }
        var ex = Assert.Throws<BpfVerifierException>(() => KernelProgram.Load(prog, BpfProgramType.Tracepoint, "Proprietary"));
        Assert.Contains("GPL", ex.Summary);
    }

    [KernelFact]
    public void Enable_stats_counts_runs()
    {
        using var p = KernelProgram.Load(XdpLenTimesThreePlusSeven, BpfProgramType.Xdp);
        using (BpfSyscall.EnableStats())
            p.TestRun(new byte[14], repeat: 50);
        var info = p.GetInfo();
        Assert.True(info.RunCount >= 50, $"run_cnt {info.RunCount}");
    }
}
