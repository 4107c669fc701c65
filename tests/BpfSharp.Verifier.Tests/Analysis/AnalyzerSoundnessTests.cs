using BpfSharp.Isa;
using BpfSharp.Verifier.Analysis;
using BpfSharp.Verifier.Domains;
using BpfSharp.Verifier.Tests.Domains;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Verifier.Tests.Analysis;

/// <summary>
/// End-to-end soundness of the abstract interpreter on scalar code: random programs of ALU operations, moves,
/// sign extensions, byte swaps and forward conditional jumps (both widths, register and immediate operands) start
/// from random abstract registers; concrete runs from members of those registers (independent reference semantics)
/// must, at every instruction they execute, be described by one of the states the analysis executed it in.
/// This exercises branch refinement through copies (scalar ids), pruning and the transfer functions together.
/// </summary>
public sealed class AnalyzerSoundnessTests(ITestOutputHelper output)
{
    private const int Registers = 6; // r0-r5 carry data

    private sealed record RandomProgram(BpfProgram Program, ScalarSample[] Entry, int Seed)
    {
        public override string ToString() =>
            $"seed {Seed}\n" + string.Join("\n", Enumerable.Range(0, Program.Count).Select(pc => $"{pc}: {Program[pc]}")) +
            "\nentry:\n" + string.Join("\n", Entry.Select((e, r) => $"r{r} = {e}"));
    }

    private static readonly Arbitrary<RandomProgram> Programs =
        (from seed in Gen.Choose(int.MinValue, int.MaxValue)
         from entry in DomainGenerators.Samples.ArrayOf(Registers)
         select new RandomProgram(Generate(seed), entry, seed)).ToArbitrary();

    private static Op FindOp(Func<OpInfo, bool> match)
    {
        foreach (OpInfo row in OpcodeTable.Rows)
        {
            if (match(row))
                return row.Op;
        }
        throw new InvalidOperationException("no such opcode");
    }

    private static readonly AluOp[] BinaryOps =
        [AluOp.Add, AluOp.Sub, AluOp.Mul, AluOp.Div, AluOp.SDiv, AluOp.Mod, AluOp.SMod, AluOp.And, AluOp.Or, AluOp.Xor, AluOp.Lsh, AluOp.Rsh, AluOp.Arsh];

    private static readonly Op[] UnaryOps =
        [Op.Neg64, Op.Neg32, Op.Mov64Reg, Op.Mov32Reg, Op.MovSx8To64, Op.MovSx16To64, Op.MovSx32To64, Op.MovSx8To32, Op.MovSx16To32,
         Op.Le16, Op.Le32, Op.Le64, Op.Be16, Op.Be32, Op.Be64, Op.Bswap16, Op.Bswap32, Op.Bswap64];

    private static readonly int[] Immediates = [0, 1, -1, 2, 7, 8, 15, 31, 32, 63, 255, 0x7FFF_FFFF, int.MinValue, -8, 0x1000, 100];

