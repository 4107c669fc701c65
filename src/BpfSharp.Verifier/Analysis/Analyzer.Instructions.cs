using BpfSharp.Isa;
using BpfSharp.Verifier.Domains;

namespace BpfSharp.Verifier.Analysis;

internal sealed partial class Analyzer
{
    /// <summary>Checks and executes the instruction at <paramref name="pc"/>; returns the next pc, or -1 when the path ends.</summary>
    private int Step(int pc, AbstractState state, Stack<Work> work, PathNode? ancestors)
    {
        Instruction insn = _program[pc];
        switch (insn.Info.Kind)
        {
            case InstructionKind.Alu:
                ExecuteAlu(pc, insn, state);
                return pc + 1;
            case InstructionKind.Endian:
                ExecuteEndian(pc, insn, state);
                return pc + 1;
            case InstructionKind.Jump:
                return insn.JumpTarget(pc);
            case InstructionKind.CondJump:
                return ExecuteBranch(pc, insn, state, work, ancestors);
            case InstructionKind.Load:
                ExecuteLoad(pc, insn, state);
                return pc + 1;
            case InstructionKind.StoreImm:
            case InstructionKind.StoreReg:
                ExecuteStore(pc, insn, state);
                return pc + 1;
            case InstructionKind.Atomic:
                ExecuteAtomic(pc, insn, state);
                return pc + 1;
            case InstructionKind.LoadImm64:
                ExecuteLoadImm64(pc, insn, state);
                return pc + 2;
            case InstructionKind.LoadPacketAbs:
            case InstructionKind.LoadPacketInd:
                ExecuteLegacyPacketLoad(pc, insn, state);
                return pc + 1;
            case InstructionKind.Call:
                return ExecuteCall(pc, insn, state);
            case InstructionKind.Exit:
                return ExecuteExit(pc, state);
            default:
                throw Failure(VerifierErrorCode.Unsupported, pc, $"unsupported instruction {insn.Info.Mnemonic}", state);
        }
    }

    private RegisterState Read(AbstractState state, int pc, int reg)
    {
        RegisterState value = state.Registers[reg];
        if (value.Type == RegType.NotInit)
            throw Failure(VerifierErrorCode.UninitializedRegister, pc, $"R{reg} !read_ok", state);
        return value;
    }

    private void Write(AbstractState state, int pc, int reg, RegisterState value)
    {
        if (reg == 10)
            throw Failure(VerifierErrorCode.FramePointerReadOnly, pc, "frame pointer is read only", state);
        state.Registers[reg] = value;
    }

    private static string TypeName(RegisterState r) => r.Type switch
    {
        RegType.NotInit => "?",
        RegType.Scalar => "scalar",
        RegType.Ctx => "ctx",
        RegType.Stack => "fp",
        RegType.MapPtr => "map_ptr",
        RegType.MapValue => "map_value",
        RegType.MapValueOrNull => "map_value_or_null",
        RegType.Packet => "pkt",
        RegType.PacketEnd => "pkt_end",
        RegType.PacketMeta => "pkt_meta",
        RegType.RingbufMem => "ringbuf_mem",
        _ => "ringbuf_mem_or_null",
    };

    private static Scalar Imm(Instruction insn) => Scalar.Const(insn.Imm);

    // ---- ALU ----------------------------------------------------------------------------------------------------

    private static ScalarBinaryOp ToBinary(AluOp op) => op switch
    {
        AluOp.Add => ScalarBinaryOp.Add,
        AluOp.Sub => ScalarBinaryOp.Sub,
        AluOp.Mul => ScalarBinaryOp.Mul,
        AluOp.Div => ScalarBinaryOp.Div,
        AluOp.SDiv => ScalarBinaryOp.SDiv,
        AluOp.Mod => ScalarBinaryOp.Mod,
        AluOp.SMod => ScalarBinaryOp.SMod,
        AluOp.Or => ScalarBinaryOp.Or,
        AluOp.And => ScalarBinaryOp.And,
        AluOp.Xor => ScalarBinaryOp.Xor,
        AluOp.Lsh => ScalarBinaryOp.Lsh,
        AluOp.Rsh => ScalarBinaryOp.Rsh,
        _ => ScalarBinaryOp.Arsh,
    };

