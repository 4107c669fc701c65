using BpfSharp.Isa;

namespace BpfSharp.Jit.Tests;

/// <summary>
/// Generates random valid eBPF programs that terminate under an instruction budget: every instruction class
/// (32- and 64-bit ALU with edge-case immediates, movsx, byte swaps, loads/stores/atomics on the stack, on a granted
/// writable region, on a read-only region and on wild pointers, packet loads), forward jumps, bounded loops, the odd
/// backward jump (runaway until the budget stops it), local calls (including recursion), helper calls and callx to
/// registered and unregistered ids, and instructions the userspace engines refuse.
/// <para>
/// Register conventions keep most programs meaningful: r6 holds the writable region (r1 at entry), r7 the
/// read-only one (r2 at entry), r9 is the loop counter; random instructions write only r0-r5 and r8.
/// </para>
/// </summary>
internal sealed class RandomProgramGenerator(int seed)
{
    public const int RegionReg = 6, ReadOnlyReg = 7, LoopReg = 9;
    public const int WritableLength = 64, ReadOnlyLength = 32, PacketLength = 40;
    public static readonly long[] HelperIds = [1, 2, 3, 4, 5];

    private static readonly int[] WritePool = [0, 1, 2, 3, 4, 5, 8];
    private static readonly OpInfo[] AluRows = SelectRows(k => k is InstructionKind.Alu or InstructionKind.Endian);
    private static readonly OpInfo[] MemoryRows = SelectRows(k => k is InstructionKind.Load or InstructionKind.StoreImm or InstructionKind.StoreReg);
    private static readonly OpInfo[] AtomicRows = SelectRows(k => k is InstructionKind.Atomic);
    private static readonly OpInfo[] CondJumpRows = SelectRows(k => k is InstructionKind.CondJump);
    private static readonly OpInfo[] PacketRows = SelectRows(k => k is InstructionKind.LoadPacketAbs or InstructionKind.LoadPacketInd);

    private static readonly long[] InterestingImms =
        [0, 1, -1, 2, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, 128, 255, 0x7fff, 0x8000, 0xffff, int.MaxValue, int.MinValue, -2, -64, 0x12345678];

    private readonly Random _rng = new(seed);

    private sealed class Anchor { public int Item = -1; }

    private sealed class Item(Instruction ins, Anchor? target = null)
    {
        public Instruction Ins = ins;
        public readonly Anchor? Target = target;
    }

    private readonly List<Item> _items = [];
    private Anchor[] _functionStarts = [];

    private static OpInfo[] SelectRows(Func<InstructionKind, bool> kind)
    {
        var list = new List<OpInfo>();
        foreach (var row in OpcodeTable.Rows) if (kind(row.Kind)) list.Add(row);
        return [.. list];
    }

    private int Pick(int[] pool) => pool[_rng.Next(pool.Length)];
    private bool Chance(double p) => _rng.NextDouble() < p;

    private long Imm()
    {
        int r = _rng.Next(10);
        if (r < 6) return InterestingImms[_rng.Next(InterestingImms.Length)];
        if (r < 9) return _rng.Next(-300, 300);
        return _rng.Next(int.MinValue, int.MaxValue);
    }

    private int ReadReg() => _rng.Next(11);

    public BpfProgram Generate()
    {
        int functions = 1 + (Chance(0.5) ? _rng.Next(1, 3) : 0);
        _functionStarts = new Anchor[functions];
        for (int f = 0; f < functions; f++) _functionStarts[f] = new Anchor();
        for (int f = 0; f < functions; f++)
        {
            _functionStarts[f].Item = _items.Count;
            if (f == 0)
            {
                Emit(Instruction.WithReg(Op.Mov64Reg, RegionReg, 1));
                Emit(Instruction.WithReg(Op.Mov64Reg, ReadOnlyReg, 2));
            }
            var end = new Anchor();
            GenerateScope(_rng.Next(3, f == 0 ? 40 : 20), end, allowLoops: true);
            end.Item = _items.Count;
            // The last function occasionally lacks its exit: execution falls off the end.
            bool fallOff = f == functions - 1 && Chance(0.02);
            if (!fallOff)
            {
                Emit(Instruction.WithImm(Op.Mov64Imm, 0, Imm()), keepR0: Chance(0.5));
                Emit(new Instruction(Op.Exit, 0, 0, 0, 0));
            }
            else if (end.Item == _items.Count) Emit(Instruction.WithImm(Op.Mov64Imm, 0, 1));
        }
        return Assemble();
    }

