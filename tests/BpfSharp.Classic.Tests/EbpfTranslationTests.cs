using BpfSharp.Classic.Filter;
using BpfSharp.Isa;
using BpfSharp.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Classic.Tests;

/// <summary>The eBPF translation, run on the main interpreter, must give the classic interpreter's verdict.</summary>
public class EbpfTranslationTests
{
    private readonly ITestOutputHelper _out;

    public EbpfTranslationTests(ITestOutputHelper output) => _out = output;

    private static unsafe ulong RunEbpf(Interpreter interp, RunContext ctx, TestPacket p)
    {
        var data = p.Data.Length == 0 ? new byte[1] : p.Data;
        fixed (byte* ptr = data)
        {
            ctx.ClearRegions();
            ctx.AddRegion(new MemoryRegion((ulong)ptr, (ulong)p.Data.Length, RegionKind.Packet, false));
            return interp.Run(ctx, (ulong)ptr, CbpfToEbpf.PackLengths((uint)p.Data.Length, p.WireLength));
        }
    }

    [Fact]
    public void Corpus_programs_agree_with_the_classic_interpreter()
    {
        int programs = 0, runs = 0;
        using var ctx = new RunContext();
        foreach (var e in FilterCorpus.Entries)
        {
            foreach (bool optimize in new[] { false, true })
            {
                CbpfInstruction[] prog;
                try
                {
                    prog = FilterCompiler.Compile(e.Expression, e.Link, optimize);
                }
                catch (FilterCompileException)
                {
                    continue;
                }
                if (CbpfValidator.Check(prog) is not null)
                    continue; // protochain loops backwards; the kernel would refuse it too
                var ebpf = CbpfToEbpf.Translate(prog);
                var interp = new Interpreter(BpfProgram.FromRaw(ebpf));
                programs++;
                foreach (var p in Differential.PacketsFor(e.Link))
                {
                    uint want = CbpfInterpreter.Run(prog, p.Data, p.WireLength);
                    ulong got = RunEbpf(interp, ctx, p);
                    Assert.True(want == got, $"{e.Expression} (optimize={optimize}) on {p.Name}: classic {want}, eBPF {got}");
                    runs++;
                }
            }
        }
        _out.WriteLine($"{programs} programs, {runs} packet runs agree");
        Assert.True(programs > 600);
    }

    [Fact]
    public void Hand_written_programs_cover_every_instruction_kind()
    {
        CbpfInstruction S(ushort c, uint k = 0) => CbpfInstruction.Stmt(c, k);
        // A = ((pkt[0..3] >> 4) * 3 + X) ^ M[0] ... exercising ALU by X, memory, tax/txa, division by X == 0.
        var progs = new[]
        {
            new[] { S(Bpf.LD | Bpf.W | Bpf.ABS, 0), S(Bpf.ALU | Bpf.RSH | Bpf.K, 4), S(Bpf.ALU | Bpf.MUL | Bpf.K, 3), S(Bpf.ST, 0),
                    S(Bpf.LDX | Bpf.MSH | Bpf.B, 1), S(Bpf.ALU | Bpf.ADD | Bpf.X), S(Bpf.LDX | Bpf.MEM, 0), S(Bpf.ALU | Bpf.XOR | Bpf.X),
                    S(Bpf.MISC | Bpf.TAX), S(Bpf.LD | Bpf.H | Bpf.IND, 0), S(Bpf.RET | Bpf.A) },
            new[] { S(Bpf.LD | Bpf.W | Bpf.LEN), S(Bpf.LDX | Bpf.IMM, 0), S(Bpf.ALU | Bpf.DIV | Bpf.X), S(Bpf.RET | Bpf.K, 7) },
            new[] { S(Bpf.LD | Bpf.IMM, 9), S(Bpf.ALU | Bpf.NEG), S(Bpf.STX, 3), S(Bpf.LDX | Bpf.MEM, 3), S(Bpf.MISC | Bpf.TXA), S(Bpf.ALU | Bpf.MOD | Bpf.K, 7), S(Bpf.RET | Bpf.A) },
            new[] { S(Bpf.LD | Bpf.B | Bpf.ABS, 40000), S(Bpf.RET | Bpf.K, 1) },
            new[] { S(Bpf.LDX | Bpf.IMM, 0xfffffff0), S(Bpf.LD | Bpf.B | Bpf.IND, 0x20), S(Bpf.RET | Bpf.K, 1) },
            new[] { S(Bpf.LD | Bpf.W | Bpf.LEN), CbpfInstruction.Jump(Bpf.JMP | Bpf.JGE | Bpf.K, 0x80000000, 0, 1), S(Bpf.RET | Bpf.K, 1), S(Bpf.RET | Bpf.K, 2) },
        };
        using var ctx = new RunContext();
        var packets = Differential.PacketsFor(LinkType.Ethernet);
        foreach (var prog in progs)
        {
            var interp = new Interpreter(BpfProgram.FromRaw(CbpfToEbpf.Translate(prog)));
            foreach (var p in packets)
                Assert.Equal(CbpfInterpreter.Run(prog, p.Data, p.WireLength), RunEbpf(interp, ctx, p));
        }
    }
}
