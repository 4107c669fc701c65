using System.Buffers.Binary;
using System.Reflection;
using System.Reflection.Emit;
using BpfSharp.Isa;
using BpfSharp.Runtime;

namespace BpfSharp.Jit;

/// <summary>The compiled form of a whole program: <c>r0 = entry(closure, context, r1, r2)</c>.</summary>
internal delegate ulong JitEntry(RunContext? context, ulong r1, ulong r2, ulong r3, ulong r4, ulong r5, int startPc, ulong frameTop, int baseDepth);

/// <summary>
/// Translates a whole program into one <see cref="DynamicMethod"/>. eBPF registers are IL locals (RyuJIT keeps them
/// in machine registers), every jump target is a label, bpf-to-bpf calls jump to the callee's label after saving
/// r6-r10 and a return-site index in a small frame stack, and exit returns through a switch over the return sites.
/// <para>
/// Instruction counting is per basic block. Blocks are cut so that the only instruction of a block that can fault
/// or touch memory is its first one: when the remaining budget does not cover a whole block, the cold path runs that
/// first instruction (if the budget allows it) and then faults at the exact instruction the interpreter would; the
/// skipped instructions are pure register arithmetic, whose results a fault discards anyway.
/// </para>
/// </summary>
internal sealed class IlCompiler
{
    private const int FrameSlots = 6;           // r6, r7, r8, r9, r10, return-site index
    private const int FrameBytes = FrameSlots * 8;

    private static readonly MethodInfo ResolveSite = typeof(JitRuntime).GetMethod(nameof(JitRuntime.ResolveSite))!;
    private static readonly MethodInfo BudgetExhaustedAt = typeof(JitRuntime).GetMethod(nameof(JitRuntime.BudgetExhaustedAt))!;
    private static readonly MethodInfo BudgetExhausted = typeof(JitRuntime).GetMethod(nameof(JitRuntime.BudgetExhausted))!;
    private static readonly MethodInfo FaultMethod = typeof(JitRuntime).GetMethod(nameof(JitRuntime.Fault))!;
    private static readonly MethodInfo DepthFault = typeof(JitRuntime).GetMethod(nameof(JitRuntime.DepthFault))!;
    private static readonly MethodInfo CallIndirect = typeof(JitRuntime).GetMethod(nameof(JitRuntime.CallIndirect))!;
    private static readonly MethodInfo LoadPacket = typeof(JitRuntime).GetMethod(nameof(JitRuntime.LoadPacket))!;
    private static readonly FieldInfo HotStartField = typeof(HotRegion).GetField(nameof(HotRegion.Start))!;
    private static readonly FieldInfo HotLengthField = typeof(HotRegion).GetField(nameof(HotRegion.Length))!;
    private static readonly FieldInfo ClosureTable = typeof(JitClosure).GetField(nameof(JitClosure.Table))!;
    private static readonly FieldInfo ClosureHelpers = typeof(JitClosure).GetField(nameof(JitClosure.Helpers))!;
    private static readonly FieldInfo ClosureTargets = typeof(JitClosure).GetField(nameof(JitClosure.HelperTargets))!;
    private static readonly MethodInfo GetStackTop = typeof(RunContext).GetProperty(nameof(RunContext.StackTop))!.GetMethod!;
    private static readonly MethodInfo GetBudget = typeof(RunContext).GetProperty(nameof(RunContext.InstructionBudget))!.GetMethod!;
    private static readonly MethodInfo SetExecuted = typeof(RunContext).GetProperty(nameof(RunContext.InstructionsExecuted))!.SetMethod!;
    private static readonly MethodInfo GetRemaining = typeof(RunContext).GetProperty(nameof(RunContext.RemainingBudget))!.GetMethod!;
    private static readonly MethodInfo SetRemaining = typeof(RunContext).GetProperty(nameof(RunContext.RemainingBudget))!.SetMethod!;
    private static readonly MethodInfo SetHelperPc = typeof(RunContext).GetProperty(nameof(RunContext.HelperPc))!.SetMethod!;
    private static readonly MethodInfo SetCallbackFrameTop = typeof(RunContext).GetProperty(nameof(RunContext.CallbackFrameTop))!.SetMethod!;
    private static readonly MethodInfo SetCallbackDepth = typeof(RunContext).GetProperty(nameof(RunContext.CallbackDepth))!.SetMethod!;
    private static readonly MethodInfo GetPendingTailCall = typeof(RunContext).GetProperty(nameof(RunContext.PendingTailCall))!.GetMethod!;
    private static readonly MethodInfo GetMaxDepth = typeof(RunContext).GetProperty(nameof(RunContext.MaxCallDepth))!.GetMethod!;
    private static readonly MethodInfo HelperInvoke = typeof(HelperFunction).GetMethod("Invoke")!;
    private static readonly MethodInfo Swap16 = typeof(BinaryPrimitives).GetMethod(nameof(BinaryPrimitives.ReverseEndianness), [typeof(ushort)])!;
    private static readonly MethodInfo Swap32 = typeof(BinaryPrimitives).GetMethod(nameof(BinaryPrimitives.ReverseEndianness), [typeof(uint)])!;
    private static readonly MethodInfo Swap64 = typeof(BinaryPrimitives).GetMethod(nameof(BinaryPrimitives.ReverseEndianness), [typeof(ulong)])!;

    private readonly Instruction[] _code;
    private readonly int _count;
    private readonly bool _checked;
    private readonly bool _counting;
    private readonly HelperTable _table;
    private readonly bool _hasLocalCalls;
    private IReadOnlyList<int> _functionStarts = [];
    private readonly List<HelperFunction> _helperDelegates = [];
    private readonly List<object?> _helperTargets = [];

    // Block structure (indexed by pc; the sentinel slot _count is the "fell off the end" block).
    private readonly bool[] _leader;
    private readonly int[] _blockLength;   // instructions in the block starting here (leaders only)
    private readonly int[] _after;         // instructions after this one in its block

    private ILGenerator _il = null!;
    private Label[] _labels = null!;
    private LocalBuilder[] _r = null!;
    private LocalBuilder _budget = null!, _start = null!, _stackLow = null!, _stackLen = null!, _stackTop = null!;
    private LocalBuilder _hotReadStart = null!, _hotReadLen = null!, _hotWriteStart = null!, _hotWriteLen = null!;
    private LocalBuilder _addr = null!, _hot = null!, _tmp = null!, _divA = null!, _divB = null!;
    private LocalBuilder _depth = null!, _maxDepth = null!, _frames = null!, _frame = null!;
    private readonly List<Action> _deferred = [];
    private readonly List<MemorySite> _sites = [];
    private readonly List<Label> _siteContinuations = [];
    private Label _slowRead, _slowWrite, _budgetFault;
    private LocalBuilder _site = null!, _coldBlock = null!;
    private readonly List<int> _returnSites = [];
    private Label _returnDispatch;