    private static BpfProgram Generate(int seed)
    {
        var random = new Random(seed);
        int length = random.Next(3, 24);
        var code = new List<Instruction>();
        for (int pc = 0; pc < length; pc++)
        {
            byte dst = (byte)random.Next(Registers), src = (byte)random.Next(Registers);
            bool is64 = random.Next(2) == 0, useReg = random.Next(2) == 0;
            int imm = random.Next(3) == 0 ? random.Next() - random.Next() : Immediates[random.Next(Immediates.Length)];
            int roll = random.Next(100);
            if (roll < 55)
            {
                AluOp op = BinaryOps[random.Next(BinaryOps.Length)];
                if (!useReg && op is AluOp.Div or AluOp.SDiv or AluOp.Mod or AluOp.SMod && imm == 0)
                    imm = 3; // a constant divisor of zero is rejected before analysis
                if (!useReg && op is AluOp.Lsh or AluOp.Rsh or AluOp.Arsh)
                    imm &= is64 ? 63 : 31;
                Op code1 = FindOp(r => r.Kind == InstructionKind.Alu && r.Alu == op && r.Is64 == is64 && r.RegisterSource == useReg);
                code.Add(new Instruction(code1, dst, useReg ? src : (byte)0, 0, useReg ? 0 : imm));
            }
            else if (roll < 70)
            {
                Op op = UnaryOps[random.Next(UnaryOps.Length)];
                bool hasSource = op is Op.Mov64Reg or Op.Mov32Reg or Op.MovSx8To64 or Op.MovSx16To64 or Op.MovSx32To64 or Op.MovSx8To32 or Op.MovSx16To32;
                code.Add(new Instruction(op, dst, hasSource ? src : (byte)0, 0, 0));
            }
            else if (roll < 75)
            {
                code.Add(new Instruction(is64 ? Op.Mov64Imm : Op.Mov32Imm, dst, 0, 0, imm));
            }
            else
            {
                var conditions = Enum.GetValues<JumpCondition>().Where(c => c != JumpCondition.None).ToArray();
                JumpCondition c = conditions[random.Next(conditions.Length)];
                Op op = FindOp(r => r.Kind == InstructionKind.CondJump && r.Condition == c && r.Is64 == is64 && r.RegisterSource == useReg);
                int offset = random.Next(0, Math.Min(4, length - pc)); // forward, at most to the final exit
                code.Add(new Instruction(op, dst, useReg ? src : (byte)0, (short)offset, useReg ? 0 : imm));
            }
        }
        code.Add(new Instruction(Op.Exit, 0, 0, 0, 0));
        return BpfProgram.FromInstructions(code);
    }

    private static ScalarBinaryOp ToBinary(AluOp op) => op switch
    {
        AluOp.Add => ScalarBinaryOp.Add, AluOp.Sub => ScalarBinaryOp.Sub, AluOp.Mul => ScalarBinaryOp.Mul, AluOp.Div => ScalarBinaryOp.Div,
        AluOp.SDiv => ScalarBinaryOp.SDiv, AluOp.Mod => ScalarBinaryOp.Mod, AluOp.SMod => ScalarBinaryOp.SMod, AluOp.And => ScalarBinaryOp.And,
        AluOp.Or => ScalarBinaryOp.Or, AluOp.Xor => ScalarBinaryOp.Xor, AluOp.Lsh => ScalarBinaryOp.Lsh, AluOp.Rsh => ScalarBinaryOp.Rsh,
        _ => ScalarBinaryOp.Arsh,
    };

    private static BranchCondition ToCondition(JumpCondition c) => c switch
    {
        JumpCondition.Eq => BranchCondition.Eq, JumpCondition.Ne => BranchCondition.Ne, JumpCondition.Gt => BranchCondition.Gt,
        JumpCondition.Ge => BranchCondition.Ge, JumpCondition.Lt => BranchCondition.Lt, JumpCondition.Le => BranchCondition.Le,
        JumpCondition.Sgt => BranchCondition.SGt, JumpCondition.Sge => BranchCondition.SGe, JumpCondition.Slt => BranchCondition.SLt,
        JumpCondition.Sle => BranchCondition.SLe, _ => BranchCondition.Set,
    };

    private static ScalarUnaryOp ToUnary(Op op) => op switch
    {
        Op.Neg64 or Op.Neg32 => ScalarUnaryOp.Neg, Op.Mov64Reg or Op.Mov32Reg => ScalarUnaryOp.Mov,
        Op.MovSx8To64 or Op.MovSx8To32 => ScalarUnaryOp.MovSx8, Op.MovSx16To64 or Op.MovSx16To32 => ScalarUnaryOp.MovSx16,
        Op.MovSx32To64 => ScalarUnaryOp.MovSx32, Op.Le16 => ScalarUnaryOp.ToLe16, Op.Le32 => ScalarUnaryOp.ToLe32,
        Op.Le64 => ScalarUnaryOp.ToLe64, Op.Be16 => ScalarUnaryOp.ToBe16, Op.Be32 => ScalarUnaryOp.ToBe32, Op.Be64 => ScalarUnaryOp.ToBe64,
        Op.Bswap16 => ScalarUnaryOp.Bswap16, Op.Bswap32 => ScalarUnaryOp.Bswap32, _ => ScalarUnaryOp.Bswap64,
    };

