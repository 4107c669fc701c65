using BpfSharp.Isa;
using BpfSharp.Verifier.Domains;

namespace BpfSharp.Verifier.Analysis;

internal sealed partial class Analyzer
{
    private static BranchCondition ToCondition(JumpCondition c) => c switch
    {
        JumpCondition.Eq => BranchCondition.Eq,
        JumpCondition.Ne => BranchCondition.Ne,
        JumpCondition.Gt => BranchCondition.Gt,
        JumpCondition.Ge => BranchCondition.Ge,
        JumpCondition.Lt => BranchCondition.Lt,
        JumpCondition.Le => BranchCondition.Le,
        JumpCondition.Sgt => BranchCondition.SGt,
        JumpCondition.Sge => BranchCondition.SGe,
        JumpCondition.Slt => BranchCondition.SLt,
        JumpCondition.Sle => BranchCondition.SLe,
        _ => BranchCondition.Set,
    };

    private int ExecuteBranch(int pc, Instruction insn, AbstractState state, Stack<Work> work, PathNode? ancestors)
    {
        OpInfo info = insn.Info;
        AluWidth width = info.Is64 ? AluWidth.Bits64 : AluWidth.Bits32;
        BranchCondition condition = ToCondition(info.Condition);
        int target = insn.JumpTarget(pc);
        RegisterState left = Read(state, pc, insn.Dst);
        RegisterState right = info.RegisterSource ? Read(state, pc, insn.Src) : RegisterState.Number(Scalar.Const(insn.Imm));

        AbstractState taken = state.Clone();
        bool takenFeasible = true, fallFeasible = true;

        if (left.Type == RegType.Scalar && right.Type == RegType.Scalar)
        {
            BranchOutcome outcome = info.RegisterSource && insn.Src == insn.Dst
                ? SameRegister(condition, left.Value, width)
                : ScalarBranch.Refine(condition, left.Value, right.Value, width);
            takenFeasible = outcome.Taken.IsFeasible;
            fallFeasible = outcome.NotTaken.IsFeasible;
            if (takenFeasible)
                ApplyScalar(taken, insn, info.RegisterSource, outcome.Taken);
            if (fallFeasible)
                ApplyScalar(state, insn, info.RegisterSource, outcome.NotTaken);
        }
        else if (left.MaybeNull && IsZero(right) && condition is BranchCondition.Eq or BranchCondition.Ne)
        {
            // if (ptr == 0): NULL on one edge, a valid pointer on the other, for every copy (same id).
            AbstractState nullEdge = condition == BranchCondition.Eq ? taken : state;
            AbstractState validEdge = condition == BranchCondition.Eq ? state : taken;
            MarkNullness(nullEdge, left.Id, isNull: true);
            MarkNullness(validEdge, left.Id, isNull: false);
        }
        else if (IsPacketComparison(left, right))
        {
            RefinePacketRange(state, taken, condition, left, right);
        }
        else if (!_options.Privileged && (left.IsPointer || right.IsPointer))
        {
            throw Failure(VerifierErrorCode.PointerComparison, pc, $"R{insn.Dst} pointer comparison prohibited", state);
        }

        if (!takenFeasible)
            return pc + 1;
        if (!fallFeasible)
            return target;
        state.Path.Add($"{pc}:fallthrough");
        taken.Path.Add($"{pc}:taken");
        work.Push(new Work(target, taken, ancestors));
        return pc + 1;
    }

    private static bool IsZero(RegisterState r) => r.Type == RegType.Scalar && r.Value.IsConst && r.Value.ConstValue == 0;

    // Comparing a register with itself: the outcome is known except for jset, which holds when the value is non-zero.
    private static BranchOutcome SameRegister(BranchCondition condition, Scalar value, AluWidth width)
    {
        var always = new BranchOutcome(new BranchEdge(true, value, value), BranchEdge.Infeasible);
        var never = new BranchOutcome(BranchEdge.Infeasible, new BranchEdge(true, value, value));
        switch (condition)
        {
            case BranchCondition.Eq or BranchCondition.Ge or BranchCondition.Le or BranchCondition.SGe or BranchCondition.SLe:
                return always;
            case BranchCondition.Set:
                BranchOutcome nonZero = ScalarBranch.Refine(BranchCondition.Ne, value, Scalar.Const(0UL), width);
                return nonZero;
            default:
                return never;
        }
    }