    private void Emit(Instruction ins, Anchor? target = null, bool keepR0 = false)
    {
        if (keepR0) return;   // lets the previous value of r0 be the result
        _items.Add(new Item(ins, target));
    }

    /// <summary>Generates statements; forward jumps land on a later statement of this scope or on <paramref name="end"/>.</summary>
    private void GenerateScope(int statements, Anchor end, bool allowLoops)
    {
        var starts = new Anchor[statements];
        for (int i = 0; i < statements; i++) starts[i] = new Anchor();
        for (int i = 0; i < statements; i++)
        {
            starts[i].Item = _items.Count;
            Anchor ForwardTarget() => _rng.Next(i + 1, statements + 1) is var j && j == statements ? end : starts[j];
            int kind = _rng.Next(100);
            if (kind < 40) EmitAlu();
            else if (kind < 55) EmitMemory();
            else if (kind < 61) EmitAtomic();
            else if (kind < 73) EmitCondJump(ForwardTarget());
            else if (kind < 75) Emit(new Instruction(Op.Ja, 0, 0, 0, 0), ForwardTarget());
            else if (kind < 80 && allowLoops) EmitLoop();
            else if (kind < 83) EmitHelperCall();
            else if (kind < 85 && _functionStarts.Length > 1) EmitBpfLoop();
            else if (kind < 88) EmitCallx();
            else if (kind < 91 && _functionStarts.Length > 1)
                Emit(new Instruction(Op.CallLocal, 0, 0, 0, 0), _functionStarts[_rng.Next(1, _functionStarts.Length)]);
            else if (kind < 93) EmitPacketLoad();
            else if (kind < 95) Emit(Instruction.WithImm(Op.Lddw, Pick(WritePool), _rng.NextInt64(long.MinValue, long.MaxValue)));
            else if (kind < 96) EmitCondJump(starts[_rng.Next(0, i + 1)]);   // backward: may run until the budget stops it
            else if (kind < 97 && Chance(0.3)) EmitRefused();
            else if (kind < 98)
            {
                Emit(Instruction.WithReg(Op.Mov64Reg, 0, ReadReg()));
                Emit(new Instruction(Op.Exit, 0, 0, 0, 0));
            }
            else EmitAlu();
        }
    }

    private void EmitAlu()
    {
        var row = AluRows[_rng.Next(AluRows.Length)];
        int dst = Pick(WritePool);
        if (row.RegisterSource) Emit(new Instruction(row.Op, (byte)dst, (byte)ReadReg(), 0, 0));
        else if (row.Kind == InstructionKind.Endian || row.Alu == AluOp.Neg) Emit(new Instruction(row.Op, (byte)dst, 0, 0, 0));
        else Emit(new Instruction(row.Op, (byte)dst, 0, 0, Imm()));
    }

    private (int Base, short Offset) Address(int size, bool aligned)
    {
        int r = _rng.Next(100);
        int off;
        int baseReg;
        if (r < 45)
        {
            baseReg = 10;
            off = r < 40 ? -_rng.Next(1, 512 / size + 1) * size : _rng.Next(-530, 40);
        }
        else if (r < 80)
        {
            baseReg = RegionReg;
            off = r < 75 ? _rng.Next(0, WritableLength / size) * size : _rng.Next(-12, WritableLength + 12);
        }
        else if (r < 92)
        {
            baseReg = ReadOnlyReg;
            off = _rng.Next(-4, ReadOnlyLength + 4);
        }
        else
        {
            baseReg = ReadReg();
            off = _rng.Next(-64, 64);
        }
        if (aligned) off &= ~(size - 1);
        return (baseReg, (short)off);
    }

    private void EmitMemory()
    {
        var row = MemoryRows[_rng.Next(MemoryRows.Length)];
        var (b, off) = Address(row.Size, aligned: Chance(0.8));
        switch (row.Kind)
        {
            case InstructionKind.Load: Emit(new Instruction(row.Op, (byte)Pick(WritePool), (byte)b, off, 0)); break;
            case InstructionKind.StoreImm: Emit(new Instruction(row.Op, (byte)b, 0, off, Imm())); break;
            default: Emit(new Instruction(row.Op, (byte)b, (byte)ReadReg(), off, 0)); break;
        }
    }