    // Concrete run with the test's reference semantics; calls visit(pc, registers) before each instruction.
    private static void RunConcrete(BpfProgram program, ulong[] regs, Action<int, ulong[]> visit)
    {
        int pc = 0;
        while (true)
        {
            visit(pc, regs);
            Instruction insn = program[pc];
            OpInfo info = insn.Info;
            AluWidth width = info.Is64 ? AluWidth.Bits64 : AluWidth.Bits32;
            ulong source = info.RegisterSource ? regs[insn.Src] : (ulong)insn.Imm;
            switch (info.Kind)
            {
                case InstructionKind.Exit:
                    return;
                case InstructionKind.CondJump:
                    pc = ReferenceSemantics.Jump(ToCondition(info.Condition), regs[insn.Dst], source, width) ? insn.JumpTarget(pc) : pc + 1;
                    continue;
                case InstructionKind.Endian:
                    regs[insn.Dst] = ReferenceSemantics.Unary(ToUnary(insn.Op), regs[insn.Dst], AluWidth.Bits64);
                    break;
                default:
                    if (info.Alu == AluOp.Mov && !info.RegisterSource)
                        regs[insn.Dst] = ReferenceSemantics.Unary(ScalarUnaryOp.Mov, source, width);
                    else if (info.Alu is AluOp.Mov or AluOp.MovSx8 or AluOp.MovSx16 or AluOp.MovSx32)
                        regs[insn.Dst] = ReferenceSemantics.Unary(ToUnary(insn.Op), regs[insn.Src], width);
                    else if (info.Alu == AluOp.Neg)
                        regs[insn.Dst] = ReferenceSemantics.Unary(ScalarUnaryOp.Neg, regs[insn.Dst], width);
                    else
                        regs[insn.Dst] = ReferenceSemantics.Binary(ToBinary(info.Alu), regs[insn.Dst], source, width);
                    break;
            }
            pc++;
        }
    }

    [Fact]
    public void Every_concrete_run_stays_inside_the_analysed_states()
    {
        long runs = 0, checkedSteps = 0;
        PropertyRunner.Run(Programs, p =>
        {
            var observed = new List<Scalar[]>?[p.Program.Count];
            RegisterState[] entry = p.Entry.Select(e => RegisterState.Number(e.Value)).ToArray();
            VerificationResult result = Verifier.Verify(p.Program, new VerifierOptions
            {
                EntryRegisters = entry,
                CodeFragment = true,
                StepObserver = (pc, state) =>
                {
                    var regs = new Scalar[Registers];
                    for (int r = 0; r < Registers; r++)
                    {
                        if (state.Registers[r].Type != RegType.Scalar)
                            throw new Xunit.Sdk.XunitException($"r{r} lost its scalar type at {pc}: {state.Registers[r]}");
                        regs[r] = state.Registers[r].Value;
                    }
                    (observed[pc] ??= []).Add(regs);
                },
            });
            if (!result.Accepted)
                throw new Xunit.Sdk.XunitException($"scalar-only program rejected: {result.Error}\n{p}");
            var random = new Random(p.Seed);
            for (int run = 0; run < 4; run++)
            {
                ulong[] regs = new ulong[11];
                for (int r = 0; r < Registers; r++)
                    regs[r] = p.Entry[r].Members[random.Next(p.Entry[r].Members.Length)];
                string start = string.Join(", ", regs.Take(Registers).Select(v => "0x" + v.ToString("x")));
                runs++;
                RunConcrete(p.Program, regs, (pc, concrete) =>
                {
                    checkedSteps++;
                    var states = observed[pc] ?? throw new Xunit.Sdk.XunitException($"concrete run reached {pc}, the analysis did not (start {start})\n{p}");
                    foreach (Scalar[] s in states)
                    {
                        bool all = true;
                        for (int r = 0; r < Registers && all; r++)
                            all = s[r].Contains(concrete[r]);
                        if (all)
                            return;
                    }
                    throw new Xunit.Sdk.XunitException(
                        $"at {pc} no analysed state holds the concrete registers {string.Join(", ", concrete.Take(Registers).Select(v => "0x" + v.ToString("x")))} (start {start})\n" +
                        string.Join("\n", states.Select(s => string.Join(" | ", s.Select(x => x.ToString())))) + "\n" + p);
                });
            }
            return true;
        });
        output.WriteLine($"{PropertyRunner.CasesPerProperty} random programs, {runs} concrete runs, {checkedSteps} instruction steps checked");
    }
}
