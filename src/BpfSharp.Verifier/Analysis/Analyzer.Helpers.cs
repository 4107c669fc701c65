using BpfSharp.Isa;
using BpfSharp.Verifier.Domains;

namespace BpfSharp.Verifier.Analysis;

internal sealed partial class Analyzer
{
    private void CallHelper(int pc, int id, AbstractState state)
    {
        if (HelperPrototypes.Find(id) is not { } proto)
            throw Failure(VerifierErrorCode.UnknownHelper, pc, $"invalid func unknown#{id}", state);
        if (proto.Scope != HelperScope.Any && (proto.Scope & ProgramTypes.HelperScopeOf(_options.ProgramType)) == 0)
            throw Failure(VerifierErrorCode.HelperNotAllowed, pc, $"program of this type cannot use helper bpf_{proto.Name}#{id}", state);

        RegisterState[] regs = state.Registers;
        int mapIndex = -1;
        int releasedId = 0;
        for (int i = 0; i < proto.Args.Length; i++)
        {
            int reg = i + 1;
            HelperArg kind = proto.Args[i];
            RegisterState arg = Read(state, pc, reg);
            switch (kind)
            {
                case HelperArg.Anything:
                    if (arg.IsPointer && !_options.Privileged)
                        throw Failure(VerifierErrorCode.PointerLeak, pc, $"R{reg} leaks addr into helper function", state);
                    break;
                case HelperArg.ConstMapPtr:
                    if (arg.Type != RegType.MapPtr)
                        throw ArgType(pc, state, reg, arg, "map_ptr");
                    mapIndex = arg.MapIndex;
                    break;
                case HelperArg.PtrToCtx:
                    if (arg.Type != RegType.Ctx || arg.Off != 0)
                        throw ArgType(pc, state, reg, arg, "ctx");
                    break;
                case HelperArg.PtrToMapKey:
                case HelperArg.PtrToMapValue:
                case HelperArg.PtrToUninitMapValue:
                {
                    if (mapIndex < 0)
                        throw Failure(VerifierErrorCode.InvalidHelperArgument, pc, $"invalid map_ptr to access map->{(kind == HelperArg.PtrToMapKey ? "key" : "value")}", state);
                    VerifierMap map = _options.Maps[mapIndex];
                    int size = kind == HelperArg.PtrToMapKey ? map.KeySize : map.ValueSize;
                    if (size == 0)
                        throw Failure(VerifierErrorCode.InvalidHelperArgument, pc, "invalid zero-sized read", state);
                    CheckHelperMemory(pc, state, reg, arg, size, size, initialized: kind != HelperArg.PtrToUninitMapValue);
                    break;
                }
                case HelperArg.PtrToReadableMem:
                case HelperArg.PtrToReadableMemOrNull:
                case HelperArg.PtrToUninitMem:
                case HelperArg.PtrToUninitMemOrNull:
                {
                    RegisterState sizeArg = Read(state, pc, reg + 1);
                    bool nullable = kind is HelperArg.PtrToReadableMemOrNull or HelperArg.PtrToUninitMemOrNull;
                    bool zeroAllowed = proto.Arg(i + 1) == HelperArg.ConstSizeOrZero;
                    (long min, long max) = SizeBounds(pc, state, reg + 1, sizeArg, zeroAllowed);
                    if (!(nullable && IsNullConstant(arg)))
                        CheckHelperMemory(pc, state, reg, arg, min, max,
                            initialized: kind is HelperArg.PtrToReadableMem or HelperArg.PtrToReadableMemOrNull);
                    i++; // the size argument is checked
                    break;
                }
                case HelperArg.ConstSize:
                case HelperArg.ConstSizeOrZero:
                    SizeBounds(pc, state, reg, arg, kind == HelperArg.ConstSizeOrZero);
                    break;
                case HelperArg.ConstAllocSizeOrZero:
                    if (arg.Type != RegType.Scalar || !arg.Value.IsConst)
                        throw Failure(VerifierErrorCode.InvalidHelperArgument, pc, $"R{reg} is not a known constant'", state);
                    break;
                case HelperArg.PtrToRingbufMemRelease:
                    if (arg.Type != RegType.RingbufMem || arg.Off != 0 || !arg.Value.IsConst)
                        throw ArgType(pc, state, reg, arg, "ringbuf_mem");
                    releasedId = arg.Id;
                    break;
                case HelperArg.PtrToStackOrNull:
                    if (!IsNullConstant(arg) && arg.Type != RegType.Stack)
                        throw ArgType(pc, state, reg, arg, "fp");
                    break;
                default: // callbacks (PtrToFunc) and constant strings need analyses this verifier does not have
                    throw Failure(VerifierErrorCode.Unsupported, pc, $"helper bpf_{proto.Name}#{id} argument R{reg} ({kind}) is not supported", state);
            }
        }

        if (mapIndex >= 0)
            CheckMapUse(pc, state, proto, _options.Maps[mapIndex]); // after the arguments, as the kernel does

        // bpf_ringbuf_reserve's size (R2, checked constant above) becomes the size of the returned memory.
        int allocSize = proto.Returns == HelperReturn.RingbufMemOrNull
            ? (int)Math.Min(regs[2].Value.ConstValue, int.MaxValue) : 0;
        for (int r = 1; r <= 5; r++)
            regs[r] = RegisterState.NotInit;
        if (releasedId != 0)
            Release(state, releasedId);
        if (HelperPrototypes.ChangesPacketData(id))
            ForgetPacketPointers(state);
        switch (proto.Returns)
        {
            case HelperReturn.Integer:
                regs[0] = RegisterState.UnknownScalar;
                break;
            case HelperReturn.Void:
                regs[0] = RegisterState.NotInit;
                break;
            case HelperReturn.MapValueOrNull:
                regs[0] = RegisterState.Pointer(RegType.MapValueOrNull, id: state.NextId++, mapIndex: mapIndex);
                break;
            case HelperReturn.RingbufMemOrNull:
            {
                int reservation = state.NextId++;
                regs[0] = RegisterState.Pointer(RegType.RingbufMemOrNull, id: reservation, range: allocSize);
                state.References.Add((reservation, pc));
                break;
            }
        }
    }

