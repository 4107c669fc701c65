using BpfSharp.Isa;
using BpfSharp.Verifier.Domains;

namespace BpfSharp.Verifier.Analysis;

internal sealed partial class Analyzer
{
    private const int MaxPacketOffset = 0xFFFF;

    private enum Access { Read, Write }

    private static Scalar LoadedValue(int size, bool signExtend)
    {
        if (size == 8)
            return Scalar.Unknown;
        int bits = size * 8;
        return signExtend
            ? Scalar.FromSignedRange(-(1L << (bits - 1)), (1L << (bits - 1)) - 1)
            : Scalar.FromUnsignedRange(0, (1UL << bits) - 1);
    }

    private void ExecuteLoad(int pc, Instruction insn, AbstractState state)
    {
        RegisterState ptr = Read(state, pc, insn.Src);
        int size = insn.Info.Size;
        RegisterState loaded = CheckAccess(pc, state, insn.Src, ptr, insn.Offset, size, Access.Read, null);
        if (insn.Info.SignExtend && loaded.Type == RegType.Scalar)
        {
            ScalarUnaryOp ext = size switch { 1 => ScalarUnaryOp.MovSx8, 2 => ScalarUnaryOp.MovSx16, _ => ScalarUnaryOp.MovSx32 };
            loaded = RegisterState.Number(ScalarAlu.Unary(ext, loaded.Value, AluWidth.Bits64));
        }
        Write(state, pc, insn.Dst, loaded);
    }

    private void ExecuteStore(int pc, Instruction insn, AbstractState state)
    {
        RegisterState ptr = Read(state, pc, insn.Dst);
        RegisterState value = insn.Info.Kind == InstructionKind.StoreReg
            ? Read(state, pc, insn.Src)
            : RegisterState.Number(Scalar.Const(insn.Imm));
        CheckAccess(pc, state, insn.Dst, ptr, insn.Offset, insn.Info.Size, Access.Write, value,
            valueReg: insn.Info.Kind == InstructionKind.StoreReg ? insn.Src : -1);
    }

