using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Runtime;
using BpfSharp.Runtime.Contexts;
using BpfSharp.Runtime.HelperFunctions;
using Xunit;

namespace BpfSharp.Runtime.Tests;

public class PacketContextTests
{
    // Ethernet (dst, src, type 0x0800) + the first bytes of an IPv4 header (0x45 = version 4, IHL 5).
    private static readonly byte[] Frame =
    [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
        0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];

    private static ulong RunXdp(string asm, byte[] packet, out PacketContext ctx, HelperTable? helpers = null)
    {
        var program = ContextAccessRewriter.Rewrite(ConformanceAssembler.Assemble(asm), ContextLayout.Xdp);
        ctx = new PacketContext(ContextLayout.Xdp);
        ctx.Load(packet);
        using var run = new RunContext();
        ctx.Prepare(run);
        return new Interpreter(program, helpers ?? StandardHelpers.RegisterAll(new HelperTable())).Run(run, ctx.ContextAddress);
    }

    // The shape clang emits for: if (data + 14 > data_end) return 0; return eth->h_proto (as loaded, little-endian u16).
    private const string ReadEthertype = """
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 14
        mov %r0, 0
        jgt %r4, %r3, +1
        ldxh %r0, [%r2+12]
        exit
        """;

    [Fact]
    public void Xdp_program_reads_packet_through_rewritten_context_pointers()
    {
        ulong r0 = RunXdp(ReadEthertype, Frame, out var ctx);
        ctx.Dispose();
        Assert.Equal(0x0008UL, r0); // bytes 08 00 read as a little-endian u16
    }

    [Fact]
    public void Short_packet_takes_the_bounds_check_branch()
    {
        ulong r0 = RunXdp(ReadEthertype, Frame[..10], out var ctx);
        ctx.Dispose();
        Assert.Equal(0UL, r0);
    }

    [Fact]
    public void Context_pointer_spilled_to_the_stack_is_still_rewritten()
    {
        const string asm = """
            stxdw [%r10-8], %r1
            mov %r1, 0
            ldxdw %r6, [%r10-8]
            ldxw %r2, [%r6+0]
            ldxw %r3, [%r6+4]
            mov %r0, %r3
            sub %r0, %r2
            exit
            """;
        ulong r0 = RunXdp(asm, Frame, out var ctx);
        ctx.Dispose();
        Assert.Equal((ulong)Frame.Length, r0);
    }

    [Fact]
    public void Load_through_a_register_that_is_the_context_on_one_path_only_is_rejected()
    {
        const string asm = """
            mov %r6, %r1
            jeq %r2, 0, +1
            mov %r6, %r10
            ldxw %r0, [%r6+0]
            exit
            """;
        var e = Assert.Throws<BpfLoadException>(() => ContextAccessRewriter.Rewrite(ConformanceAssembler.Assemble(asm), ContextLayout.Xdp));
        Assert.Equal(3, e.InstructionIndex);
        Assert.Contains("xdp_md.data through r6, which holds the context on some paths only", e.Message);
    }

    [Fact]
    public void Xdp_adjust_head_moves_the_packet_start()
    {
        // bpf_xdp_adjust_head(ctx, 14), then return the first byte of the new data (0x45).
        const string asm = """
            mov %r6, %r1
            mov %r2, 14
            call 44
            jne %r0, 0, +6
            ldxw %r2, [%r6+0]
            ldxw %r3, [%r6+4]
            mov %r4, %r2
            add %r4, 1
            jgt %r4, %r3, +1
            ldxb %r0, [%r2+0]
            exit
            """;
        ulong r0 = RunXdp(asm, Frame, out var ctx);
        Assert.Equal(0x45UL, r0);
        Assert.Equal(Frame.Length - 14, ctx.Packet.Length);
        ctx.Dispose();
    }

    [Fact]
    public void Xdp_adjust_tail_past_the_buffer_returns_einval()
    {
        const string asm = """
            mov %r2, 100000
            call 65
            exit
            """;
        ulong r0 = RunXdp(asm, Frame, out var ctx);
        ctx.Dispose();
        Assert.Equal(unchecked((ulong)-22L), r0);
    }

    [Fact]
    public void Writing_the_read_only_xdp_md_faults()
    {
        var e = Assert.Throws<BpfFaultException>(() => RunXdp("stw [%r1+12], 1\nexit\n", Frame, out _));
        Assert.Equal(BpfFaultKind.ReadOnlyWrite, e.Fault.Kind);
        Assert.Equal(0, e.Fault.Pc);
    }

    [Fact]
    public void Trace_printk_formats_into_the_host_sink()
    {
        // "n=%d x=%x\0" on the stack: 6e 3d 25 64 20 78 3d 25 | 78 00, then trace_printk(fmt, 10, -5, 255).
        const string asm = """
            lddw %r1, 0x253d782064253d6e
            stxdw [%r10-16], %r1
            mov %r1, 0x78
            stxh [%r10-8], %r1
            mov %r1, %r10
            add %r1, -16
            mov %r2, 10
            mov %r3, -5
            mov %r4, 255
            call 6
            exit
            """;
        var lines = new List<string>();
        var program = ConformanceAssembler.Assemble(asm);
        using var run = new RunContext { TraceSink = lines.Add };
        new Interpreter(program, StandardHelpers.RegisterAll(new HelperTable())).Run(run, 0);
        Assert.Equal(["n=-5 x=ff"], lines);
    }

    [Fact]
    public void Helper_reading_outside_granted_memory_faults_at_the_call()
    {
        const string asm = """
            mov %r1, 4096
            mov %r2, 8
            call 6
            exit
            """;
        using var run = new RunContext();
        var e = Assert.Throws<BpfFaultException>(() =>
            new Interpreter(ConformanceAssembler.Assemble(asm), StandardHelpers.RegisterAll(new HelperTable())).Run(run, 0));
        Assert.Equal(BpfFaultKind.OutOfBounds, e.Fault.Kind);
        Assert.Equal(2, e.Fault.Pc);
        Assert.StartsWith("trace_printk format: read of 8 bytes at 0x1000", e.Fault.Detail);
    }

    [Fact]
    public void Unknown_helper_is_a_load_error_naming_it()
    {
        var e = Assert.Throws<BpfLoadException>(() => new Interpreter(ConformanceAssembler.Assemble("call 9\nexit\n"), new HelperTable()));
        Assert.Equal("instruction 0: helper bpf_skb_store_bytes (id 9) is not available in this runtime", e.Message);
        e = Assert.Throws<BpfLoadException>(() => new Interpreter(ConformanceAssembler.Assemble("call 9999\nexit\n"), new HelperTable()));
        Assert.Equal("instruction 0: unknown helper id 9999", e.Message);
    }
}