    private static void ApplyScalar(AbstractState state, Instruction insn, bool registerSource, BranchEdge edge)
    {
        SetScalar(state, insn.Dst, edge.Left);
        if (registerSource && insn.Src != insn.Dst)
            SetScalar(state, insn.Src, edge.Right);
    }

    // Refines a register and every register or spill that is a copy of it (same scalar id).
    private static void SetScalar(AbstractState state, int reg, Scalar value)
    {
        RegisterState[] regs = state.Registers;
        int id = regs[reg].Id;
        regs[reg] = regs[reg] with { Value = value };
        if (id == 0)
            return;
        foreach (Frame f in state.Frames)
        {
            for (int r = 0; r < f.Registers.Length; r++)
            {
                if (f.Registers[r].Type == RegType.Scalar && f.Registers[r].Id == id)
                    f.Registers[r] = f.Registers[r] with { Value = value };
            }
            for (int s = 0; s < f.Spills.Length; s++)
            {
                if (f.Stack[s * 8] == StackByte.Spill && f.Spills[s].Type == RegType.Scalar && f.Spills[s].Id == id)
                    f.Spills[s] = f.Spills[s] with { Value = value };
            }
        }
    }

    private static void MarkNullness(AbstractState state, int id, bool isNull)
    {
        RegisterState Convert(RegisterState r)
        {
            if (!r.MaybeNull || r.Id != id)
                return r;
            if (isNull)
                return RegisterState.Number(Scalar.Const(0UL));
            return r with { Type = r.Type == RegType.MapValueOrNull ? RegType.MapValue : RegType.RingbufMem };
        }
        foreach (Frame f in state.Frames)
        {
            for (int r = 0; r < f.Registers.Length; r++)
                f.Registers[r] = Convert(f.Registers[r]);
            for (int s = 0; s < f.Spills.Length; s++)
            {
                if (f.Stack[s * 8] == StackByte.Spill)
                    f.Spills[s] = Convert(f.Spills[s]);
            }
        }
        if (isNull)
            state.References.RemoveAll(reference => reference.Id == id); // nothing was reserved
    }

    private static bool IsPacketComparison(RegisterState left, RegisterState right) =>
        left.Type == RegType.Packet && right.Type == RegType.PacketEnd ||
        left.Type == RegType.PacketEnd && right.Type == RegType.Packet ||
        left.Type == RegType.PacketMeta && right.Type == RegType.Packet ||
        left.Type == RegType.Packet && right.Type == RegType.PacketMeta;

    // The edges on which "pkt + off <= end" holds: there, off bytes from the pointer's base are inside the packet
    // (the kernel's find_good_pkt_pointers).
    private static void RefinePacketRange(AbstractState fallthrough, AbstractState taken, BranchCondition condition, RegisterState left, RegisterState right)
    {
        bool pointerOnLeft = left.Type is RegType.Packet && right.Type == RegType.PacketEnd || left.Type == RegType.PacketMeta;
        RegisterState ptr = pointerOnLeft ? left : right;
        // Normalise to "ptr OP end".
        BranchCondition c = pointerOnLeft ? condition : condition switch
        {
            BranchCondition.Gt => BranchCondition.Lt,
            BranchCondition.Ge => BranchCondition.Le,
            BranchCondition.Lt => BranchCondition.Gt,
            BranchCondition.Le => BranchCondition.Ge,
            _ => condition,
        };
        AbstractState? inside = c switch
        {
            BranchCondition.Gt => fallthrough, // ptr > end false: ptr <= end
            BranchCondition.Ge => fallthrough, // ptr >= end false: ptr < end
            BranchCondition.Lt or BranchCondition.Le => taken,
            _ => null,
        };
        if (inside == null || !ptr.Value.IsConst && ptr.Id == 0)
            return;
        int range = ptr.Off;
        foreach (Frame f in inside.Frames)
        {
            for (int r = 0; r < f.Registers.Length; r++)
            {
                RegisterState reg = f.Registers[r];
                if (reg.Type == ptr.Type && reg.Id == ptr.Id && reg.Range < range)
                    f.Registers[r] = reg with { Range = range };
            }
            for (int s = 0; s < f.Spills.Length; s++)
            {
                RegisterState reg = f.Spills[s];
                if (f.Stack[s * 8] == StackByte.Spill && reg.Type == ptr.Type && reg.Id == ptr.Id && reg.Range < range)
                    f.Spills[s] = reg with { Range = range };
            }
        }
    }
}