    public IlCompiler(BpfProgram program, HelperTable table, JitOptions options)
    {
        _count = program.Count;
        _code = new Instruction[_count + 1];
        program.Instructions.CopyTo(_code);
        _table = table;
        _checked = options.Mode == JitMode.Checked;
        _counting = options.CountInstructions;
        _leader = new bool[_count + 1];
        _blockLength = new int[_count + 1];
        _after = new int[_count + 1];
        foreach (var ins in program.Instructions)
            if (ins.Op == Op.CallLocal) _hasLocalCalls = true;
        FindBlocks(program);
    }

    public int IlSize { get; private set; }

    public Instruction[] Code => _code;

    // ------------------------------------------------------------------ analysis

    private static bool CanFaultOrTouchMemory(in Instruction ins) => ins.Info.Kind switch
    {
        InstructionKind.Load or InstructionKind.StoreImm or InstructionKind.StoreReg or InstructionKind.Atomic
            or InstructionKind.LoadPacketAbs or InstructionKind.LoadPacketInd or InstructionKind.Call => true,
        InstructionKind.LoadImm64 => ins.Op != Op.Lddw && ins.Op != Op.LddwFunc,
        _ => false,
    };

    private static bool EndsBlock(in Instruction ins) => ins.Info.Kind switch
    {
        InstructionKind.Jump or InstructionKind.CondJump or InstructionKind.Exit => true,
        InstructionKind.Call => ins.Op is Op.CallLocal or Op.CallKfunc,
        InstructionKind.LoadImm64 => ins.Op != Op.Lddw && ins.Op != Op.LddwFunc,
        _ => false,
    };

    private void FindBlocks(BpfProgram program)
    {
        _leader[0] = true;
        _leader[_count] = true;
        _functionStarts = program.FunctionStarts;
        foreach (int f in program.FunctionStarts) _leader[f] = true;
        for (int pc = 0; pc < _count; pc += _code[pc].Width)
        {
            var ins = _code[pc];
            if (CanFaultOrTouchMemory(ins)) _leader[pc] = true;
            if (ins.HasTarget) _leader[ins.JumpTarget(pc)] = true;
            if (EndsBlock(ins)) _leader[pc + ins.Width] = true;
        }
        int blockStart = 0;
        for (int pc = 0; pc < _count; pc += _code[pc].Width)
        {
            if (_leader[pc]) blockStart = pc;
            _blockLength[blockStart]++;
        }
        _blockLength[_count] = 1;
        // Instructions after each one within its block, walking backwards.
        int remaining = 0;
        for (int pc = _count - 1; pc >= 0; pc--)
        {
            if (_code[pc].Op == Op.LddwHigh) continue;
            _after[pc] = remaining;
            remaining = _leader[pc] ? 0 : remaining + 1;
        }
    }

    // ------------------------------------------------------------------ driver