    private void ExecuteAtomic(int pc, Instruction insn, AbstractState state)
    {
        OpInfo info = insn.Info;
        RegisterState ptr = Read(state, pc, insn.Dst);
        RegisterState value = Read(state, pc, insn.Src);
        if (info.Atomic == AtomicOp.CmpXchg)
            Read(state, pc, 0);
        if (ptr.Type is not (RegType.Stack or RegType.MapValue or RegType.RingbufMem))
            throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, $"BPF_ATOMIC stores into R{insn.Dst} {TypeName(ptr)} is not allowed", state);
        if (value.IsPointer && !_options.Privileged)
            throw Failure(VerifierErrorCode.PointerLeak, pc, $"R{insn.Src} leaks addr into mem", state);
        CheckAccess(pc, state, insn.Dst, ptr, insn.Offset, info.Size, Access.Read, null);
        CheckAccess(pc, state, insn.Dst, ptr, insn.Offset, info.Size, Access.Write, RegisterState.UnknownScalar);
        if (info.Fetch)
        {
            Scalar old = info.Size == 8 ? Scalar.Unknown : LoadedValue(4, false);
            Write(state, pc, info.Atomic == AtomicOp.CmpXchg ? 0 : insn.Src, RegisterState.Number(old));
        }
    }

    private void ExecuteLegacyPacketLoad(int pc, Instruction insn, AbstractState state)
    {
        if (!ProgramTypes.HasLegacyPacketLoads(_options.ProgramType))
            throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, "BPF_LD_[ABS|IND] instructions not allowed for this program type", state);
        if (state.Registers[6].Type != RegType.Ctx)
            throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, "at the time of BPF_LD_ABS|IND R6 != pointer to skb", state);
        if (insn.Info.Kind == InstructionKind.LoadPacketInd)
        {
            RegisterState index = Read(state, pc, insn.Src);
            if (index.IsPointer)
                throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, $"R{insn.Src} invalid mem access '{TypeName(index)}'", state);
        }
        RegisterState[] regs = state.Registers;
        for (int r = 1; r <= 5; r++)
            regs[r] = RegisterState.NotInit;
        regs[0] = RegisterState.Number(LoadedValue(insn.Info.Size, false));
    }

    /// <summary>
    /// Checks a memory access through <paramref name="ptr"/> (register <paramref name="reg"/>) at its offsets plus
    /// <paramref name="insnOff"/>; for a read returns the loaded value, for a write records <paramref name="value"/>.
    /// </summary>
    private RegisterState CheckAccess(int pc, AbstractState state, int reg, RegisterState ptr, int insnOff, int size,
        Access access, RegisterState? value, int valueReg = -1)
    {
        bool write = access == Access.Write;
        switch (ptr.Type)
        {
            case RegType.Stack:
                return StackAccess(pc, state, reg, ptr, insnOff, size, write, value);
            case RegType.Ctx:
            {
                if (ptr.Off != 0 || !ptr.Value.IsConst || ptr.Value.ConstValue != 0)
                    throw Failure(VerifierErrorCode.ModifiedContextPointer, pc, $"dereference of modified ctx ptr R{reg} off={ptr.Off} disallowed", state);
                if (write && value is { IsPointer: true })
                    throw Failure(VerifierErrorCode.PointerLeak, pc, $"R{valueReg} leaks addr into ctx", state);
                if (!ProgramTypes.TryAccessContext(_options.ProgramType, insnOff, size, write, out RegType result))
                    throw Failure(VerifierErrorCode.InvalidContextAccess, pc, $"invalid bpf_context access off={insnOff} size={size}", state);
                return result == RegType.Scalar ? RegisterState.Number(LoadedValue(size, false)) : RegisterState.Pointer(result);
            }
            case RegType.MapValue:
            {
                VerifierMap map = _options.Maps[ptr.MapIndex];
                CheckRegion(pc, state, reg, ptr, insnOff, size, map.ValueSize, "map value", "value_size");
                if (write && value is { IsPointer: true } && !_options.Privileged)
                    throw Failure(VerifierErrorCode.PointerLeak, pc, $"R{valueReg} leaks addr into map", state);
                return RegisterState.Number(LoadedValue(size, false));
            }
            case RegType.RingbufMem:
                CheckRegion(pc, state, reg, ptr, insnOff, size, ptr.Range, "memory", "mem_size");
                if (write && value is { IsPointer: true } && !_options.Privileged)
                    throw Failure(VerifierErrorCode.PointerLeak, pc, $"R{valueReg} leaks addr into mem", state);
                return RegisterState.Number(LoadedValue(size, false));
            case RegType.Packet or RegType.PacketMeta:
                PacketAccess(pc, state, reg, ptr, insnOff, size, write);
                if (write && value is { IsPointer: true } && !_options.Privileged)
                    throw Failure(VerifierErrorCode.PointerLeak, pc, $"R{valueReg} leaks addr into packet", state);
                return RegisterState.Number(LoadedValue(size, false));
            default:
                throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, $"R{reg} invalid mem access '{TypeName(ptr)}'", state);
        }
    }

    // Bounds of [off + var, off + var + size) against [0, limit), with the kernel's wording for each way to fail.
    private void CheckRegion(int pc, AbstractState state, int reg, RegisterState ptr, int insnOff, int size, int limit, string what, string limitName)
    {
        Scalar var = ptr.Value;
        long off = (long)ptr.Off + insnOff;
        if (var.SMin < 0 && !var.IsConst)
            throw Failure(VerifierErrorCode.MapValueOutOfBounds, pc,
                $"R{reg} min value is negative, either use unsigned index or do a if (index >=0) check.", state);
        if (var.UMax >= (ulong)MaxVariableOffset)
            throw Failure(VerifierErrorCode.MapValueOutOfBounds, pc,
                $"R{reg} unbounded memory access, make sure to bounds check any such access", state);
        long low = off + (var.IsConst ? (long)var.ConstValue : (long)var.UMin);
        long high = off + (var.IsConst ? (long)var.ConstValue : (long)var.UMax);
        if (low < 0 || high + size > limit)
        {
            long reported = low < 0 ? low : high;
            throw Failure(ptr.Type == RegType.MapValue ? VerifierErrorCode.MapValueOutOfBounds : VerifierErrorCode.InvalidMemoryAccess, pc,
                $"invalid access to {what}, {limitName}={limit} off={reported} size={size}", state);
        }
    }

    private void PacketAccess(int pc, AbstractState state, int reg, RegisterState ptr, int insnOff, int size, bool write)
    {
        if (!ProgramTypes.HasDirectPacketAccess(_options.ProgramType))
            throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, $"R{reg} invalid mem access '{TypeName(ptr)}'", state);
        if (write && !ProgramTypes.CanWritePacket(_options.ProgramType))
            throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, "cannot write into packet", state);
        Scalar var = ptr.Value;
        if (var.SMin < 0 || var.UMax > MaxPacketOffset)
            throw Failure(VerifierErrorCode.PacketOutOfBounds, pc,
                $"R{reg} offset is outside of the packet", state);
        long off = (long)ptr.Off + insnOff;
        // The range counts bytes from this pointer's base (packet start plus its variable part).
        if (off < 0 || off + size > ptr.Range)
            throw Failure(VerifierErrorCode.PacketOutOfBounds, pc,
                $"invalid access to packet, off={off} size={size}, R{reg}(id={ptr.Id},off={ptr.Off},r={ptr.Range})", state);
    }

    private RegisterState StackAccess(int pc, AbstractState state, int reg, RegisterState ptr, int insnOff, int size, bool write, RegisterState? value)
    {
        if (!ptr.Value.IsConst)
            return VariableStackAccess(pc, state, reg, ptr, insnOff, size, write);
        long off = ptr.Off + (long)ptr.Value.ConstValue + insnOff;
        // Alignment is checked first, as the kernel's check_ptr_alignment runs before the bounds check.
        if (off % size != 0)
            throw Failure(VerifierErrorCode.MisalignedStackAccess, pc,
                $"misaligned stack access off {(long)ptr.Value.ConstValue}+{ptr.Off}+{insnOff} size {size}", state);
        if (off < -Frame.StackSize || off + size > 0)
            throw Failure(VerifierErrorCode.StackOutOfBounds, pc,
                $"invalid {(write ? "write to" : "read from")} stack R{reg} off={off} size={size}", state);
        Frame frame = state.Frames[ptr.FrameNo];
        int index = (int)(off + Frame.StackSize);
        int slot = index / 8;
        if (write)
        {
            RegisterState stored = value ?? RegisterState.UnknownScalar;
            if (size == 8)
            {
                // A full, aligned 8-byte store keeps the register's state: the spill/fill pair preserves pointers.
                for (int i = 0; i < 8; i++)
                    frame.Stack[index + i] = StackByte.Spill;
                frame.Spills[slot] = stored;
                return stored;
            }
            if (stored.IsPointer && !_options.Privileged)
                throw Failure(VerifierErrorCode.PointerLeak, pc, "attempt to corrupt spilled pointer on stack", state);
            if (frame.Stack[slot * 8] == StackByte.Spill)
            {
                // Overwriting part of a spill turns the rest of the slot into plain data.
                for (int i = 0; i < 8; i++)
                    frame.Stack[slot * 8 + i] = frame.Spills[slot].Type == RegType.Scalar && frame.Spills[slot].Value.IsConst && frame.Spills[slot].Value.ConstValue == 0
                        ? StackByte.Zero : StackByte.Misc;
                frame.Spills[slot] = RegisterState.NotInit;
            }
            bool zero = stored.Type == RegType.Scalar && stored.Value.IsConst && stored.Value.ConstValue == 0;
            for (int i = 0; i < size; i++)
                frame.Stack[index + i] = zero ? StackByte.Zero : StackByte.Misc;
            return stored;
        }

        if (frame.Stack[index] == StackByte.Spill)
        {
            RegisterState spilled = frame.Spills[slot];
            if (size == 8)
                return spilled;
            if (spilled.IsPointer)
                throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, $"invalid size of register fill", state);
            // A narrow read of a spilled constant reads its low bytes (little-endian, aligned read).
            if (spilled.Value.IsConst)
            {
                int shift = (index % 8) * 8;
                ulong bytes = (spilled.Value.ConstValue >> shift) & ((1UL << (size * 8)) - 1);
                return RegisterState.Number(Scalar.Const(bytes));
            }
            return RegisterState.Number(LoadedValue(size, false));
        }
        bool allZero = true;
        for (int i = 0; i < size; i++)
        {
            StackByte b = frame.Stack[index + i];
            if (b == StackByte.Invalid && !_options.Privileged)
                throw Failure(VerifierErrorCode.UninitializedStackRead, pc, $"invalid read from stack R{reg} off {off}+{i} size {size}", state);
            if (b == StackByte.Spill && frame.Spills[(index + i) / 8].IsPointer)
                throw Failure(VerifierErrorCode.InvalidMemoryAccess, pc, "invalid size of register fill", state);
            allZero &= b == StackByte.Zero;
        }
        return RegisterState.Number(allZero ? Scalar.Const(0UL) : LoadedValue(size, false));
    }

    // Privileged programs may address the stack with a bounded variable offset: every byte the access may touch must
    // be inside the frame; a write makes all of them plain data, a read yields an unknown number.
    private RegisterState VariableStackAccess(int pc, AbstractState state, int reg, RegisterState ptr, int insnOff, int size, bool write)
    {
        Scalar var = ptr.Value;
        long fixedOff = (long)ptr.Off + insnOff;
        if (!_options.Privileged)
            throw Failure(VerifierErrorCode.VariableStackAccess, pc,
                $"R{reg} variable stack access prohibited for !root, var_off={var.Bits} off={fixedOff}", state);
        if (var.SMin <= -MaxVariableOffset || var.SMax >= MaxVariableOffset)
            throw Failure(VerifierErrorCode.VariableStackAccess, pc,
                $"invalid unbounded variable-offset {(write ? "write to" : "read from")} stack R{reg}", state);
        long min = fixedOff + var.SMin, max = fixedOff + var.SMax;
        if (min < -Frame.StackSize || max + size > 0)
            throw Failure(VerifierErrorCode.StackOutOfBounds, pc,
                $"invalid variable-offset {(write ? "write to" : "read from")} stack R{reg} var_off={var.Bits} off={fixedOff} size={size}", state);
        Frame frame = state.Frames[ptr.FrameNo];
        int first = (int)(min + Frame.StackSize), end = (int)(max + size + Frame.StackSize);
        for (int i = first; i < end; i++)
        {
            int slot = i / 8;
            if (write)
            {
                if (frame.Stack[i] == StackByte.Spill)
                {
                    for (int j = 0; j < 8; j++)
                        frame.Stack[slot * 8 + j] = StackByte.Misc;
                    frame.Spills[slot] = RegisterState.NotInit;
                }
                frame.Stack[i] = StackByte.Misc;
            }
        }
        return RegisterState.Number(LoadedValue(size, false));
    }
}