    private static string OperatorText(AluOp op) => op switch
    {
        AluOp.Add => "+=", AluOp.Sub => "-=", AluOp.Mul => "*=", AluOp.Div or AluOp.SDiv => "/=", AluOp.Mod or AluOp.SMod => "%=",
        AluOp.Or => "|=", AluOp.And => "&=", AluOp.Xor => "^=", AluOp.Lsh => "<<=", AluOp.Rsh => ">>=", AluOp.Arsh => "s>>=",
        _ => op.ToString().ToLowerInvariant(),
    };

    private void ExecuteAlu(int pc, Instruction insn, AbstractState state)
    {
        OpInfo info = insn.Info;
        AluWidth width = info.Is64 ? AluWidth.Bits64 : AluWidth.Bits32;
        AluOp op = info.Alu;
        int dst = insn.Dst;

        if (op is AluOp.Mov or AluOp.MovSx8 or AluOp.MovSx16 or AluOp.MovSx32)
        {
            RegisterState src = info.RegisterSource ? Read(state, pc, insn.Src) : RegisterState.Number(Imm(insn));
            if (op == AluOp.Mov && width == AluWidth.Bits64)
            {
                if (src.Type == RegType.Scalar && !src.Value.IsConst && info.RegisterSource)
                {
                    // Copies share an id so that a later comparison of one refines the other (find_equal_scalars).
                    if (src.Id == 0)
                    {
                        src = src with { Id = state.NextId++ };
                        state.Registers[insn.Src] = src;
                    }
                }
                Write(state, pc, dst, src);
                return;
            }
            if (src.IsPointer)
            {
                if (!_options.Privileged)
                    throw Failure(VerifierErrorCode.PointerLeak, pc, $"R{insn.Src} partial copy of pointer", state);
                Write(state, pc, dst, RegisterState.UnknownScalar);
                return;
            }
            ScalarUnaryOp unary = op switch
            {
                AluOp.MovSx8 => ScalarUnaryOp.MovSx8,
                AluOp.MovSx16 => ScalarUnaryOp.MovSx16,
                AluOp.MovSx32 => ScalarUnaryOp.MovSx32,
                _ => ScalarUnaryOp.Mov,
            };
            Write(state, pc, dst, RegisterState.Number(ScalarAlu.Unary(unary, src.Value, width)));
            return;
        }

        RegisterState left = Read(state, pc, dst);
        if (op == AluOp.Neg)
        {
            if (left.IsPointer && !_options.Privileged)
                throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{dst} pointer arithmetic prohibited", state);
            Write(state, pc, dst, left.IsPointer ? RegisterState.UnknownScalar
                : RegisterState.Number(ScalarAlu.Unary(ScalarUnaryOp.Neg, left.Value, width)));
            return;
        }

        RegisterState right;
        if (info.RegisterSource)
        {
            right = Read(state, pc, insn.Src);
        }
        else
        {
            if (op is AluOp.Div or AluOp.Mod or AluOp.SDiv or AluOp.SMod && insn.Imm == 0)
                throw Failure(VerifierErrorCode.InvalidImmediate, pc, "div by zero", state);
            if (op is AluOp.Lsh or AluOp.Rsh or AluOp.Arsh && (insn.Imm < 0 || insn.Imm >= (int)width))
                throw Failure(VerifierErrorCode.InvalidImmediate, pc, $"invalid shift {insn.Imm}", state);
            right = RegisterState.Number(Imm(insn));
        }

        if (left.IsPointer || right.IsPointer)
        {
            Write(state, pc, dst, PointerArithmetic(pc, state, insn, width, op, left, right));
            return;
        }
        Write(state, pc, dst, RegisterState.Number(ScalarAlu.Binary(ToBinary(op), left.Value, right.Value, width)));
    }

