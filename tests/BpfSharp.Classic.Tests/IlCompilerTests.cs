using BpfSharp.Classic.Filter;
using Xunit;

namespace BpfSharp.Classic.Tests;

public class IlCompilerTests
{
    [Fact]
    public void Corpus_programs_agree_with_the_interpreter()
    {
        int programs = 0;
        foreach (var e in FilterCorpus.Entries)
        {
            foreach (bool optimize in new[] { false, true })
            {
                CbpfInstruction[] prog;
                try { prog = FilterCompiler.Compile(e.Expression, e.Link, optimize); }
                catch (FilterCompileException) { continue; }
                if (CbpfValidator.Check(prog) is not null)
                    continue;
                var compiled = CbpfIlCompiler.Compile(prog);
                programs++;
                foreach (var p in Differential.PacketsFor(e.Link))
                {
                    uint want = CbpfInterpreter.Run(prog, p.Data, p.WireLength);
                    uint got = compiled.Run(p.Data, p.WireLength);
                    Assert.True(want == got, $"{e.Expression} (optimize={optimize}) on {p.Name}: interpreter {want}, IL {got}");
                }
            }
        }
        Assert.True(programs > 600);
    }

    [Fact]
    public void Random_programs_agree_with_the_interpreter()
    {
        // Random straight-line ALU/load programs with forward jumps; both engines must agree on every packet.
        var rnd = new Random(1234);
        var packets = Differential.PacketsFor(LinkType.Ethernet).Take(80).ToList();
        ushort[] ops = { Bpf.ADD, Bpf.SUB, Bpf.MUL, Bpf.DIV, Bpf.OR, Bpf.AND, Bpf.LSH, Bpf.RSH, Bpf.MOD, Bpf.XOR };
        for (int n = 0; n < 300; n++)
        {
            var prog = new List<CbpfInstruction> { CbpfInstruction.Stmt(Bpf.ST, 0), CbpfInstruction.Stmt(Bpf.STX, 1) };
            int len = rnd.Next(3, 20);
            for (int i = 0; i < len; i++)
            {
                uint k = (uint)rnd.Next(0, 64);
                CbpfInstruction insn = rnd.Next(9) switch
                {
                    0 => CbpfInstruction.Stmt((ushort)(Bpf.LD | Bpf.ABS | (ushort)(rnd.Next(3) * 8)), k),
                    1 => CbpfInstruction.Stmt((ushort)(Bpf.LD | Bpf.IND | (ushort)(rnd.Next(3) * 8)), k),
                    2 => CbpfInstruction.Stmt(Bpf.LDX | Bpf.MSH | Bpf.B, k),
                    3 => CbpfInstruction.Stmt((ushort)(Bpf.ALU | ops[rnd.Next(ops.Length)] | Bpf.X), 0),
                    4 => CbpfInstruction.Stmt((ushort)(Bpf.ALU | ops[rnd.Next(ops.Length)] | Bpf.K), k % 31 + 1),
                    5 => CbpfInstruction.Stmt((ushort)(Bpf.MISC | (rnd.Next(2) == 0 ? Bpf.TAX : Bpf.TXA)), 0),
                    6 => CbpfInstruction.Stmt(rnd.Next(2) == 0 ? Bpf.ST : Bpf.STX, k % 2),
                    7 => CbpfInstruction.Stmt(rnd.Next(2) == 0 ? (ushort)(Bpf.LD | Bpf.MEM) : (ushort)(Bpf.LDX | Bpf.MEM), k % 2),
                    _ => CbpfInstruction.Jump((ushort)(Bpf.JMP | (ushort)(rnd.Next(1, 5) * 16) | (rnd.Next(2) == 0 ? Bpf.K : Bpf.X)), k, 0, 1),
                };
                prog.Add(insn);
            }
            prog.Add(CbpfInstruction.Stmt(Bpf.RET | Bpf.A, 0));
            prog.Add(CbpfInstruction.Stmt(Bpf.RET | Bpf.K, 77));
            var arr = prog.ToArray();
            Assert.Null(CbpfValidator.Check(arr));
            var compiled = CbpfIlCompiler.Compile(arr);
            foreach (var p in packets)
                Assert.Equal(CbpfInterpreter.Run(arr, p.Data, p.WireLength), compiled.Run(p.Data, p.WireLength));
        }
    }
}