    private VerificationFailure ArgType(int pc, AbstractState state, int reg, RegisterState arg, string expected) =>
        Failure(VerifierErrorCode.InvalidHelperArgument, pc, $"R{reg} type={TypeName(arg)} expected={expected}", state);

    private void CheckMapUse(int pc, AbstractState state, HelperPrototype proto, VerifierMap map)
    {
        bool ok = proto.Id switch
        {
            1 or 2 or 3 or 195 => map.Kind is not (VerifierMapKind.RingBuf or VerifierMapKind.PerfEventArray or VerifierMapKind.ProgArray),
            12 => map.Kind == VerifierMapKind.ProgArray,
            25 => map.Kind == VerifierMapKind.PerfEventArray,
            51 => map.Kind is VerifierMapKind.DevMap or VerifierMapKind.CpuMap or VerifierMapKind.XskMap or VerifierMapKind.DevMapHash,
            130 or 131 or 134 => map.Kind == VerifierMapKind.RingBuf,
            87 or 88 or 89 => map.Kind is VerifierMapKind.Queue or VerifierMapKind.Stack,
            27 => map.Kind == VerifierMapKind.StackTrace,
            _ => true,
        };
        if (!ok && proto.Id == 12)
            throw Failure(VerifierErrorCode.InvalidHelperArgument, pc, "expected prog array map for tail call", state);
        if (!ok)
            throw Failure(VerifierErrorCode.InvalidHelperArgument, pc, $"cannot pass map_type {(int)map.Kind} into func {proto.Name}#{proto.Id}", state);
    }

    private (long Min, long Max) SizeBounds(int pc, AbstractState state, int reg, RegisterState size, bool zeroAllowed)
    {
        if (size.Type != RegType.Scalar)
            throw ArgType(pc, state, reg, size, "scalar");
        Scalar v = size.Value;
        if (v.SMin < 0)
            throw Failure(VerifierErrorCode.InvalidHelperArgument, pc,
                $"R{reg} min value is negative, either use unsigned or 'var &= const'", state);
        if (!zeroAllowed && v.UMin == 0)
            throw Failure(VerifierErrorCode.InvalidHelperArgument, pc, $"R{reg} invalid zero-sized read: u64=[{v.UMin},{v.UMax}]", state);
        if (v.UMax >= (ulong)MaxVariableOffset)
            throw Failure(VerifierErrorCode.InvalidHelperArgument, pc,
                $"R{reg} unbounded memory access, use 'var &= const' or 'if (var < const)'", state);
        return ((long)v.UMin, (long)v.UMax);
    }

