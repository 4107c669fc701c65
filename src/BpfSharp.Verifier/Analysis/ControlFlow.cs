using BpfSharp.Isa;

namespace BpfSharp.Verifier.Analysis;

/// <summary>
/// Structural checks before abstract interpretation (the kernel's <c>check_cfg</c>): jump targets inside the program,
/// no falling off the end, every instruction reachable, no loops in unprivileged mode. Also finds prune points.
/// </summary>
internal static class ControlFlow
{
    /// <summary>Successor instructions of <paramref name="pc"/> (call targets included).</summary>
    public static void Successors(BpfProgram program, int pc, List<int> into)
    {
        into.Clear();
        Instruction insn = program[pc];
        InstructionKind kind = insn.Info.Kind;
        switch (kind)
        {
            case InstructionKind.Exit:
                return;
            case InstructionKind.Jump:
                into.Add(insn.JumpTarget(pc));
                return;
            case InstructionKind.CondJump:
                into.Add(pc + 1);
                into.Add(insn.JumpTarget(pc));
                return;
            case InstructionKind.Call when insn.Op == Op.CallLocal:
                into.Add(pc + 1);
                into.Add(insn.JumpTarget(pc));
                return;
            default:
                into.Add(pc + insn.Width);
                return;
        }
    }

    /// <summary>Runs the checks; returns an error or null. <paramref name="prunePoints"/> marks branch targets and successors.</summary>
    public static (VerifierErrorCode Code, int Pc, string Message)? Check(BpfProgram program, bool privileged, bool[] prunePoints, bool fragment)
    {
        int count = program.Count;
        for (int pc = 0; pc < count; pc++)
        {
            Instruction insn = program[pc];
            if (insn.Op == Op.LddwHigh)
                continue;
            if (insn.HasTarget && insn.Op != Op.LddwFunc)
            {
                int target = insn.JumpTarget(pc);
                bool fragmentEnd = fragment && target == count;
                if (!fragmentEnd && (target < 0 || target >= count || program[target].Op == Op.LddwHigh))
                    return (VerifierErrorCode.JumpOutOfRange, pc, $"jump out of range from insn {pc} to {target}");
                if (!fragmentEnd)
                    prunePoints[target] = true;
                if (insn.Info.Kind is InstructionKind.CondJump || insn.Op == Op.CallLocal)
                    prunePoints[pc + 1 < count ? pc + 1 : pc] = true;
            }
        }

        // Depth-first walk: reachability, falling off the end, and back-edges (an edge to an instruction still on the
        // walk's stack closes a loop).
        var state = new byte[count]; // 0 unvisited, 1 on stack, 2 done
        var stack = new Stack<(int Pc, int NextSuccessor)>();
        var succ = new List<int>(2);
        stack.Push((0, 0));
        state[0] = 1;
        while (stack.Count > 0)
        {
            var (pc, next) = stack.Pop();
            Successors(program, pc, succ);
            if (next < succ.Count)
            {
                stack.Push((pc, next + 1));
                int target = succ[next];
                if (target >= count)
                {
                    if (fragment)
                        continue;
                    return (VerifierErrorCode.FallThroughEnd, pc, "last insn is not an exit or jmp");
                }
                if (state[target] == 1 && !privileged)
                    return (VerifierErrorCode.BackEdge, pc, $"back-edge from insn {pc} to {target}");
                if (state[target] == 0)
                {
                    state[target] = 1;
                    stack.Push((target, 0));
                }
            }
            else
            {
                state[pc] = 2;
            }
        }
        for (int pc = 0; pc < count && !fragment; pc++)
        {
            if (state[pc] == 0 && program[pc].Op != Op.LddwHigh)
                return (VerifierErrorCode.UnreachableInstruction, pc, $"unreachable insn {pc}");
        }
        return null;
    }
}