    public (JitEntry Entry, JitClosure Closure) Compile(string name)
    {
        // Resolve helpers first so an unknown id fails before any IL is generated.
        var helperSite = new int[_count];
        for (int pc = 0; pc < _count; pc++)
        {
            if (_code[pc].Op != Op.Call) continue;
            var helper = _table.Find(_code[pc].Imm) ?? throw Interpreter.UnknownHelper(_code[pc].Imm, pc);
            helperSite[pc] = _helperDelegates.Count;
            _helperDelegates.Add(helper.Function);
            _helperTargets.Add(helper.Function.Target);
        }
        _helperSite = helperSite;

        var method = new DynamicMethod("bpf_" + Sanitize(name), typeof(ulong),
            [typeof(JitClosure), typeof(RunContext), typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong), typeof(ulong), typeof(int), typeof(ulong), typeof(int)], typeof(IlCompiler).Module, skipVisibility: true)
        {
            InitLocals = false,
        };
        _il = method.GetILGenerator(Math.Max(256, _count * 24));
        EmitBody();
        IlSize = _il.ILOffset;
        var closure = new JitClosure(_code, _table, [.. _helperDelegates], [.. _helperTargets], [.. _sites], _blockLength, _counting);
        var entry = (JitEntry)method.CreateDelegate(typeof(JitEntry), closure);
        return (entry, closure);
    }

    private int[] _helperSite = [];

    private const int ArgStartPc = 7, ArgFrameTop = 8, ArgBaseDepth = 9;

    private static string Sanitize(string name)
    {
        var chars = name.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (!char.IsAsciiLetterOrDigit(chars[i])) chars[i] = '_';
        return new string(chars);
    }

    private void EmitBody()
    {
        var il = _il;
        _r = new LocalBuilder[11];
        for (int i = 0; i < 11; i++) _r[i] = il.DeclareLocal(typeof(ulong));
        _budget = il.DeclareLocal(typeof(long));
        _start = il.DeclareLocal(typeof(long));
        _stackLow = il.DeclareLocal(typeof(ulong));
        _stackLen = il.DeclareLocal(typeof(ulong));
        _stackTop = il.DeclareLocal(typeof(ulong));
        _hotReadStart = il.DeclareLocal(typeof(ulong));
        _hotReadLen = il.DeclareLocal(typeof(ulong));
        _hotWriteStart = il.DeclareLocal(typeof(ulong));
        _hotWriteLen = il.DeclareLocal(typeof(ulong));
        _addr = il.DeclareLocal(typeof(ulong));
        _hot = il.DeclareLocal(typeof(HotRegion));
        _tmp = il.DeclareLocal(typeof(long));
        _divA = il.DeclareLocal(typeof(ulong));
        _divB = il.DeclareLocal(typeof(ulong));
        _site = il.DeclareLocal(typeof(int));
        _coldBlock = il.DeclareLocal(typeof(int));
        _slowRead = il.DefineLabel();
        _slowWrite = il.DefineLabel();
        _budgetFault = il.DefineLabel();
        _labels = new Label[_count + 1];
        for (int i = 0; i <= _count; i++) _labels[i] = il.DefineLabel();

        // A null context is the dry call that makes RyuJIT compile the method eagerly.
        var begin = il.DefineLabel();
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Brtrue, begin);
        I8(0L);
        il.Emit(OpCodes.Ret);
        il.MarkLabel(begin);

        // Arguments: closure, context, r1-r5, start pc (a callback's function), frame top (r10), base call depth.
        for (int i = 0; i < 11; i++)
        {
            if (i is >= 1 and <= 5 or 10) continue;
            I8(0L);
            il.Emit(OpCodes.Stloc, _r[i]);
        }
        for (int i = 1; i <= 5; i++)
        {
            il.Emit(OpCodes.Ldarg_S, (byte)(i + 1));
            il.Emit(OpCodes.Stloc, _r[i]);
        }
        il.Emit(OpCodes.Ldarg_S, (byte)ArgFrameTop);
        il.Emit(OpCodes.Stloc, _r[10]);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Call, GetStackTop);
        il.Emit(OpCodes.Stloc, _stackTop);
        if (_counting)
        {
            // start - budget is the whole run's count so far: callbacks share the budget through the context.
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Call, GetBudget);
            il.Emit(OpCodes.Stloc, _start);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Call, GetRemaining);
            il.Emit(OpCodes.Stloc, _budget);
        }
        else
        {
            il.Emit(OpCodes.Ldarg_1);
            I8(0L);
            il.Emit(OpCodes.Call, SetExecuted);
            I8(0L);
            il.Emit(OpCodes.Dup);
            il.Emit(OpCodes.Stloc, _start);
            il.Emit(OpCodes.Stloc, _budget);
        }
        if (_checked) EmitFrameChanged();
        if (_hasLocalCalls)
        {
            _depth = il.DeclareLocal(typeof(int));
            _maxDepth = il.DeclareLocal(typeof(int));
            _frames = il.DeclareLocal(typeof(ulong));
            _frame = il.DeclareLocal(typeof(ulong));
            _returnDispatch = il.DefineLabel();
            il.Emit(OpCodes.Ldarg_S, (byte)ArgBaseDepth);
            il.Emit(OpCodes.Stloc, _depth);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Call, GetMaxDepth);
            il.Emit(OpCodes.Dup);
            il.Emit(OpCodes.Stloc, _maxDepth);
            I4(FrameBytes);
            il.Emit(OpCodes.Mul);
            il.Emit(OpCodes.Conv_U);
            il.Emit(OpCodes.Localloc);
            il.Emit(OpCodes.Conv_U8);
            il.Emit(OpCodes.Stloc, _frames);
        }

        // A callback starts at its function; the host validated that startPc is one.
        foreach (int f in _functionStarts)
        {
            if (f == 0) continue;
            il.Emit(OpCodes.Ldarg_S, (byte)ArgStartPc);
            I4(f);
            il.Emit(OpCodes.Beq, _labels[f]);
        }

        for (int pc = 0; pc <= _count; pc++)
        {
            if (_leader[pc])
            {
                il.MarkLabel(_labels[pc]);
                if (_counting) EmitBudgetCheck(pc);
            }
            if (pc == _count)
            {
                EmitThrow(BpfFaultKind.FellOffEnd, pc, "execution ran past the last instruction without exit", 0);
                break;
            }
            if (_code[pc].Op == Op.LddwHigh) continue;
            EmitInstruction(pc);
        }

        if (_hasLocalCalls) EmitReturnDispatch();
        // Cold code last, so the hot path stays straight. Deferred emitters may defer more.
        for (int i = 0; i < _deferred.Count; i++) _deferred[i]();
        if (_counting) EmitSharedBudgetFault();
        if (_sites.Count > 0)
        {
            EmitSharedSlowPath(_slowRead, write: false);
            EmitSharedSlowPath(_slowWrite, write: true);
        }
    }

    // ------------------------------------------------------------------ counting

    private void EmitBudgetCheck(int blockStart)
    {
        var il = _il;
        int length = _blockLength[blockStart];
        var cold = il.DefineLabel();
        il.Emit(OpCodes.Ldloc, _budget);
        I8(length);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Dup);
        il.Emit(OpCodes.Stloc, _budget);
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Conv_I8);
        il.Emit(OpCodes.Blt, cold);
        _deferred.Add(() =>
        {
            il.MarkLabel(cold);
            var fault = il.DefineLabel();
            bool firstIsEffectful = blockStart < _count && CanFaultOrTouchMemory(_code[blockStart]);
            if (firstIsEffectful && length > 1)
            {
                // The budget covers the first instruction (k = budget + length > 0): run it (it may fault or end
                // the run), then fault at instruction k; the rest of the block is pure register arithmetic.
                il.Emit(OpCodes.Ldloc, _budget);
                I8(length);
                il.Emit(OpCodes.Add);
                il.Emit(OpCodes.Ldc_I4_0);
                il.Emit(OpCodes.Conv_I8);
                il.Emit(OpCodes.Ble, fault);
                EmitInstruction(blockStart);
            }
            il.MarkLabel(fault);
            I4(blockStart);
            il.Emit(OpCodes.Stloc, _coldBlock);
            il.Emit(OpCodes.Br, _budgetFault);
        });
    }

    private void EmitSharedBudgetFault()
    {
        var il = _il;
        il.MarkLabel(_budgetFault);
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldloc, _start);
        il.Emit(OpCodes.Ldloc, _coldBlock);
        il.Emit(OpCodes.Ldloc, _budget);
        il.Emit(OpCodes.Call, BudgetExhaustedAt);
        il.Emit(OpCodes.Throw);
    }

    /// <summary>Pushes the InstructionsExecuted value if the instruction at pc stops the run: start - budget - after.</summary>
    private void EmitExecutedSoFar(int pc)
    {
        var il = _il;
        if (!_counting)
        {
            I8(0L);
            return;
        }
        il.Emit(OpCodes.Ldloc, _start);
        il.Emit(OpCodes.Ldloc, _budget);
        il.Emit(OpCodes.Sub);
        int after = pc >= 0 && pc < _count ? _after[pc] : 0;
        if (after != 0)
        {
            I8((long)after);
            il.Emit(OpCodes.Sub);
        }
    }

    private void EmitStoreExecuted(int pc)
    {
        if (!_counting) return;
        _il.Emit(OpCodes.Ldarg_1);
        EmitExecutedSoFar(pc);
        _il.Emit(OpCodes.Call, SetExecuted);
        _il.Emit(OpCodes.Ldarg_1);
        EmitRemaining(pc);
        _il.Emit(OpCodes.Call, SetRemaining);
    }

    /// <summary>Pushes the budget left after the instruction at pc (the interpreter's budget there): budget + after.</summary>
    private void EmitRemaining(int pc)
    {
        _il.Emit(OpCodes.Ldloc, _budget);
        int after = pc >= 0 && pc < _count ? _after[pc] : 0;
        if (after != 0)
        {
            I8((long)after);
            _il.Emit(OpCodes.Add);
        }
    }

    /// <summary>Publishes what helpers need before a call: the call's pc, the budget, and where a callback's frame goes.</summary>
    private void EmitBeforeHelper(int pc)
    {
        var il = _il;
        EmitStoreExecuted(pc);   // a helper that throws leaves the count where the interpreter leaves it
        il.Emit(OpCodes.Ldarg_1);
        I4(pc);
        il.Emit(OpCodes.Call, SetHelperPc);
        il.Emit(OpCodes.Ldarg_1);
        Ld(10);
        I8((long)RunContext.FrameSize);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Call, SetCallbackFrameTop);
        il.Emit(OpCodes.Ldarg_1);
        if (_hasLocalCalls) il.Emit(OpCodes.Ldloc, _depth);
        else il.Emit(OpCodes.Ldarg_S, (byte)ArgBaseDepth);
        il.Emit(OpCodes.Ldc_I4_1);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Call, SetCallbackDepth);
    }

    /// <summary>Takes back the budget a helper's callbacks may have used.</summary>
    private void EmitAfterHelper(int pc)
    {
        if (!_counting) return;
        var il = _il;
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Call, GetRemaining);
        int after = _after[pc];
        if (after == 0)
        {
            il.Emit(OpCodes.Stloc, _budget);
            return;
        }
        I8((long)after);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Stloc, _budget);
        // The block's cost was charged up front; callbacks may have used what its rest needed.
        var overdrawn = il.DefineLabel();
        il.Emit(OpCodes.Ldloc, _budget);
        I8(0L);
        il.Emit(OpCodes.Blt, overdrawn);
        int next = pc + _code[pc].Width;
        _deferred.Add(() =>
        {
            il.MarkLabel(overdrawn);
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldloc, _start);
            I4(next);
            il.Emit(OpCodes.Ldloc, _budget);
            I8((long)after);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Call, BudgetExhausted);
            il.Emit(OpCodes.Throw);
        });
    }

    private void EmitThrow(BpfFaultKind kind, int pc, string detail, int unused)
    {
        _ = unused;
        var il = _il;
        il.Emit(OpCodes.Ldarg_1);
        EmitExecutedSoFar(pc);
        I4((int)kind);
        I4(pc);
        il.Emit(OpCodes.Ldstr, detail);
        il.Emit(OpCodes.Call, FaultMethod);
        il.Emit(OpCodes.Throw);
    }

    private void EmitReturnR0(int pc)
    {
        EmitStoreExecuted(pc);
        _il.Emit(OpCodes.Ldloc, _r[0]);
        _il.Emit(OpCodes.Ret);
    }

    // ------------------------------------------------------------------ instructions

    private void EmitInstruction(int pc)
    {
        var ins = _code[pc];
        var row = ins.Info;
        switch (row.Kind)
        {
            case InstructionKind.Alu:
            case InstructionKind.Endian:
                EmitAlu(ins, row);
                break;
            case InstructionKind.Jump:
                _il.Emit(OpCodes.Br, _labels[ins.JumpTarget(pc)]);
                break;
            case InstructionKind.CondJump:
                EmitCondJump(pc, ins, row);
                break;
            case InstructionKind.Exit:
                if (_hasLocalCalls)
                {
                    _il.Emit(OpCodes.Ldloc, _depth);
                    _il.Emit(OpCodes.Ldarg_S, (byte)ArgBaseDepth);
                    _il.Emit(OpCodes.Bne_Un, _returnDispatch);
                }
                EmitReturnR0(pc);
                break;
            case InstructionKind.Call:
                EmitCall(pc, ins, row);
                break;
            case InstructionKind.Load:
                EmitLoad(pc, ins, row);
                break;
            case InstructionKind.StoreImm:
            case InstructionKind.StoreReg:
                EmitStore(pc, ins, row);
                break;
            case InstructionKind.Atomic:
                EmitAtomic(pc, ins, row);
                break;
            case InstructionKind.LoadImm64:
                EmitLoadImm64(pc, ins, row);
                break;
            case InstructionKind.LoadPacketAbs:
            case InstructionKind.LoadPacketInd:
                EmitPacketLoad(pc, ins, row);
                break;
            default:
                EmitThrow(BpfFaultKind.Unsupported, pc, $"instruction {ins.Op} is not executable", 0);
                break;
        }
    }

    /// <summary>Pushes an int32 constant in its shortest encoding (IL size decides whether RyuJIT optimises at all).</summary>
    private void I4(int value)
    {
        switch (value)
        {
            case >= -1 and <= 8:
                _il.Emit(value switch
                {
                    -1 => OpCodes.Ldc_I4_M1, 0 => OpCodes.Ldc_I4_0, 1 => OpCodes.Ldc_I4_1, 2 => OpCodes.Ldc_I4_2, 3 => OpCodes.Ldc_I4_3,
                    4 => OpCodes.Ldc_I4_4, 5 => OpCodes.Ldc_I4_5, 6 => OpCodes.Ldc_I4_6, 7 => OpCodes.Ldc_I4_7, _ => OpCodes.Ldc_I4_8,
                });
                break;
            case >= sbyte.MinValue and <= sbyte.MaxValue: _il.Emit(OpCodes.Ldc_I4_S, (sbyte)value); break;
            default: _il.Emit(OpCodes.Ldc_I4, value); break;
        }
    }

    /// <summary>Pushes an int64 constant, as a sign-extended int32 when it fits.</summary>
    private void I8(long value)
    {
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            I4((int)value);
            _il.Emit(OpCodes.Conv_I8);
        }
        else _il.Emit(OpCodes.Ldc_I8, value);
    }

    private void Ld(int reg) => _il.Emit(OpCodes.Ldloc, _r[reg]);
    private void St(int reg) => _il.Emit(OpCodes.Stloc, _r[reg]);

    /// <summary>Pushes the second operand as a 64-bit value.</summary>
    private void Src64(in Instruction ins, OpInfo row)
    {
        if (row.RegisterSource) Ld(ins.Src);
        else I8(ins.Imm);
    }

    /// <summary>Pushes the second operand's low 32 bits as an int32.</summary>
    private void Src32(in Instruction ins, OpInfo row)
    {
        if (row.RegisterSource)
        {
            Ld(ins.Src);
            _il.Emit(OpCodes.Conv_U4);
        }
        else I4(ins.Imm32);
    }

    private void Dst32(in Instruction ins)
    {
        Ld(ins.Dst);
        _il.Emit(OpCodes.Conv_U4);
    }

    private void EmitAlu(in Instruction ins, OpInfo row)
    {
        var il = _il;
        int dst = ins.Dst;
        if (row.Alu is AluOp.ToLe or AluOp.ToBe or AluOp.Bswap)
        {
            int bits = row.DiscriminatorValue;
            if (row.Alu == AluOp.ToLe)
            {
                if (bits == 64) return;
                Ld(dst);
                il.Emit(bits == 16 ? OpCodes.Conv_U2 : OpCodes.Conv_U4);
                il.Emit(OpCodes.Conv_U8);
                St(dst);
                return;
            }
            Ld(dst);
            switch (bits)
            {
                case 16: il.Emit(OpCodes.Conv_U2); il.Emit(OpCodes.Call, Swap16); il.Emit(OpCodes.Conv_U8); break;
                case 32: il.Emit(OpCodes.Conv_U4); il.Emit(OpCodes.Call, Swap32); il.Emit(OpCodes.Conv_U8); break;
                default: il.Emit(OpCodes.Call, Swap64); break;
            }
            St(dst);
            return;
        }

        if (row.Is64) EmitAlu64(ins, row, dst);
        else EmitAlu32(ins, row, dst);
    }

    private void EmitAlu64(in Instruction ins, OpInfo row, int dst)
    {
        var il = _il;
        switch (row.Alu)
        {
            case AluOp.Add: Ld(dst); Src64(ins, row); il.Emit(OpCodes.Add); break;
            case AluOp.Sub: Ld(dst); Src64(ins, row); il.Emit(OpCodes.Sub); break;
            case AluOp.Mul: Ld(dst); Src64(ins, row); il.Emit(OpCodes.Mul); break;
            case AluOp.Or: Ld(dst); Src64(ins, row); il.Emit(OpCodes.Or); break;
            case AluOp.And: Ld(dst); Src64(ins, row); il.Emit(OpCodes.And); break;
            case AluOp.Xor: Ld(dst); Src64(ins, row); il.Emit(OpCodes.Xor); break;
            case AluOp.Mov: Src64(ins, row); break;
            case AluOp.Neg: Ld(dst); il.Emit(OpCodes.Neg); break;
            case AluOp.MovSx8: Ld(ins.Src); il.Emit(OpCodes.Conv_I1); il.Emit(OpCodes.Conv_I8); break;
            case AluOp.MovSx16: Ld(ins.Src); il.Emit(OpCodes.Conv_I2); il.Emit(OpCodes.Conv_I8); break;
            case AluOp.MovSx32: Ld(ins.Src); il.Emit(OpCodes.Conv_I4); il.Emit(OpCodes.Conv_I8); break;
            case AluOp.Lsh: EmitShift(ins, row, dst, OpCodes.Shl, 63); break;
            case AluOp.Rsh: EmitShift(ins, row, dst, OpCodes.Shr_Un, 63); break;
            case AluOp.Arsh: EmitShift(ins, row, dst, OpCodes.Shr, 63); break;
            case AluOp.Div or AluOp.Mod or AluOp.SDiv or AluOp.SMod:
                if (!EmitDivConst64(ins, row, dst)) return;
                break;
            default: throw new InvalidOperationException($"unhandled ALU op {row.Alu}");
        }
        St(dst);
    }

    private void EmitShift(in Instruction ins, OpInfo row, int dst, OpCode op, int mask)
    {
        var il = _il;
        if (mask == 63) Ld(dst);
        else if (op == OpCodes.Shr) { Ld(dst); il.Emit(OpCodes.Conv_I4); }
        else Dst32(ins);
        if (row.RegisterSource)
        {
            Ld(ins.Src);
            il.Emit(OpCodes.Conv_I4);
            I4(mask);
            il.Emit(OpCodes.And);
        }
        else I4((int)(ins.Imm & mask));
        il.Emit(op);
        if (mask == 31) il.Emit(OpCodes.Conv_U8);
    }

    /// <summary>Division and modulo; returns false when nothing is to be stored (x % 0 leaves x).</summary>
    private bool EmitDivConst64(in Instruction ins, OpInfo row, int dst)
    {
        var il = _il;
        if (row.RegisterSource)
        {
            Ld(dst);
            Ld(ins.Src);
            il.Emit(OpCodes.Call, typeof(AluSemantics).GetMethod(row.Alu + "64")!);
            return true;
        }
        long d = ins.Imm;
        switch (row.Alu)
        {
            case AluOp.Div:
                if (d == 0) I8(0L);
                else { Ld(dst); I8(d); il.Emit(OpCodes.Div_Un); }
                return true;
            case AluOp.Mod:
                if (d == 0) return false;
                Ld(dst); I8(d); il.Emit(OpCodes.Rem_Un);
                return true;
            case AluOp.SDiv:
                if (d == 0) I8(0L);
                else if (d == -1) { Ld(dst); il.Emit(OpCodes.Neg); }
                else { Ld(dst); I8(d); il.Emit(OpCodes.Div); }
                return true;
            default: // SMod
                if (d == 0) return false;
                if (d == -1) I8(0L);
                else { Ld(dst); I8(d); il.Emit(OpCodes.Rem); }
                return true;
        }
    }

    private void EmitAlu32(in Instruction ins, OpInfo row, int dst)
    {
        var il = _il;
        switch (row.Alu)
        {
            case AluOp.Add: Dst32(ins); Src32(ins, row); il.Emit(OpCodes.Add); break;
            case AluOp.Sub: Dst32(ins); Src32(ins, row); il.Emit(OpCodes.Sub); break;
            case AluOp.Mul: Dst32(ins); Src32(ins, row); il.Emit(OpCodes.Mul); break;
            case AluOp.Or: Dst32(ins); Src32(ins, row); il.Emit(OpCodes.Or); break;
            case AluOp.And: Dst32(ins); Src32(ins, row); il.Emit(OpCodes.And); break;
            case AluOp.Xor: Dst32(ins); Src32(ins, row); il.Emit(OpCodes.Xor); break;
            case AluOp.Mov: Src32(ins, row); break;
            case AluOp.Neg: Dst32(ins); il.Emit(OpCodes.Neg); break;
            case AluOp.MovSx8: Ld(ins.Src); il.Emit(OpCodes.Conv_I1); break;
            case AluOp.MovSx16: Ld(ins.Src); il.Emit(OpCodes.Conv_I2); break;
            case AluOp.Lsh: EmitShift(ins, row, dst, OpCodes.Shl, 31); St(dst); return;
            case AluOp.Rsh: EmitShift(ins, row, dst, OpCodes.Shr_Un, 31); St(dst); return;
            case AluOp.Arsh: EmitShift(ins, row, dst, OpCodes.Shr, 31); St(dst); return;
            case AluOp.Div or AluOp.Mod or AluOp.SDiv or AluOp.SMod:
                if (row.RegisterSource)
                {
                    // Pass the low halves through temporaries: RyuJIT (10.0.12) was seen to reuse the register of
                    // a (uint) cast of an eBPF register local, inside the inlined helper, as the full register later.
                    Dst32(ins);
                    il.Emit(OpCodes.Conv_U8);
                    il.Emit(OpCodes.Stloc, _divA);
                    Ld(ins.Src);
                    il.Emit(OpCodes.Conv_U4);
                    il.Emit(OpCodes.Conv_U8);
                    il.Emit(OpCodes.Stloc, _divB);
                    il.Emit(OpCodes.Ldloc, _divA);
                    il.Emit(OpCodes.Ldloc, _divB);
                    il.Emit(OpCodes.Call, typeof(AluSemantics).GetMethod(row.Alu + "32")!);
                    St(dst);
                    return;
                }
                EmitDivConst32(ins, row);
                break;
            default: throw new InvalidOperationException($"unhandled ALU op {row.Alu}");
        }
        il.Emit(OpCodes.Conv_U8);  // the int32 result, zero-extended
        St(dst);
    }

    /// <summary>32-bit division and modulo by a constant; leaves an int32.</summary>
    private void EmitDivConst32(in Instruction ins, OpInfo row)
    {
        var il = _il;
        int d = ins.Imm32;
        switch (row.Alu)
        {
            case AluOp.Div:
                if (d == 0) il.Emit(OpCodes.Ldc_I4_0);
                else { Dst32(ins); I4(d); il.Emit(OpCodes.Div_Un); }
                break;
            case AluOp.Mod:
                Dst32(ins);
                if (d != 0) { I4(d); il.Emit(OpCodes.Rem_Un); }
                break;
            case AluOp.SDiv:
                if (d == 0) il.Emit(OpCodes.Ldc_I4_0);
                else if (d == -1) { Dst32(ins); il.Emit(OpCodes.Neg); }
                else { Dst32(ins); I4(d); il.Emit(OpCodes.Div); }
                break;
            default: // SMod
                if (d == 0) Dst32(ins);
                else if (d == -1) il.Emit(OpCodes.Ldc_I4_0);
                else { Dst32(ins); I4(d); il.Emit(OpCodes.Rem); }
                break;
        }
    }

    private void EmitCondJump(int pc, in Instruction ins, OpInfo row)
    {
        var il = _il;
        var target = _labels[ins.JumpTarget(pc)];
        if (row.Is64)
        {
            Ld(ins.Dst);
            Src64(ins, row);
        }
        else
        {
            Dst32(ins);
            Src32(ins, row);
        }
        switch (row.Condition)
        {
            case JumpCondition.Eq: il.Emit(OpCodes.Beq, target); break;
            case JumpCondition.Ne: il.Emit(OpCodes.Bne_Un, target); break;
            case JumpCondition.Gt: il.Emit(OpCodes.Bgt_Un, target); break;
            case JumpCondition.Ge: il.Emit(OpCodes.Bge_Un, target); break;
            case JumpCondition.Lt: il.Emit(OpCodes.Blt_Un, target); break;
            case JumpCondition.Le: il.Emit(OpCodes.Ble_Un, target); break;
            case JumpCondition.Sgt: il.Emit(OpCodes.Bgt, target); break;
            case JumpCondition.Sge: il.Emit(OpCodes.Bge, target); break;
            case JumpCondition.Slt: il.Emit(OpCodes.Blt, target); break;
            case JumpCondition.Sle: il.Emit(OpCodes.Ble, target); break;
            case JumpCondition.Set: il.Emit(OpCodes.And); il.Emit(OpCodes.Brtrue, target); break;
            default: throw new InvalidOperationException($"unhandled condition {row.Condition}");
        }
    }

    // ------------------------------------------------------------------ memory

    /// <summary>
    /// Computes base + offset into the address local and, in checked mode, checks the access with one compare:
    /// r10-based accesses against the current frame and its callers' frames (the interpreter's fast path), others
    /// against the region the last slow check found for reads (or writes). A miss goes to the shared slow path,
    /// which asks <see cref="RunContext.CheckSlow"/> (same faults as the interpreter) and refills the cache.
    /// </summary>
    private void EmitAddress(int pc, int baseReg, short offset, int size, bool write)
    {
        var il = _il;
        Ld(baseReg);
        if (offset != 0)
        {
            I8(offset);
            il.Emit(OpCodes.Add);
        }
        il.Emit(OpCodes.Stloc, _addr);
        if (!_checked) return;

        var ok = il.DefineLabel();
        var miss = il.DefineLabel();
        int site = _sites.Count;
        _sites.Add(new MemorySite(pc, size, write, pc < _count ? _after[pc] : 0));
        _siteContinuations.Add(ok);
        bool onStack = baseReg == 10;
        il.Emit(OpCodes.Ldloc, _addr);
        il.Emit(OpCodes.Ldloc, onStack ? _stackLow : write ? _hotWriteStart : _hotReadStart);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Ldloc, onStack ? _stackLen : write ? _hotWriteLen : _hotReadLen);
        I8(size);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Bgt_Un, miss);
        il.MarkLabel(ok);
        _deferred.Add(() =>
        {
            il.MarkLabel(miss);
            I4(site);
            il.Emit(OpCodes.Stloc, _site);
            il.Emit(OpCodes.Br, write ? _slowWrite : _slowRead);
        });
    }

    /// <summary>The slow path all access sites share: check, refill the cache, jump back to the site.</summary>
    private void EmitSharedSlowPath(Label label, bool write)
    {
        var il = _il;
        il.MarkLabel(label);
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Ldloc, _addr);
        il.Emit(OpCodes.Ldloc, _site);
        il.Emit(OpCodes.Ldloc, _stackLow);
        il.Emit(OpCodes.Ldloc, _start);
        il.Emit(OpCodes.Ldloc, _budget);
        il.Emit(OpCodes.Call, ResolveSite);
        il.Emit(OpCodes.Stloc, _hot);
        il.Emit(OpCodes.Ldloca, _hot);
        il.Emit(OpCodes.Ldfld, HotStartField);
        il.Emit(OpCodes.Stloc, write ? _hotWriteStart : _hotReadStart);
        il.Emit(OpCodes.Ldloca, _hot);
        il.Emit(OpCodes.Ldfld, HotLengthField);
        il.Emit(OpCodes.Stloc, write ? _hotWriteLen : _hotReadLen);
        il.Emit(OpCodes.Ldloc, _site);
        il.Emit(OpCodes.Switch, _siteContinuations.ToArray());
        il.Emit(OpCodes.Br, _siteContinuations[0]);
    }

    private void EmitLoad(int pc, in Instruction ins, OpInfo row)
    {
        var il = _il;
        EmitAddress(pc, ins.Src, ins.Offset, row.Size, write: false);
        il.Emit(OpCodes.Ldloc, _addr);
        il.Emit(OpCodes.Conv_U);
        if (row.Size > 1) il.Emit(OpCodes.Unaligned, (byte)1);
        switch (row.Size, row.SignExtend)
        {
            case (1, false): il.Emit(OpCodes.Ldind_U1); il.Emit(OpCodes.Conv_U8); break;
            case (2, false): il.Emit(OpCodes.Ldind_U2); il.Emit(OpCodes.Conv_U8); break;
            case (4, false): il.Emit(OpCodes.Ldind_U4); il.Emit(OpCodes.Conv_U8); break;
            case (1, true): il.Emit(OpCodes.Ldind_I1); il.Emit(OpCodes.Conv_I8); break;
            case (2, true): il.Emit(OpCodes.Ldind_I2); il.Emit(OpCodes.Conv_I8); break;
            case (4, true): il.Emit(OpCodes.Ldind_I4); il.Emit(OpCodes.Conv_I8); break;
            default: il.Emit(OpCodes.Ldind_I8); break;
        }
        St(ins.Dst);
    }

    private void EmitStore(int pc, in Instruction ins, OpInfo row)
    {
        var il = _il;
        EmitAddress(pc, ins.Dst, ins.Offset, row.Size, write: true);
        il.Emit(OpCodes.Ldloc, _addr);
        il.Emit(OpCodes.Conv_U);
        if (row.Kind == InstructionKind.StoreReg)
        {
            Ld(ins.Src);
            if (row.Size < 8) il.Emit(OpCodes.Conv_U4);
        }
        else if (row.Size < 8) I4(ins.Imm32);
        else I8(ins.Imm);
        if (row.Size > 1) il.Emit(OpCodes.Unaligned, (byte)1);
        il.Emit(row.Size switch { 1 => OpCodes.Stind_I1, 2 => OpCodes.Stind_I2, 4 => OpCodes.Stind_I4, _ => OpCodes.Stind_I8 });
    }

    private void EmitAtomic(int pc, in Instruction ins, OpInfo row)
    {
        var il = _il;
        EmitAddress(pc, ins.Dst, ins.Offset, row.Size, write: true);
        if (row.Size == 8)
        {
            il.Emit(OpCodes.Ldloc, _addr);
            Ld(ins.Src);
            if (row.Atomic == AtomicOp.CmpXchg) Ld(0);
            il.Emit(OpCodes.Call, typeof(JitRuntime).GetMethod(JitRuntime.AtomicMethodName(row))!);
        }
        else
        {
            // 32-bit operands go in zero-extended through temporaries: RyuJIT (10.0.12) loads the comparand of
            // a 32-bit CompareExchange with a 64-bit move, and a successful lock cmpxchg leaves rax's upper half.
            Ld(ins.Src);
            il.Emit(OpCodes.Conv_U4);
            il.Emit(OpCodes.Conv_U8);
            il.Emit(OpCodes.Stloc, _divA);
            if (row.Atomic == AtomicOp.CmpXchg)
            {
                Ld(0);
                il.Emit(OpCodes.Conv_U4);
                il.Emit(OpCodes.Conv_U8);
                il.Emit(OpCodes.Stloc, _divB);
            }
            il.Emit(OpCodes.Ldloc, _addr);
            il.Emit(OpCodes.Ldloc, _divA);
            if (row.Atomic == AtomicOp.CmpXchg) il.Emit(OpCodes.Ldloc, _divB);
            il.Emit(OpCodes.Call, typeof(JitRuntime).GetMethod(JitRuntime.AtomicMethodName(row))!);
            il.Emit(OpCodes.Conv_U4);
            il.Emit(OpCodes.Conv_U8);
        }
        if (row.Atomic == AtomicOp.CmpXchg) St(0);
        else if (row.Fetch) St(ins.Src);
        else il.Emit(OpCodes.Pop);
    }

    private void EmitLoadImm64(int pc, in Instruction ins, OpInfo row)
    {
        switch (row.LoadSource)
        {
            case LoadImm64Source.Imm64:
                I8(ins.Imm);
                St(ins.Dst);
                break;
            case LoadImm64Source.Func:
                I8((long)(pc + 1 + ins.Imm32));
                St(ins.Dst);
                break;
            case LoadImm64Source.BtfId:
                EmitThrow(BpfFaultKind.Unsupported, pc, "lddw of a kernel BTF variable needs the kernel engine", 0);
                break;
            default:
                // The loader replaces map references with plain lddw of the map's handle or value address.
                EmitThrow(BpfFaultKind.Unsupported, pc,
                    $"unresolved map reference (lddw src {(int)row.LoadSource}): load the program through an object loader", 0);
                break;
        }
    }

    private void EmitPacketLoad(int pc, in Instruction ins, OpInfo row)
    {
        var il = _il;
        il.Emit(OpCodes.Ldarg_1);
        I8((long)ins.Imm32);
        if (row.Kind == InstructionKind.LoadPacketInd)
        {
            Ld(ins.Src);
            il.Emit(OpCodes.Conv_I4);
            il.Emit(OpCodes.Conv_I8);
            il.Emit(OpCodes.Add);
        }
        I4(row.Size);
        il.Emit(OpCodes.Call, LoadPacket);
        il.Emit(OpCodes.Stloc, _tmp);
        var outside = il.DefineLabel();
        il.Emit(OpCodes.Ldloc, _tmp);
        I8(0L);
        il.Emit(OpCodes.Blt, outside);
        il.Emit(OpCodes.Ldloc, _tmp);
        St(0);
        _deferred.Add(() =>
        {
            // Outside the packet: the program ends with r0 = 0, as in the kernel.
            il.MarkLabel(outside);
            EmitStoreExecuted(pc);
            I8(0L);
            il.Emit(OpCodes.Ret);
        });
    }

    // ------------------------------------------------------------------ calls

    private void EmitCall(int pc, in Instruction ins, OpInfo row)
    {
        var il = _il;
        switch (row.Call)
        {
            case CallKind.Helper:
            {
                int site = _helperSite[pc];
                var function = _helperDelegates[site];
                var method = function.Method;
                EmitBeforeHelper(pc);
                bool direct = method.DeclaringType is { IsValueType: false } && !method.ContainsGenericParameters
                    && method.GetParameters().Length == 6 && !method.IsAbstract
                    && (method.IsStatic ? function.Target is null : function.Target is not null && (!method.IsVirtual || method.IsFinal));
                if (direct && !method.IsStatic)
                {
                    il.Emit(OpCodes.Ldarg_0);
                    il.Emit(OpCodes.Ldfld, ClosureTargets);
                    I4(site);
                    il.Emit(OpCodes.Ldelem_Ref);
                }
                else if (!direct)
                {
                    il.Emit(OpCodes.Ldarg_0);
                    il.Emit(OpCodes.Ldfld, ClosureHelpers);
                    I4(site);
                    il.Emit(OpCodes.Ldelem_Ref);
                }
                il.Emit(OpCodes.Ldarg_1);
                for (int i = 1; i <= 5; i++) Ld(i);
                il.Emit(direct ? OpCodes.Call : OpCodes.Callvirt, direct ? method : HelperInvoke);
                St(0);
                EmitAfterHelper(pc);
                if (_checked) EmitFrameChanged();  // the helper may have changed the granted regions
                if (ins.Imm == Interpreter.TailCallHelperId)
                {
                    // A successful bpf_tail_call does not return: the host runs the target next.
                    var noTailCall = il.DefineLabel();
                    il.Emit(OpCodes.Ldarg_1);
                    il.Emit(OpCodes.Call, GetPendingTailCall);
                    il.Emit(OpCodes.Brfalse, noTailCall);
                    EmitReturnR0(pc);
                    il.MarkLabel(noTailCall);
                }
                break;
            }
            case CallKind.Register:
                EmitBeforeHelper(pc);
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldfld, ClosureTable);
                il.Emit(OpCodes.Ldarg_1);
                Ld(ins.Dst);
                I4(pc);
                I4((int)ins.Dst);
                for (int i = 1; i <= 5; i++) Ld(i);
                il.Emit(OpCodes.Call, CallIndirect);
                St(0);
                EmitAfterHelper(pc);
                if (_checked) EmitFrameChanged();
                break;
            case CallKind.Local:
                EmitLocalCall(pc, ins);
                break;
            default:
                EmitThrow(BpfFaultKind.Unsupported, pc, $"kfunc call (BTF id {ins.Imm}) needs the kernel engine", 0);
                break;
        }
    }

    private void EmitLocalCall(int pc, in Instruction ins)
    {
        var il = _il;
        int site = _returnSites.Count;
        _returnSites.Add(pc + 1);
        var tooDeep = il.DefineLabel();
        il.Emit(OpCodes.Ldloc, _depth);
        il.Emit(OpCodes.Ldc_I4_1);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Ldloc, _maxDepth);
        il.Emit(OpCodes.Bge, tooDeep);
        // frame = frames + depth * FrameBytes
        il.Emit(OpCodes.Ldloc, _frames);
        il.Emit(OpCodes.Ldloc, _depth);
        I4(FrameBytes);
        il.Emit(OpCodes.Mul);
        il.Emit(OpCodes.Conv_U8);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, _frame);
        for (int i = 0; i < 5; i++)
        {
            il.Emit(OpCodes.Ldloc, _frame);
            if (i > 0) { I8((long)(i * 8)); il.Emit(OpCodes.Add); }
            il.Emit(OpCodes.Conv_U);
            Ld(6 + i);
            il.Emit(OpCodes.Stind_I8);
        }
        il.Emit(OpCodes.Ldloc, _frame);
        I8(40L);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Conv_U);
        I8((long)site);
        il.Emit(OpCodes.Stind_I8);
        il.Emit(OpCodes.Ldloc, _depth);
        il.Emit(OpCodes.Ldc_I4_1);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, _depth);
        Ld(10);
        I8((long)RunContext.FrameSize);
        il.Emit(OpCodes.Sub);
        St(10);
        if (_checked) EmitFrameChanged();
        il.Emit(OpCodes.Br, _labels[ins.JumpTarget(pc)]);
        int depthLimitPc = pc;
        _deferred.Add(() =>
        {
            il.MarkLabel(tooDeep);
            il.Emit(OpCodes.Ldarg_1);
            EmitExecutedSoFar(depthLimitPc);
            I4(depthLimitPc);
            il.Emit(OpCodes.Ldloc, _maxDepth);
            il.Emit(OpCodes.Call, DepthFault);
            il.Emit(OpCodes.Throw);
        });
    }

    /// <summary>exit from a local call: restore r6-r10 and jump back to the instruction after the call.</summary>
    private void EmitReturnDispatch()
    {
        var il = _il;
        il.MarkLabel(_returnDispatch);
        il.Emit(OpCodes.Ldloc, _depth);
        il.Emit(OpCodes.Ldc_I4_1);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Dup);
        il.Emit(OpCodes.Stloc, _depth);
        I4(FrameBytes);
        il.Emit(OpCodes.Mul);
        il.Emit(OpCodes.Conv_U8);
        il.Emit(OpCodes.Ldloc, _frames);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, _frame);
        for (int i = 0; i < 5; i++)
        {
            il.Emit(OpCodes.Ldloc, _frame);
            if (i > 0) { I8((long)(i * 8)); il.Emit(OpCodes.Add); }
            il.Emit(OpCodes.Conv_U);
            il.Emit(OpCodes.Ldind_I8);
            St(6 + i);
        }
        if (_checked) EmitFrameChanged();
        il.Emit(OpCodes.Ldloc, _frame);
        I8(40L);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Conv_U);
        il.Emit(OpCodes.Ldind_I8);
        il.Emit(OpCodes.Conv_I4);
        var targets = new Label[_returnSites.Count];
        for (int i = 0; i < targets.Length; i++) targets[i] = _labels[_returnSites[i]];
        il.Emit(OpCodes.Switch, targets);
        // Unreachable: every saved index names a return site.
        EmitThrow(BpfFaultKind.Unsupported, -1, "corrupt return address", 0);
    }

    /// <summary>
    /// Recomputes the current frame's bounds from r10 and resets the region caches to it (after a call, a return,
    /// or a helper that may have changed the granted regions). The stack is a safe cache value: it is always accessible.
    /// </summary>
    private void EmitFrameChanged()
    {
        var il = _il;
        Ld(10);
        I8((long)RunContext.FrameSize);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Dup);
        il.Emit(OpCodes.Stloc, _stackLow);
        il.Emit(OpCodes.Dup);
        il.Emit(OpCodes.Stloc, _hotReadStart);
        il.Emit(OpCodes.Stloc, _hotWriteStart);
        il.Emit(OpCodes.Ldloc, _stackTop);
        il.Emit(OpCodes.Ldloc, _stackLow);
        il.Emit(OpCodes.Sub);
        il.Emit(OpCodes.Dup);
        il.Emit(OpCodes.Stloc, _stackLen);
        il.Emit(OpCodes.Dup);
        il.Emit(OpCodes.Stloc, _hotReadLen);
        il.Emit(OpCodes.Stloc, _hotWriteLen);
    }
}