    private RegisterState PointerArithmetic(int pc, AbstractState state, Instruction insn, AluWidth width, AluOp op, RegisterState left, RegisterState right)
    {
        int dst = insn.Dst;
        // The kernel lets privileged programs subtract any two pointers (at any width): the result is an unknown number.
        if (left.IsPointer && right.IsPointer && op == AluOp.Sub && _options.Privileged)
            return RegisterState.UnknownScalar;
        if (width == AluWidth.Bits32)
        {
            if (!_options.Privileged || left.IsPointer && op is AluOp.Add or AluOp.Sub)
                throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{dst} 32-bit pointer arithmetic prohibited", state);
            return RegisterState.UnknownScalar;
        }
        if (op is AluOp.And or AluOp.Or or AluOp.Xor)
            throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{dst} bitwise operator {OperatorText(op)} on pointer prohibited", state);
        if (op is not (AluOp.Add or AluOp.Sub))
            throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{dst} pointer arithmetic with {OperatorText(op)} operator prohibited", state);

        if (left.IsPointer && right.IsPointer)
        {
            if (op == AluOp.Sub && left.Type == right.Type && _options.Privileged)
                return RegisterState.UnknownScalar; // distance between two pointers of one kind
            throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{dst} pointer {OperatorText(op)} pointer prohibited", state);
        }
        if (right.IsPointer && op == AluOp.Sub)
            throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{dst} tried to subtract pointer from scalar", state);

        RegisterState ptr = left.IsPointer ? left : right;
        Scalar offset = left.IsPointer ? right.Value : left.Value;
        int ptrReg = left.IsPointer ? dst : insn.Src;
        switch (ptr.Type)
        {
            case RegType.MapValueOrNull or RegType.RingbufMemOrNull:
                throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc,
                    $"R{ptrReg} pointer arithmetic on {TypeName(ptr)} prohibited, null-check it first", state);
            case RegType.MapPtr or RegType.PacketEnd:
                throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{ptrReg} pointer arithmetic on {TypeName(ptr)} prohibited", state);
        }

