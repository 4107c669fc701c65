using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using BpfSharp.Isa;

namespace BpfSharp.Runtime;

/// <summary>An engine that runs a prepared program: the interpreter or the JIT.</summary>
public interface IBpfExecutable
{
    /// <summary>The program this executable runs.</summary>
    BpfProgram Program { get; }

    /// <summary>
    /// Runs the program with r1 and r2 as given (r3-r5 zero, r10 the frame pointer) and returns r0. Throws
    /// <see cref="BpfFaultException"/> when the program faults.
    /// </summary>
    ulong Run(RunContext context, ulong r1, ulong r2 = 0);
}

/// <summary>
/// The reference engine: executes decoded instructions one by one with exact RFC 9669 semantics, checking every
/// memory access against the regions in the <see cref="RunContext"/>. Allocates nothing per instruction or run.
/// </summary>
public sealed unsafe class Interpreter : IBpfExecutable
{
    private readonly Instruction[] _code;
    private readonly HelperFunction?[] _helpers;
    private readonly HelperTable _helperTable;

    /// <summary>Prepares a program; throws <see cref="BpfLoadException"/> for helper ids with no registered helper.</summary>
    public Interpreter(BpfProgram program, HelperTable? helpers = null)
    {
        ArgumentNullException.ThrowIfNull(program);
        Program = program;
        _helperTable = helpers ?? new HelperTable();
        // One extra slot: running past the end executes an Invalid sentinel, which faults.
        _code = new Instruction[program.Count + 1];
        program.Instructions.CopyTo(_code);
        _helpers = new HelperFunction?[program.Count];
        for (int pc = 0; pc < program.Count; pc++)
        {
            var ins = program[pc];
            if (ins.Op == Op.Call)
            {
                var helper = _helperTable.Find(ins.Imm)
                    ?? throw new BpfLoadException($"unknown helper id {ins.Imm} (call {ins.Imm})", pc);
                _helpers[pc] = helper.Function;
            }
        }
    }

    /// <inheritdoc/>
    public BpfProgram Program { get; }

