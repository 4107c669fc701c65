using BpfSharp.Isa;

namespace BpfSharp.Runtime.Contexts;

/// <summary>
/// The kernel's context conversion for userspace: finds the loads of context pointer fields (<c>xdp_md.data</c>...)
/// and turns each 32-bit load at the uapi offset into a 64-bit load of the runtime copy. A forward data-flow pass
/// tracks which registers and 8-byte stack slots hold the context pointer (r1 at entry; copies by mov; spills and
/// fills; passed to local functions in r1-r5). A load that is through the context on some paths only is rejected,
/// as the kernel rejects it.
/// </summary>
public static class ContextAccessRewriter
{
    private struct State : IEquatable<State>
    {
        public ushort CtxRegs, OtherRegs;   // a register may be in both: "context on some paths"
        public ulong CtxSlots, OtherSlots;   // 64 slots of 8 bytes below r10
        public bool Reached;

        public readonly bool Equals(State o) => CtxRegs == o.CtxRegs && OtherRegs == o.OtherRegs && CtxSlots == o.CtxSlots && OtherSlots == o.OtherSlots && Reached == o.Reached;
        public override readonly bool Equals(object? obj) => obj is State s && Equals(s);
        public override readonly int GetHashCode() => HashCode.Combine(CtxRegs, OtherRegs, CtxSlots, OtherSlots);

        public static State Join(State a, State b) => !a.Reached ? b : !b.Reached ? a : new State
        {
            CtxRegs = (ushort)(a.CtxRegs | b.CtxRegs),
            OtherRegs = (ushort)(a.OtherRegs | b.OtherRegs),
            CtxSlots = a.CtxSlots | b.CtxSlots,
            OtherSlots = a.OtherSlots | b.OtherSlots,
            Reached = true,
        };

        public void SetReg(int reg, bool ctx, bool other)
        {
            ushort bit = (ushort)(1 << reg);
            CtxRegs = ctx ? (ushort)(CtxRegs | bit) : (ushort)(CtxRegs & ~bit);
            OtherRegs = other ? (ushort)(OtherRegs | bit) : (ushort)(OtherRegs & ~bit);
        }

        public readonly bool IsCtx(int reg) => (CtxRegs & (1 << reg)) != 0;
        public readonly bool IsOther(int reg) => (OtherRegs & (1 << reg)) != 0;
    }

    /// <summary>Returns the program with context pointer loads rewritten (the same program if none needed it).</summary>
    public static BpfProgram Rewrite(BpfProgram program, ContextLayout layout)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(layout);
        int n = program.Count;
        var states = new State[n];
        var work = new Stack<int>();
        var entry = new State { Reached = true, OtherRegs = 0x7FD };  // r1 = ctx; every other register not ctx
        entry.SetReg(1, ctx: true, other: false);
        entry.OtherSlots = ulong.MaxValue;
        Flow(states, work, 0, entry);
        var rewrite = new Dictionary<int, Instruction>();
        while (work.Count > 0)
        {
            int pc = work.Pop();
            var s = states[pc];
            var ins = program[pc];
            var row = ins.Info;
            switch (row.Kind)
            {
                case InstructionKind.Exit:
                    continue;
                case InstructionKind.Jump:
                    Flow(states, work, ins.JumpTarget(pc), s);
                    continue;
                case InstructionKind.CondJump:
                    Flow(states, work, ins.JumpTarget(pc), s);
                    break;
                case InstructionKind.Alu when ins.Op == Op.Mov64Reg:
                    s.SetReg(ins.Dst, s.IsCtx(ins.Src), s.IsOther(ins.Src));
                    break;
                case InstructionKind.Alu or InstructionKind.Endian or InstructionKind.LoadImm64:
                    s.SetReg(ins.Dst, false, true);
                    break;
                case InstructionKind.Load:
                    if (s.IsCtx(ins.Src) && layout.FieldAt(ins.Offset) is { } field)
                    {
                        if (s.IsOther(ins.Src))
                            throw new BpfLoadException($"load of {layout.Name}.{field.Name} through r{ins.Src}, which holds the context on some paths only", pc);
                        if (ins.Op != Op.Ldxw)
                            throw new BpfLoadException($"{layout.Name}.{field.Name} must be read with a 4-byte load", pc);
                        rewrite[pc] = ins with { Op = Op.Ldxdw, Offset = (short)field.RuntimeOffset };
                    }
                    if (ins.Src == 10 && ins.Op == Op.Ldxdw && Slot(ins.Offset) is int slot)
                        s.SetReg(ins.Dst, (s.CtxSlots >> slot & 1) != 0, (s.OtherSlots >> slot & 1) != 0);
                    else
                        s.SetReg(ins.Dst, false, true);
                    break;
                case InstructionKind.StoreReg or InstructionKind.StoreImm or InstructionKind.Atomic:
                    if (ins.Dst == 10)
                    {
                        bool spill = ins.Op == Op.Stxdw && Slot(ins.Offset) is not null;
                        for (int b = ins.Offset; b < ins.Offset + Math.Max(row.Size, 1); b++)
                        {
                            if (Slot((short)(b & ~7)) is not int touched) continue;
                            s.CtxSlots &= ~(1UL << touched);
                            s.OtherSlots |= 1UL << touched;
                        }
                        if (spill && Slot(ins.Offset) is int spilled)
                        {
                            s.CtxSlots = s.IsCtx(ins.Src) ? s.CtxSlots | (1UL << spilled) : s.CtxSlots & ~(1UL << spilled);
                            s.OtherSlots = s.IsOther(ins.Src) ? s.OtherSlots | (1UL << spilled) : s.OtherSlots & ~(1UL << spilled);
                        }
                    }
                    if (row.Kind == InstructionKind.Atomic && (row.Fetch || row.Atomic == AtomicOp.CmpXchg))
                        s.SetReg(row.Atomic == AtomicOp.CmpXchg ? 0 : ins.Src, false, true);
                    break;
                case InstructionKind.Call when row.Call == CallKind.Local:
                {
                    // The callee starts with the caller's r1-r5 and a fresh frame.
                    var callee = s;
                    callee.SetReg(0, false, true);
                    for (int r = 6; r <= 9; r++) callee.SetReg(r, false, true);
                    callee.CtxSlots = 0;
                    callee.OtherSlots = ulong.MaxValue;
                    Flow(states, work, ins.JumpTarget(pc), callee);
                    for (int r = 0; r <= 5; r++) s.SetReg(r, false, true);
                    break;
                }
                case InstructionKind.Call:
                    for (int r = 0; r <= 5; r++) s.SetReg(r, false, true);
                    break;
                case InstructionKind.LoadPacketAbs or InstructionKind.LoadPacketInd:
                    for (int r = 0; r <= 5; r++) s.SetReg(r, false, true);
                    break;
            }
            int next = pc + ins.Width;
            if (next < n) Flow(states, work, next, s);
        }
        if (rewrite.Count == 0) return program;
        var result = new Instruction[n];
        for (int pc = 0; pc < n; pc++) result[pc] = rewrite.TryGetValue(pc, out var r) ? r : program[pc];
        return BpfProgram.FromInstructions(result, program.Name);
    }

    private static int? Slot(short offset) => offset is < 0 and >= -512 && (offset & 7) == 0 ? (-offset / 8) - 1 : null;

    private static void Flow(State[] states, Stack<int> work, int target, State incoming)
    {
        var joined = State.Join(states[target], incoming);
        if (states[target].Reached && joined.Equals(states[target])) return;
        states[target] = joined;
        work.Push(target);
    }
}