        if (offset.IsConst)
        {
            long delta = (long)offset.ConstValue;
            long newOff = op == AluOp.Add ? ptr.Off + delta : ptr.Off - delta;
            if (newOff is < -MaxVariableOffset or > MaxVariableOffset)
                throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"value {delta} makes {TypeName(ptr)} pointer be out of bounds", state);
            return ptr with { Off = (int)newOff };
        }
        if (ptr.Type == RegType.Ctx)
            throw Failure(VerifierErrorCode.ModifiedContextPointer, pc, $"R{ptrReg} variable ctx access var_off={offset.Bits} disallowed", state);
        if (offset.SMin <= -MaxVariableOffset || offset.SMax >= MaxVariableOffset)
        {
            if (!_options.Privileged || ptr.Type != RegType.Stack && !ptr.IsPacket && ptr.Type != RegType.MapValue)
                throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{ptrReg} unbounded pointer arithmetic on {TypeName(ptr)}", state);
        }
        Scalar varOff = op == AluOp.Add
            ? ScalarAlu.Add(ptr.Value, offset)
            : ScalarAlu.Sub(ptr.Value, offset);
        // A packet pointer with a new variable part no longer shares its range with the others.
        return ptr.IsPacket ? ptr with { Value = varOff, Id = state.NextId++, Range = 0 } : ptr with { Value = varOff };
    }

    private void ExecuteEndian(int pc, Instruction insn, AbstractState state)
    {
        RegisterState value = Read(state, pc, insn.Dst);
        if (value.IsPointer)
        {
            if (!_options.Privileged)
                throw Failure(VerifierErrorCode.PointerArithmeticProhibited, pc, $"R{insn.Dst} pointer arithmetic prohibited", state);
            Write(state, pc, insn.Dst, RegisterState.UnknownScalar);
            return;
        }
        ScalarUnaryOp op = insn.Op switch
        {
            Op.Le16 => ScalarUnaryOp.ToLe16,
            Op.Le32 => ScalarUnaryOp.ToLe32,
            Op.Le64 => ScalarUnaryOp.ToLe64,
            Op.Be16 => ScalarUnaryOp.ToBe16,
            Op.Be32 => ScalarUnaryOp.ToBe32,
            Op.Be64 => ScalarUnaryOp.ToBe64,
            Op.Bswap16 => ScalarUnaryOp.Bswap16,
            Op.Bswap32 => ScalarUnaryOp.Bswap32,
            _ => ScalarUnaryOp.Bswap64,
        };
        Write(state, pc, insn.Dst, RegisterState.Number(ScalarAlu.Unary(op, value.Value, AluWidth.Bits64)));
    }

    // ---- lddw ---------------------------------------------------------------------------------------------------

    private void ExecuteLoadImm64(int pc, Instruction insn, AbstractState state)
    {
        switch (insn.Info.LoadSource)
        {
            case LoadImm64Source.Imm64:
                Write(state, pc, insn.Dst, RegisterState.Number(Scalar.Const(insn.Imm)));
                return;
            case LoadImm64Source.MapFd or LoadImm64Source.MapIndex:
            {
                int map = insn.Imm32;
                if (map < 0 || map >= _options.Maps.Count)
                    throw Failure(VerifierErrorCode.InvalidMapReference, pc, $"fd {map} is not pointing to valid bpf_map", state);
                Write(state, pc, insn.Dst, RegisterState.Pointer(RegType.MapPtr, mapIndex: map));
                return;
            }
            case LoadImm64Source.MapValue or LoadImm64Source.MapIndexValue:
            {
                int map = insn.Imm32;
                int off = (int)(insn.Imm >> 32);
                if (map < 0 || map >= _options.Maps.Count)
                    throw Failure(VerifierErrorCode.InvalidMapReference, pc, $"fd {map} is not pointing to valid bpf_map", state);
                if (off < 0 || off >= _options.Maps[map].ValueSize)
                    throw Failure(VerifierErrorCode.InvalidMapReference, pc,
                        $"invalid access to map value pointer, value_size={_options.Maps[map].ValueSize} off={off}", state);
                Write(state, pc, insn.Dst, RegisterState.Pointer(RegType.MapValue, off: off, mapIndex: map));
                return;
            }
            default:
                throw Failure(VerifierErrorCode.Unsupported, pc, $"unsupported lddw source {insn.Info.LoadSource}", state);
        }
    }

    // ---- exit and calls -----------------------------------------------------------------------------------------

    private int ExecuteExit(int pc, AbstractState state)
    {
        if (_options.CodeFragment && state.Frames.Count == 1)
            return -1;
        RegisterState r0 = Read(state, pc, 0);
        if (state.Frames.Count > 1)
        {
            Frame callee = state.Current;
            if (r0.Type == RegType.Stack && r0.FrameNo == callee.Depth)
                throw Failure(VerifierErrorCode.PointerLeak, pc, "cannot return stack pointer to the caller", state);
            state.Frames.RemoveAt(state.Frames.Count - 1);
            RegisterState[] regs = state.Registers;
            regs[0] = r0;
            for (int r = 1; r <= 5; r++)
                regs[r] = RegisterState.NotInit;
            return callee.ReturnPc;
        }
        if (r0.IsPointer)
        {
            if (!_options.Privileged)
                throw Failure(VerifierErrorCode.PointerLeak, pc, "R0 leaks addr as return value", state);
            if (ProgramTypes.ReturnRange(_options.ProgramType) is not null)
                throw Failure(VerifierErrorCode.InvalidReturnValue, pc, $"At program exit the register R0 is not a known value ({TypeName(r0)})", state);
        }
        else if (ProgramTypes.ReturnRange(_options.ProgramType) is var (min, max) &&
                 (r0.Value.SMin < min || r0.Value.SMax > max))
        {
            throw Failure(VerifierErrorCode.InvalidReturnValue, pc,
                $"At program exit the register R0 has {DescribeRange(r0.Value)} should have been in [{min}, {max}]", state);
        }
        if (state.References.Count > 0)
        {
            // The state dump lists the leaked reference (refs=id@insn).
            throw Failure(VerifierErrorCode.UnreleasedReference, pc, "BPF_EXIT instruction in main prog would lead to reference leak", state);
        }
        return -1;
    }

    private static string DescribeRange(Scalar s) => s.IsConst ? $"smin={(long)s.ConstValue} smax={(long)s.ConstValue}" : $"smin={s.SMin} smax={s.SMax}";

    private int ExecuteCall(int pc, Instruction insn, AbstractState state)
    {
        switch (insn.Op)
        {
            case Op.Call:
                CallHelper(pc, insn.Imm32, state);
                return pc + 1;
            case Op.CallLocal:
            {
                if (state.Frames.Count >= MaxCallDepth)
                    throw Failure(VerifierErrorCode.CallStackTooDeep, pc, $"the call stack of {state.Frames.Count + 1} frames is too deep !", state);
                Frame caller = state.Current;
                var callee = new Frame { ReturnPc = pc + 1, Depth = state.Frames.Count };
                for (int r = 0; r < 11; r++)
                    callee.Registers[r] = r is >= 1 and <= 5 ? caller.Registers[r] : RegisterState.NotInit;
                callee.Registers[10] = RegisterState.Pointer(RegType.Stack) with { FrameNo = callee.Depth };
                for (int i = 0; i < callee.Spills.Length; i++)
                    callee.Spills[i] = RegisterState.NotInit;
                state.Frames.Add(callee);
                return insn.JumpTarget(pc);
            }
            default:
                throw Failure(VerifierErrorCode.Unsupported, pc, $"unsupported call kind {insn.Info.Mnemonic}", state);
        }
    }
}