    /// <inheritdoc/>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // the dispatch loop is the hot path from the first run
    public ulong Run(RunContext context, ulong r1, ulong r2 = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.BeginRun();
        ulong* r = stackalloc ulong[11];
        for (int i = 0; i < 11; i++) r[i] = 0;
        r[1] = r1;
        r[2] = r2;
        r[10] = context.StackTop;
        int maxDepth = context.MaxCallDepth;
        int* returnPc = stackalloc int[maxDepth];
        ulong* saved = stackalloc ulong[maxDepth * 5];
        int depth = 0;
        ulong stackLow = r[10] - RunContext.FrameSize;
        ulong stackLen = context.StackTop - stackLow;
        long budget = context.InstructionBudget;
        long start = budget;
        var helpers = _helpers;
        int pc = 0;
        try
        {
            fixed (Instruction* code = _code)
            {
                while (true)
                {
                    if (--budget < 0) throw Fault(BpfFaultKind.BudgetExceeded, pc, $"instruction budget of {context.InstructionBudget} exhausted");
                    Instruction* ins = code + pc;
                    ulong imm = (ulong)ins->Imm;
                    switch (ins->Op)
                    {
                        // ---- 64-bit ALU
                        case Op.Add64Imm: r[ins->Dst] += imm; break;
                        case Op.Add64Reg: r[ins->Dst] += r[ins->Src]; break;
                        case Op.Sub64Imm: r[ins->Dst] -= imm; break;
                        case Op.Sub64Reg: r[ins->Dst] -= r[ins->Src]; break;
                        case Op.Mul64Imm: r[ins->Dst] *= imm; break;
                        case Op.Mul64Reg: r[ins->Dst] *= r[ins->Src]; break;
                        case Op.Div64Imm: r[ins->Dst] = AluSemantics.Div64(r[ins->Dst], imm); break;
                        case Op.Div64Reg: r[ins->Dst] = AluSemantics.Div64(r[ins->Dst], r[ins->Src]); break;
                        case Op.SDiv64Imm: r[ins->Dst] = AluSemantics.SDiv64(r[ins->Dst], imm); break;
                        case Op.SDiv64Reg: r[ins->Dst] = AluSemantics.SDiv64(r[ins->Dst], r[ins->Src]); break;
                        case Op.Or64Imm: r[ins->Dst] |= imm; break;
                        case Op.Or64Reg: r[ins->Dst] |= r[ins->Src]; break;
                        case Op.And64Imm: r[ins->Dst] &= imm; break;
                        case Op.And64Reg: r[ins->Dst] &= r[ins->Src]; break;
                        case Op.Lsh64Imm: r[ins->Dst] <<= (int)(imm & 63); break;
                        case Op.Lsh64Reg: r[ins->Dst] <<= (int)(r[ins->Src] & 63); break;
                        case Op.Rsh64Imm: r[ins->Dst] >>= (int)(imm & 63); break;
                        case Op.Rsh64Reg: r[ins->Dst] >>= (int)(r[ins->Src] & 63); break;
                        case Op.Mod64Imm: r[ins->Dst] = AluSemantics.Mod64(r[ins->Dst], imm); break;
                        case Op.Mod64Reg: r[ins->Dst] = AluSemantics.Mod64(r[ins->Dst], r[ins->Src]); break;
                        case Op.SMod64Imm: r[ins->Dst] = AluSemantics.SMod64(r[ins->Dst], imm); break;
                        case Op.SMod64Reg: r[ins->Dst] = AluSemantics.SMod64(r[ins->Dst], r[ins->Src]); break;
                        case Op.Xor64Imm: r[ins->Dst] ^= imm; break;
                        case Op.Xor64Reg: r[ins->Dst] ^= r[ins->Src]; break;
                        case Op.Mov64Imm: r[ins->Dst] = imm; break;
                        case Op.Mov64Reg: r[ins->Dst] = r[ins->Src]; break;
                        case Op.Arsh64Imm: r[ins->Dst] = AluSemantics.Arsh64(r[ins->Dst], imm); break;
                        case Op.Arsh64Reg: r[ins->Dst] = AluSemantics.Arsh64(r[ins->Dst], r[ins->Src]); break;
                        case Op.Neg64: r[ins->Dst] = unchecked(0 - r[ins->Dst]); break;
                        case Op.MovSx8To64: r[ins->Dst] = (ulong)(long)(sbyte)r[ins->Src]; break;
                        case Op.MovSx16To64: r[ins->Dst] = (ulong)(long)(short)r[ins->Src]; break;
                        case Op.MovSx32To64: r[ins->Dst] = (ulong)(long)(int)r[ins->Src]; break;
                        // ---- 32-bit ALU: operate on the low halves, zero-extend the result
                        case Op.Add32Imm: r[ins->Dst] = (uint)((uint)r[ins->Dst] + (uint)imm); break;
                        case Op.Add32Reg: r[ins->Dst] = (uint)((uint)r[ins->Dst] + (uint)r[ins->Src]); break;
                        case Op.Sub32Imm: r[ins->Dst] = (uint)((uint)r[ins->Dst] - (uint)imm); break;
                        case Op.Sub32Reg: r[ins->Dst] = (uint)((uint)r[ins->Dst] - (uint)r[ins->Src]); break;
                        case Op.Mul32Imm: r[ins->Dst] = (uint)((uint)r[ins->Dst] * (uint)imm); break;
                        case Op.Mul32Reg: r[ins->Dst] = (uint)((uint)r[ins->Dst] * (uint)r[ins->Src]); break;
                        case Op.Div32Imm: r[ins->Dst] = AluSemantics.Div32(r[ins->Dst], imm); break;
                        case Op.Div32Reg: r[ins->Dst] = AluSemantics.Div32(r[ins->Dst], r[ins->Src]); break;
                        case Op.SDiv32Imm: r[ins->Dst] = AluSemantics.SDiv32(r[ins->Dst], imm); break;
                        case Op.SDiv32Reg: r[ins->Dst] = AluSemantics.SDiv32(r[ins->Dst], r[ins->Src]); break;
                        case Op.Or32Imm: r[ins->Dst] = (uint)r[ins->Dst] | (uint)imm; break;
                        case Op.Or32Reg: r[ins->Dst] = (uint)r[ins->Dst] | (uint)r[ins->Src]; break;
                        case Op.And32Imm: r[ins->Dst] = (uint)r[ins->Dst] & (uint)imm; break;
                        case Op.And32Reg: r[ins->Dst] = (uint)r[ins->Dst] & (uint)r[ins->Src]; break;
                        case Op.Lsh32Imm: r[ins->Dst] = (uint)r[ins->Dst] << (int)(imm & 31); break;
                        case Op.Lsh32Reg: r[ins->Dst] = (uint)r[ins->Dst] << (int)(r[ins->Src] & 31); break;
                        case Op.Rsh32Imm: r[ins->Dst] = (uint)r[ins->Dst] >> (int)(imm & 31); break;
                        case Op.Rsh32Reg: r[ins->Dst] = (uint)r[ins->Dst] >> (int)(r[ins->Src] & 31); break;
                        case Op.Mod32Imm: r[ins->Dst] = AluSemantics.Mod32(r[ins->Dst], imm); break;
                        case Op.Mod32Reg: r[ins->Dst] = AluSemantics.Mod32(r[ins->Dst], r[ins->Src]); break;
                        case Op.SMod32Imm: r[ins->Dst] = AluSemantics.SMod32(r[ins->Dst], imm); break;
                        case Op.SMod32Reg: r[ins->Dst] = AluSemantics.SMod32(r[ins->Dst], r[ins->Src]); break;
                        case Op.Xor32Imm: r[ins->Dst] = (uint)r[ins->Dst] ^ (uint)imm; break;
                        case Op.Xor32Reg: r[ins->Dst] = (uint)r[ins->Dst] ^ (uint)r[ins->Src]; break;
                        case Op.Mov32Imm: r[ins->Dst] = (uint)imm; break;
                        case Op.Mov32Reg: r[ins->Dst] = (uint)r[ins->Src]; break;
                        case Op.Arsh32Imm: r[ins->Dst] = AluSemantics.Arsh32(r[ins->Dst], imm); break;
                        case Op.Arsh32Reg: r[ins->Dst] = AluSemantics.Arsh32(r[ins->Dst], r[ins->Src]); break;
                        case Op.Neg32: r[ins->Dst] = (uint)unchecked(0 - (uint)r[ins->Dst]); break;
                        case Op.MovSx8To32: r[ins->Dst] = (uint)(int)(sbyte)r[ins->Src]; break;
                        case Op.MovSx16To32: r[ins->Dst] = (uint)(int)(short)r[ins->Src]; break;
                        // ---- byte order
                        case Op.Le16: r[ins->Dst] = (ushort)r[ins->Dst]; break;
                        case Op.Le32: r[ins->Dst] = (uint)r[ins->Dst]; break;
                        case Op.Le64: break;
                        case Op.Be16: case Op.Bswap16: r[ins->Dst] = BinaryPrimitives.ReverseEndianness((ushort)r[ins->Dst]); break;
                        case Op.Be32: case Op.Bswap32: r[ins->Dst] = BinaryPrimitives.ReverseEndianness((uint)r[ins->Dst]); break;
                        case Op.Be64: case Op.Bswap64: r[ins->Dst] = BinaryPrimitives.ReverseEndianness(r[ins->Dst]); break;
                        // ---- jumps
                        case Op.Ja: pc += ins->Offset; break;
                        case Op.Ja32: pc += (int)ins->Imm; break;
                        case Op.Jeq64Imm: if (r[ins->Dst] == imm) pc += ins->Offset; break;
                        case Op.Jeq64Reg: if (r[ins->Dst] == r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jgt64Imm: if (r[ins->Dst] > imm) pc += ins->Offset; break;
                        case Op.Jgt64Reg: if (r[ins->Dst] > r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jge64Imm: if (r[ins->Dst] >= imm) pc += ins->Offset; break;
                        case Op.Jge64Reg: if (r[ins->Dst] >= r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jset64Imm: if ((r[ins->Dst] & imm) != 0) pc += ins->Offset; break;
                        case Op.Jset64Reg: if ((r[ins->Dst] & r[ins->Src]) != 0) pc += ins->Offset; break;
                        case Op.Jne64Imm: if (r[ins->Dst] != imm) pc += ins->Offset; break;
                        case Op.Jne64Reg: if (r[ins->Dst] != r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jsgt64Imm: if ((long)r[ins->Dst] > (long)imm) pc += ins->Offset; break;
                        case Op.Jsgt64Reg: if ((long)r[ins->Dst] > (long)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jsge64Imm: if ((long)r[ins->Dst] >= (long)imm) pc += ins->Offset; break;
                        case Op.Jsge64Reg: if ((long)r[ins->Dst] >= (long)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jlt64Imm: if (r[ins->Dst] < imm) pc += ins->Offset; break;
                        case Op.Jlt64Reg: if (r[ins->Dst] < r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jle64Imm: if (r[ins->Dst] <= imm) pc += ins->Offset; break;
                        case Op.Jle64Reg: if (r[ins->Dst] <= r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jslt64Imm: if ((long)r[ins->Dst] < (long)imm) pc += ins->Offset; break;
                        case Op.Jslt64Reg: if ((long)r[ins->Dst] < (long)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jsle64Imm: if ((long)r[ins->Dst] <= (long)imm) pc += ins->Offset; break;
                        case Op.Jsle64Reg: if ((long)r[ins->Dst] <= (long)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jeq32Imm: if ((uint)r[ins->Dst] == (uint)imm) pc += ins->Offset; break;
                        case Op.Jeq32Reg: if ((uint)r[ins->Dst] == (uint)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jgt32Imm: if ((uint)r[ins->Dst] > (uint)imm) pc += ins->Offset; break;
                        case Op.Jgt32Reg: if ((uint)r[ins->Dst] > (uint)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jge32Imm: if ((uint)r[ins->Dst] >= (uint)imm) pc += ins->Offset; break;
                        case Op.Jge32Reg: if ((uint)r[ins->Dst] >= (uint)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jset32Imm: if (((uint)r[ins->Dst] & (uint)imm) != 0) pc += ins->Offset; break;
                        case Op.Jset32Reg: if (((uint)r[ins->Dst] & (uint)r[ins->Src]) != 0) pc += ins->Offset; break;
                        case Op.Jne32Imm: if ((uint)r[ins->Dst] != (uint)imm) pc += ins->Offset; break;
                        case Op.Jne32Reg: if ((uint)r[ins->Dst] != (uint)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jsgt32Imm: if ((int)r[ins->Dst] > (int)imm) pc += ins->Offset; break;
                        case Op.Jsgt32Reg: if ((int)r[ins->Dst] > (int)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jsge32Imm: if ((int)r[ins->Dst] >= (int)imm) pc += ins->Offset; break;
                        case Op.Jsge32Reg: if ((int)r[ins->Dst] >= (int)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jlt32Imm: if ((uint)r[ins->Dst] < (uint)imm) pc += ins->Offset; break;
                        case Op.Jlt32Reg: if ((uint)r[ins->Dst] < (uint)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jle32Imm: if ((uint)r[ins->Dst] <= (uint)imm) pc += ins->Offset; break;
                        case Op.Jle32Reg: if ((uint)r[ins->Dst] <= (uint)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jslt32Imm: if ((int)r[ins->Dst] < (int)imm) pc += ins->Offset; break;
                        case Op.Jslt32Reg: if ((int)r[ins->Dst] < (int)r[ins->Src]) pc += ins->Offset; break;
                        case Op.Jsle32Imm: if ((int)r[ins->Dst] <= (int)imm) pc += ins->Offset; break;
                        case Op.Jsle32Reg: if ((int)r[ins->Dst] <= (int)r[ins->Src]) pc += ins->Offset; break;
                        // ---- calls and exit
                        case Op.Call:
                            r[0] = helpers[pc]!(context, r[1], r[2], r[3], r[4], r[5]);
                            break;
                        case Op.Callx:
                        {
                            var h = _helperTable.Find((long)r[ins->Dst])
                                ?? throw Fault(BpfFaultKind.UnknownHelper, pc, $"callx r{ins->Dst}: no helper with id {(long)r[ins->Dst]}");
                            r[0] = h.Function(context, r[1], r[2], r[3], r[4], r[5]);
                            break;
                        }
                        case Op.CallLocal:
                            if (depth + 1 >= maxDepth)
                                throw Fault(BpfFaultKind.CallDepthExceeded, pc, $"local call nests deeper than {maxDepth} frames");
                            returnPc[depth] = pc;
                            saved[depth * 5] = r[6];
                            saved[depth * 5 + 1] = r[7];
                            saved[depth * 5 + 2] = r[8];
                            saved[depth * 5 + 3] = r[9];
                            saved[depth * 5 + 4] = r[10];
                            depth++;
                            r[10] -= RunContext.FrameSize;
                            stackLow = r[10] - RunContext.FrameSize;
                            stackLen = context.StackTop - stackLow;
                            pc += (int)ins->Imm;
                            break;
                        case Op.Exit:
                            if (depth == 0) return r[0];
                            depth--;
                            pc = returnPc[depth];
                            r[6] = saved[depth * 5];
                            r[7] = saved[depth * 5 + 1];
                            r[8] = saved[depth * 5 + 2];
                            r[9] = saved[depth * 5 + 3];
                            r[10] = saved[depth * 5 + 4];
                            stackLow = r[10] - RunContext.FrameSize;
                            stackLen = context.StackTop - stackLow;
                            break;
                        // ---- loads
                        case Op.Ldxb: r[ins->Dst] = *Mem(context, r[ins->Src] + (ulong)ins->Offset, 1, false, pc, stackLow, stackLen); break;
                        case Op.Ldxh: r[ins->Dst] = Unsafe.ReadUnaligned<ushort>(Mem(context, r[ins->Src] + (ulong)ins->Offset, 2, false, pc, stackLow, stackLen)); break;
                        case Op.Ldxw: r[ins->Dst] = Unsafe.ReadUnaligned<uint>(Mem(context, r[ins->Src] + (ulong)ins->Offset, 4, false, pc, stackLow, stackLen)); break;
                        case Op.Ldxdw: r[ins->Dst] = Unsafe.ReadUnaligned<ulong>(Mem(context, r[ins->Src] + (ulong)ins->Offset, 8, false, pc, stackLow, stackLen)); break;
                        case Op.Ldxsb: r[ins->Dst] = (ulong)(long)*(sbyte*)Mem(context, r[ins->Src] + (ulong)ins->Offset, 1, false, pc, stackLow, stackLen); break;
                        case Op.Ldxsh: r[ins->Dst] = (ulong)(long)Unsafe.ReadUnaligned<short>(Mem(context, r[ins->Src] + (ulong)ins->Offset, 2, false, pc, stackLow, stackLen)); break;
                        case Op.Ldxsw: r[ins->Dst] = (ulong)(long)Unsafe.ReadUnaligned<int>(Mem(context, r[ins->Src] + (ulong)ins->Offset, 4, false, pc, stackLow, stackLen)); break;
                        // ---- stores
                        case Op.Stb: *Mem(context, r[ins->Dst] + (ulong)ins->Offset, 1, true, pc, stackLow, stackLen) = (byte)imm; break;
                        case Op.Sth: Unsafe.WriteUnaligned(Mem(context, r[ins->Dst] + (ulong)ins->Offset, 2, true, pc, stackLow, stackLen), (ushort)imm); break;
                        case Op.Stw: Unsafe.WriteUnaligned(Mem(context, r[ins->Dst] + (ulong)ins->Offset, 4, true, pc, stackLow, stackLen), (uint)imm); break;
                        case Op.Stdw: Unsafe.WriteUnaligned(Mem(context, r[ins->Dst] + (ulong)ins->Offset, 8, true, pc, stackLow, stackLen), imm); break;
                        case Op.Stxb: *Mem(context, r[ins->Dst] + (ulong)ins->Offset, 1, true, pc, stackLow, stackLen) = (byte)r[ins->Src]; break;
                        case Op.Stxh: Unsafe.WriteUnaligned(Mem(context, r[ins->Dst] + (ulong)ins->Offset, 2, true, pc, stackLow, stackLen), (ushort)r[ins->Src]); break;
                        case Op.Stxw: Unsafe.WriteUnaligned(Mem(context, r[ins->Dst] + (ulong)ins->Offset, 4, true, pc, stackLow, stackLen), (uint)r[ins->Src]); break;
                        case Op.Stxdw: Unsafe.WriteUnaligned(Mem(context, r[ins->Dst] + (ulong)ins->Offset, 8, true, pc, stackLow, stackLen), r[ins->Src]); break;
                        // ---- lddw
                        case Op.Lddw: r[ins->Dst] = imm; pc++; break;
                        case Op.LddwMapFd:
                        case Op.LddwMapValue:
                        case Op.LddwMapIndex:
                        case Op.LddwMapIndexValue:
                            // The loader replaces map references with plain lddw of the map's handle or value address.
                            throw Fault(BpfFaultKind.Unsupported, pc, $"unresolved map reference (lddw src {(int)ins->Info.LoadSource}): load the program through an object loader");
                        case Op.LddwBtfId:
                            throw Fault(BpfFaultKind.Unsupported, pc, "lddw of a kernel BTF variable needs the kernel engine");
                        case Op.LddwFunc:
                            r[ins->Dst] = (ulong)(pc + 1 + (int)ins->Imm);
                            pc++;
                            break;
                        case Op.CallKfunc:
                            throw Fault(BpfFaultKind.Unsupported, pc, $"kfunc call (BTF id {ins->Imm}) needs the kernel engine");
                        // ---- legacy packet loads: out of bounds ends the program with r0 = 0, as in the kernel
                        case Op.LdAbsB: case Op.LdAbsH: case Op.LdAbsW:
                        case Op.LdIndB: case Op.LdIndH: case Op.LdIndW:
                        {
                            int size = ins->Info.Size;
                            long off = (int)ins->Imm + (ins->Info.Kind == InstructionKind.LoadPacketInd ? (long)(int)(uint)r[ins->Src] : 0);
                            if (off < 0 || (ulong)off + (ulong)size > context.PacketLength)
                                return 0;
                            byte* p = (byte*)(context.PacketStart + (ulong)off);
                            r[0] = size switch
                            {
                                1 => *p,
                                2 => BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(p)),
                                _ => BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(p)),
                            };
                            break;
                        }
                        default:
                            if (pc == _code.Length - 1)
                                throw Fault(BpfFaultKind.FellOffEnd, pc, "execution ran past the last instruction without exit");
                            if (ins->Info.Kind == InstructionKind.Atomic)
                            {
                                Atomic(context, ins, r, pc, stackLow, stackLen);
                                break;
                            }
                            throw Fault(BpfFaultKind.Unsupported, pc, $"instruction {ins->Op} is not executable");
                    }
                    pc++;
                }
            }
        }
        finally
        {
            context.InstructionsExecuted = budget < 0 ? start : start - budget;
        }
    }

    private static void Atomic(RunContext context, Instruction* ins, ulong* r, int pc, ulong stackLow, ulong stackLen)
    {
        var row = ins->Info;
        byte* p = Mem(context, r[ins->Dst] + (ulong)ins->Offset, row.Size, true, pc, stackLow, stackLen);
        if (row.Size == 8)
        {
            ref ulong cell = ref Unsafe.AsRef<ulong>(p);
            ulong v = r[ins->Src];
            ulong old = row.Atomic switch
            {
                AtomicOp.Add => Interlocked.Add(ref cell, v) - v,
                AtomicOp.Or => Interlocked.Or(ref cell, v),
                AtomicOp.And => Interlocked.And(ref cell, v),
                AtomicOp.Xor => XorAtomic(ref cell, v),
                AtomicOp.Xchg => Interlocked.Exchange(ref cell, v),
                _ => Interlocked.CompareExchange(ref cell, v, r[0]),
            };
            if (row.Atomic == AtomicOp.CmpXchg) r[0] = old;
            else if (row.Fetch) r[ins->Src] = old;
        }
        else
        {
            ref uint cell = ref Unsafe.AsRef<uint>(p);
            uint v = (uint)r[ins->Src];
            uint old = row.Atomic switch
            {
                AtomicOp.Add => Interlocked.Add(ref cell, v) - v,
                AtomicOp.Or => Interlocked.Or(ref cell, v),
                AtomicOp.And => Interlocked.And(ref cell, v),
                AtomicOp.Xor => XorAtomic(ref cell, v),
                AtomicOp.Xchg => Interlocked.Exchange(ref cell, v),
                _ => Interlocked.CompareExchange(ref cell, v, (uint)r[0]),
            };
            if (row.Atomic == AtomicOp.CmpXchg) r[0] = old;
            else if (row.Fetch) r[ins->Src] = old;
        }
    }

    /// <summary>Atomic xor returning the old value (Interlocked has no Xor).</summary>
    public static ulong XorAtomic(ref ulong cell, ulong v)
    {
        ulong old;
        do { old = Volatile.Read(ref cell); } while (Interlocked.CompareExchange(ref cell, old ^ v, old) != old);
        return old;
    }

    /// <summary>Atomic 32-bit xor returning the old value.</summary>
    public static uint XorAtomic(ref uint cell, uint v)
    {
        uint old;
        do { old = Volatile.Read(ref cell); } while (Interlocked.CompareExchange(ref cell, old ^ v, old) != old);
        return old;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* Mem(RunContext context, ulong address, int size, bool write, int pc, ulong stackLow, ulong stackLen)
    {
        // Fast path: the current frame and its callers' frames.
        if (address - stackLow <= stackLen - (ulong)size) return (byte*)address;
        return context.CheckSlow(address, size, write, pc, stackLow);
    }

    private static BpfFaultException Fault(BpfFaultKind kind, int pc, string detail) => new(new BpfFault(kind, pc, detail));
}
