using BpfSharp.Isa;

namespace BpfSharp.Verifier.Analysis;

/// <summary>
/// Which registers' scalar values can still matter at each instruction: a static, conservative stand-in for the
/// kernel's precision tracking. A scalar is relevant at pc when, on some path from pc within the same function, it
/// flows (through ALU ops and moves) into a branch condition, a memory address, a store, a helper or subprogram
/// argument, or a checked return value. State pruning ignores the values of irrelevant scalars: whatever they hold,
/// every check ahead sees the same outcome, which is why the kernel can prune bounded loops whose accumulators
/// differ on every path.
/// </summary>
internal static class Relevance
{
    private const ushort CallerSaved = 0b111110; // R1-R5
    private const ushort All = 0x7FF;

    /// <summary>Per-instruction masks (bit r = register r relevant before the instruction).</summary>
    /// <remarks>With <paramref name="livenessOnly"/>, computes plain liveness instead: registers that may be read at all.</remarks>
    public static ushort[] Compute(BpfProgram program, bool exitValueMatters, bool livenessOnly = false)
    {
        int n = program.Count;
        var live = new ushort[n];
        var predecessors = new List<int>[n];
        var succ = new List<int>();
        for (int pc = 0; pc < n; pc++)
        {
            if (program[pc].Info.Kind == InstructionKind.LoadImm64High)
                continue;
            foreach (int s in SuccessorsInFunction(program, pc, succ))
            {
                if ((uint)s < (uint)n)
                    (predecessors[s] ??= []).Add(pc);
            }
        }
        var work = new Stack<int>();
        var queued = new bool[n];
        for (int pc = n - 1; pc >= 0; pc--)
        {
            work.Push(pc);
            queued[pc] = true;
        }
        while (work.Count > 0)
        {
            int pc = work.Pop();
            queued[pc] = false;
            if (program[pc].Info.Kind == InstructionKind.LoadImm64High)
                continue;
            ushort after = 0;
            foreach (int s in SuccessorsInFunction(program, pc, succ))
            {
                if ((uint)s < (uint)n)
                    after |= live[s];
                else
                    after = All; // falls off a fragment: assume everything matters
            }
            ushort before = Transfer(program[pc], after, exitValueMatters || livenessOnly, livenessOnly);
            if (before == live[pc])
                continue;
            live[pc] = before;
            if (predecessors[pc] is { } preds)
            {
                foreach (int p in preds)
                {
                    if (!queued[p])
                    {
                        queued[p] = true;
                        work.Push(p);
                    }
                }
            }
        }
        return live;
    }

    private static List<int> SuccessorsInFunction(BpfProgram program, int pc, List<int> into)
    {
        Instruction insn = program[pc];
        into.Clear();
        if (insn.Info.Kind == InstructionKind.Call && insn.Op == Op.CallLocal)
        {
            into.Add(pc + 1); // the callee runs in its own frame; only R0 and R6-R9 come back
            return into;
        }
        ControlFlow.Successors(program, pc, into);
        return into;
    }

    private static ushort Bit(int reg) => (ushort)(1 << reg);

    private static ushort Transfer(Instruction insn, ushort after, bool exitValueMatters, bool livenessOnly)
    {
        OpInfo info = insn.Info;
        int dst = insn.Dst, src = insn.Src;
        switch (info.Kind)
        {
            case InstructionKind.Alu when livenessOnly:
            {
                bool mov = info.Alu is AluOp.Mov or AluOp.MovSx8 or AluOp.MovSx16 or AluOp.MovSx32;
                ushort before = mov ? (ushort)(after & ~Bit(dst)) : (ushort)(after | Bit(dst));
                return info.RegisterSource ? (ushort)(before | Bit(src)) : before;
            }
            case InstructionKind.Endian when livenessOnly:
                return (ushort)(after | Bit(dst));
            case InstructionKind.Alu:
            {
                bool isMov = info.Alu is AluOp.Mov or AluOp.MovSx8 or AluOp.MovSx16 or AluOp.MovSx32;
                bool dstRelevant = (after & Bit(dst)) != 0;
                ushort before = after;
                if (isMov)
                    before &= (ushort)~Bit(dst);
                // No special case for pointer arithmetic: a pointer only matters where it is used (dereferenced,
                // compared, stored, passed), and those uses make it, and so the scalars added to it, relevant.
                if (dstRelevant && info.RegisterSource)
                    before |= Bit(src);
                return before;
            }
            case InstructionKind.Endian:
                return after;
            case InstructionKind.CondJump:
                return (ushort)(after | Bit(dst) | (info.RegisterSource ? Bit(src) : 0));
            case InstructionKind.Jump:
                return after;
            case InstructionKind.Call:
                return (ushort)((after & ~(CallerSaved | 1)) | CallerSaved);
            case InstructionKind.Exit:
                return exitValueMatters ? (ushort)1 : (ushort)0;
            case InstructionKind.Load:
                return (ushort)((after & ~Bit(dst)) | Bit(src));
            case InstructionKind.StoreImm:
                return (ushort)(after | Bit(dst));
            case InstructionKind.StoreReg:
                return (ushort)(after | Bit(dst) | Bit(src));
            case InstructionKind.Atomic:
                return (ushort)(after | Bit(dst) | Bit(src) | 1);
            case InstructionKind.LoadImm64:
                return (ushort)(after & ~Bit(dst));
            case InstructionKind.LoadPacketAbs:
            case InstructionKind.LoadPacketInd:
                return (ushort)((after & ~(CallerSaved | 1)) | Bit(6) | (info.Kind == InstructionKind.LoadPacketInd ? Bit(src) : 0));
            default:
                return All;
        }
    }
}