    // Memory passed to a helper: [ptr, ptr + maxSize) must be accessible and, when the helper reads it, initialized.
    private void CheckHelperMemory(int pc, AbstractState state, int reg, RegisterState ptr, long minSize, long maxSize, bool initialized)
    {
        if (maxSize == 0)
            return;
        switch (ptr.Type)
        {
            case RegType.Stack:
            {
                if (!ptr.Value.IsConst)
                    throw Failure(VerifierErrorCode.VariableStackAccess, pc, $"R{reg} variable stack access var_off={ptr.Value.Bits} disallowed", state);
                long off = ptr.Off + (long)ptr.Value.ConstValue;
                if (off < -Frame.StackSize || off + maxSize > 0)
                    throw Failure(VerifierErrorCode.StackOutOfBounds, pc,
                        $"invalid {(initialized ? "read from" : "write to")} stack R{reg} off={off} size={maxSize}", state);
                Frame frame = state.Frames[ptr.FrameNo];
                int start = (int)(off + Frame.StackSize);
                for (int i = 0; i < maxSize; i++)
                {
                    if (initialized)
                    {
                        // Privileged programs may pass uninitialized stack (the kernel's allow_uninit_stack).
                        if (frame.Stack[start + i] == StackByte.Invalid && !_options.Privileged)
                            throw Failure(VerifierErrorCode.UninitializedStackRead, pc,
                                $"invalid read from stack R{reg} off {off}+{i} size {maxSize}", state);
                        if (frame.Stack[start + i] == StackByte.Spill && frame.Spills[(start + i) / 8].IsPointer && !_options.Privileged)
                            throw Failure(VerifierErrorCode.PointerLeak, pc, $"R{reg} leaks addr into helper function", state);
                    }
                    else
                    {
                        int slot = (start + i) / 8;
                        if (frame.Stack[start + i] == StackByte.Spill)
                        {
                            for (int j = 0; j < 8; j++)
                                frame.Stack[slot * 8 + j] = StackByte.Misc;
                            frame.Spills[slot] = RegisterState.NotInit;
                        }
                        frame.Stack[start + i] = StackByte.Misc;
                    }
                }
                return;
            }
            case RegType.MapValue:
                CheckRegion(pc, state, reg, ptr, 0, (int)maxSize, _options.Maps[ptr.MapIndex].ValueSize, "map value", "value_size");
                return;
            case RegType.RingbufMem:
                CheckRegion(pc, state, reg, ptr, 0, (int)maxSize, ptr.Range, "memory", "mem_size");
                return;
            case RegType.Packet or RegType.PacketMeta:
                PacketAccess(pc, state, reg, ptr, 0, (int)maxSize, write: !initialized);
                return;
            default:
                throw ArgType(pc, state, reg, ptr, "fp, pkt, pkt_meta, map_value, mem");
        }
    }

    private static bool IsNullConstant(RegisterState reg) => reg.Type == RegType.Scalar && reg.Value.IsConst && reg.Value.ConstValue == 0;

    // After a helper that may move packet data, every packet pointer is stale: the kernel turns them into unknown
    // scalars, so any later dereference is rejected until the program reloads data/data_end from the context.
    private static void ForgetPacketPointers(AbstractState state)
    {
        foreach (Frame f in state.Frames)
        {
            for (int r = 0; r < f.Registers.Length; r++)
            {
                if (f.Registers[r].Type is RegType.Packet or RegType.PacketEnd or RegType.PacketMeta)
                    f.Registers[r] = RegisterState.UnknownScalar;
            }
            for (int s = 0; s < f.Spills.Length; s++)
            {
                if (f.Stack[s * 8] == StackByte.Spill && f.Spills[s].Type is RegType.Packet or RegType.PacketEnd or RegType.PacketMeta)
                    f.Spills[s] = RegisterState.UnknownScalar;
            }
        }
    }

    private static void Release(AbstractState state, int id)
    {
        state.References.RemoveAll(reference => reference.Id == id);
        foreach (Frame f in state.Frames)
        {
            for (int r = 0; r < f.Registers.Length; r++)
            {
                if (f.Registers[r].Type == RegType.RingbufMem && f.Registers[r].Id == id)
                    f.Registers[r] = RegisterState.NotInit;
            }
            for (int s = 0; s < f.Spills.Length; s++)
            {
                if (f.Stack[s * 8] == StackByte.Spill && f.Spills[s].Type == RegType.RingbufMem && f.Spills[s].Id == id)
                {
                    for (int j = 0; j < 8; j++)
                        f.Stack[s * 8 + j] = StackByte.Misc;
                    f.Spills[s] = RegisterState.NotInit;
                }
            }
        }
    }
}