    private void EmitAtomic()
    {
        var row = AtomicRows[_rng.Next(AtomicRows.Length)];
        // Atomics stay aligned: split-lock atomics are slow (and may trap) on x86.
        var (b, off) = Address(row.Size, aligned: true);
        int src = row.Fetch ? Pick(WritePool) : ReadReg();
        Emit(new Instruction(row.Op, (byte)b, (byte)src, off, 0));
    }

    private void EmitCondJump(Anchor target)
    {
        var row = CondJumpRows[_rng.Next(CondJumpRows.Length)];
        int dst = ReadReg();
        if (row.RegisterSource) Emit(new Instruction(row.Op, (byte)dst, (byte)ReadReg(), 0, 0), target);
        else Emit(new Instruction(row.Op, (byte)dst, 0, 0, Imm()), target);
    }

    private void EmitLoop()
    {
        Emit(Instruction.WithImm(Op.Mov64Imm, LoopReg, _rng.Next(1, 6)));
        var top = new Anchor { Item = _items.Count };
        var bottom = new Anchor();
        GenerateScope(_rng.Next(1, 8), bottom, allowLoops: false);
        bottom.Item = _items.Count;
        Emit(Instruction.WithImm(Op.Add64Imm, LoopReg, -1));
        Emit(Instruction.WithImm(Op.Jne64Imm, LoopReg, 0), top);
    }

    private void EmitHelperCall()
    {
        long id = HelperIds[_rng.Next(HelperIds.Length)];
        // The failing helper (4) is rare so that most programs run to the end.
        if (id == 4 && !Chance(0.2)) id = 1;
        Emit(new Instruction(Op.Call, 0, 0, 0, id));
    }

    /// <summary>bpf_loop(count, callback, ctx, flags) with a callback that is one of the other functions (maybe a caller: nesting).</summary>
    private void EmitBpfLoop()
    {
        Emit(Instruction.WithImm(Op.Mov64Imm, 1, _rng.Next(-1, 5)));
        Emit(Instruction.WithImm(Op.LddwFunc, 2, 0), _functionStarts[_rng.Next(1, _functionStarts.Length)]);
        Emit(Instruction.WithReg(Op.Mov64Reg, 3, ReadReg()));
        Emit(Instruction.WithImm(Op.Mov64Imm, 4, Chance(0.05) ? 1 : 0));
        Emit(new Instruction(Op.Call, 0, 0, 0, BpfLoopId));
    }

    public const long BpfLoopId = 181;

    private void EmitCallx()
    {
        int reg = Pick(WritePool);
        long[] ids = [1, 2, 5, 7, 100, -1];
        Emit(Instruction.WithImm(Op.Mov64Imm, reg, ids[_rng.Next(ids.Length)]));
        Emit(new Instruction(Op.Callx, (byte)reg, 0, 0, 0));
    }

    private void EmitPacketLoad()
    {
        var row = PacketRows[_rng.Next(PacketRows.Length)];
        int imm = _rng.Next(-4, PacketLength + 4);
        if (row.Kind == InstructionKind.LoadPacketInd) Emit(new Instruction(row.Op, 0, (byte)ReadReg(), 0, _rng.Next(-8, 24)));
        else Emit(new Instruction(row.Op, 0, 0, 0, imm));
    }

    private void EmitRefused()
    {
        switch (_rng.Next(3))
        {
            case 0: Emit(Instruction.WithImm(Op.LddwMapFd, Pick(WritePool), 3)); break;
            case 1: Emit(new Instruction(Op.CallKfunc, 0, 0, 0, 1234)); break;
            default: Emit(Instruction.WithImm(Op.LddwBtfId, Pick(WritePool), 9)); break;
        }
    }

    /// <summary>Lays the items out in slots and resolves jump and call targets.</summary>
    private BpfProgram Assemble()
    {
        var slot = new int[_items.Count + 1];
        for (int i = 0; i < _items.Count; i++) slot[i + 1] = slot[i] + _items[i].Ins.Width;
        var result = new List<Instruction>(_items.Count);
        for (int i = 0; i < _items.Count; i++)
        {
            var item = _items[i];
            var ins = item.Ins;
            if (item.Target is { } t)
            {
                int targetItem = Math.Min(t.Item, _items.Count - 1);
                int delta = slot[targetItem] - slot[i] - 1;
                ins = ins.Op is Op.CallLocal or Op.Ja32 or Op.LddwFunc ? ins with { Imm = delta } : ins with { Offset = (short)delta };
            }
            result.Add(ins);
        }
        return BpfProgram.FromInstructions(result, $"random_{seed}");
    }
}
