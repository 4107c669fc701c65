using System.Buffers.Binary;
using System.Reflection;
using System.Reflection.Emit;

namespace BpfSharp.Classic;

/// <summary>A classic BPF filter compiled to a .NET method: the fastest way to run one on many packets.</summary>
public sealed unsafe class CbpfCompiledFilter
{
    internal delegate uint Native(byte* packet, uint capturedLength, uint wireLength);

    private readonly Native _native;

    internal CbpfCompiledFilter(Native native) => _native = native;

    /// <summary>Runs the filter over <paramref name="packet"/> (captured bytes) of a packet that was
    /// <paramref name="wireLength"/> bytes on the wire; returns the verdict (0 = drop), exactly as
    /// <see cref="CbpfInterpreter"/> would without ancillary metadata.</summary>
    public uint Run(ReadOnlySpan<byte> packet, uint wireLength)
    {
        fixed (byte* p = packet)
            return _native(p, (uint)packet.Length, wireLength);
    }

    /// <summary>Runs the filter over a packet whose wire length equals its captured length.</summary>
    public uint Run(ReadOnlySpan<byte> packet) => Run(packet, (uint)packet.Length);
}

/// <summary>
/// Compiles classic BPF directly to IL (System.Reflection.Emit): A, X and the scratch words become locals, every
/// jump a branch, and each packet load an inlined bounds check plus an unaligned big-endian read.
/// </summary>
public static class CbpfIlCompiler
{
    private static readonly MethodInfo Swap32 = typeof(BinaryPrimitives).GetMethod(nameof(BinaryPrimitives.ReverseEndianness), new[] { typeof(uint) })!;
    private static readonly MethodInfo Swap16 = typeof(BinaryPrimitives).GetMethod(nameof(BinaryPrimitives.ReverseEndianness), new[] { typeof(ushort) })!;

    /// <summary>Compiles a program that passes <see cref="CbpfValidator"/>.</summary>
    /// <exception cref="CbpfValidationException">The program is not acceptable to the kernel's checker.</exception>
    public static CbpfCompiledFilter Compile(ReadOnlySpan<CbpfInstruction> program)
    {
        CbpfValidator.Validate(program);
        var method = new DynamicMethod("cbpf_filter", typeof(uint), new[] { typeof(byte*), typeof(uint), typeof(uint) },
            typeof(CbpfIlCompiler).Module, skipVisibility: true);
        var il = method.GetILGenerator(program.Length * 24);
        var a = il.DeclareLocal(typeof(uint));
        var x = il.DeclareLocal(typeof(uint));
        var off = il.DeclareLocal(typeof(ulong));
        var mem = new LocalBuilder[Bpf.MemWords];
        for (int i = 0; i < mem.Length; i++)
            mem[i] = il.DeclareLocal(typeof(uint));
        var labels = new Label[program.Length];
        for (int i = 0; i < labels.Length; i++)
            labels[i] = il.DefineLabel();
        var reject = il.DefineLabel();

        for (int pc = 0; pc < program.Length; pc++)
        {
            il.MarkLabel(labels[pc]);
            var insn = program[pc];
            uint k = insn.K;
            ushort code = insn.Code;
            switch (Bpf.Class(code))
            {
                case Bpf.LD:
                case Bpf.LDX:
                    {
                        var dst = Bpf.Class(code) == Bpf.LD ? a : x;
                        switch (Bpf.Mode(code))
                        {
                            case Bpf.IMM: EmitU32(il, k); il.Emit(OpCodes.Stloc, dst); break;
                            case Bpf.LEN: il.Emit(OpCodes.Ldarg_2); il.Emit(OpCodes.Stloc, dst); break;
                            case Bpf.MEM: il.Emit(OpCodes.Ldloc, mem[k & 15]); il.Emit(OpCodes.Stloc, dst); break;
                            case Bpf.ABS:
                                if (k >= Bpf.SkfAdOff)
                                {
                                    il.Emit(OpCodes.Br, reject); // no socket buffer here: like libpcap, verdict 0
                                    break;
                                }
                                il.Emit(OpCodes.Ldc_I8, (long)k);
                                il.Emit(OpCodes.Stloc, off);
                                EmitCheckedLoad(il, off, Width(code), reject);
                                il.Emit(OpCodes.Stloc, dst);
                                break;
                            case Bpf.IND:
                                il.Emit(OpCodes.Ldloc, x);
                                il.Emit(OpCodes.Conv_U8);
                                il.Emit(OpCodes.Ldc_I8, (long)k);
                                il.Emit(OpCodes.Add);
                                il.Emit(OpCodes.Stloc, off);
                                EmitCheckedLoad(il, off, Width(code), reject);
                                il.Emit(OpCodes.Stloc, dst);
                                break;
                            case Bpf.MSH:
                                il.Emit(OpCodes.Ldc_I8, (long)k);
                                il.Emit(OpCodes.Stloc, off);
                                EmitCheckedLoad(il, off, 1, reject);
                                il.Emit(OpCodes.Ldc_I4, 0xf);
                                il.Emit(OpCodes.And);
                                il.Emit(OpCodes.Ldc_I4_2);
                                il.Emit(OpCodes.Shl);
                                il.Emit(OpCodes.Stloc, x);
                                break;
                        }
                        break;
                    }
                case Bpf.ST: il.Emit(OpCodes.Ldloc, a); il.Emit(OpCodes.Stloc, mem[k & 15]); break;
                case Bpf.STX: il.Emit(OpCodes.Ldloc, x); il.Emit(OpCodes.Stloc, mem[k & 15]); break;
                case Bpf.MISC:
                    if (Bpf.MiscOp(code) == Bpf.TAX) { il.Emit(OpCodes.Ldloc, a); il.Emit(OpCodes.Stloc, x); }
                    else { il.Emit(OpCodes.Ldloc, x); il.Emit(OpCodes.Stloc, a); }
                    break;
                case Bpf.ALU:
                    EmitAlu(il, code, k, a, x, reject);
                    break;
                case Bpf.RET:
                    if (Bpf.RVal(code) == Bpf.A) il.Emit(OpCodes.Ldloc, a);
                    else if (Bpf.RVal(code) == Bpf.X) il.Emit(OpCodes.Ldloc, x);
                    else EmitU32(il, k);
                    il.Emit(OpCodes.Ret);
                    break;
                case Bpf.JMP:
                    {
                        int op = Bpf.Op(code);
                        if (op == Bpf.JA)
                        {
                            il.Emit(OpCodes.Br, labels[pc + 1 + (int)k]);
                            break;
                        }
                        var t = labels[pc + 1 + insn.Jt];
                        var f = labels[pc + 1 + insn.Jf];
                        il.Emit(OpCodes.Ldloc, a);
                        if (Bpf.Src(code) == Bpf.X) il.Emit(OpCodes.Ldloc, x); else EmitU32(il, k);
                        switch (op)
                        {
                            case Bpf.JEQ: il.Emit(OpCodes.Beq, t); break;
                            case Bpf.JGT: il.Emit(OpCodes.Bgt_Un, t); break;
                            case Bpf.JGE: il.Emit(OpCodes.Bge_Un, t); break;
                            default: il.Emit(OpCodes.And); il.Emit(OpCodes.Brtrue, t); break;
                        }
                        il.Emit(OpCodes.Br, f);
                        break;
                    }
            }
        }
        il.MarkLabel(reject);
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Ret);
        return new CbpfCompiledFilter((CbpfCompiledFilter.Native)method.CreateDelegate(typeof(CbpfCompiledFilter.Native)));
    }

    private static int Width(ushort code) => Bpf.Size(code) switch { Bpf.W => 4, Bpf.H => 2, _ => 1 };

    private static void EmitU32(ILGenerator il, uint k) => il.Emit(OpCodes.Ldc_I4, unchecked((int)k));

    // if (off + width > capturedLength) goto reject; push the big-endian value at packet + off.
    private static void EmitCheckedLoad(ILGenerator il, LocalBuilder off, int width, Label reject)
    {
        il.Emit(OpCodes.Ldloc, off);
        il.Emit(OpCodes.Ldc_I8, (long)width);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Conv_U8);
        il.Emit(OpCodes.Bgt_Un, reject);
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldloc, off);
        il.Emit(OpCodes.Conv_U);
        il.Emit(OpCodes.Add);
        switch (width)
        {
            case 4:
                il.Emit(OpCodes.Unaligned, (byte)1);
                il.Emit(OpCodes.Ldind_U4);
                il.Emit(OpCodes.Call, Swap32);
                break;
            case 2:
                il.Emit(OpCodes.Unaligned, (byte)1);
                il.Emit(OpCodes.Ldind_U2);
                il.Emit(OpCodes.Call, Swap16);
                break;
            default:
                il.Emit(OpCodes.Ldind_U1);
                break;
        }
    }

    private static void EmitAlu(ILGenerator il, ushort code, uint k, LocalBuilder a, LocalBuilder x, Label reject)
    {
        int op = Bpf.Op(code);
        bool byX = Bpf.Src(code) == Bpf.X;
        if (op == Bpf.NEG)
        {
            il.Emit(OpCodes.Ldloc, a);
            il.Emit(OpCodes.Neg);
            il.Emit(OpCodes.Stloc, a);
            return;
        }
        if (byX && op is Bpf.DIV or Bpf.MOD)
        {
            il.Emit(OpCodes.Ldloc, x);
            il.Emit(OpCodes.Brfalse, reject);
        }
        il.Emit(OpCodes.Ldloc, a);
        if (byX) il.Emit(OpCodes.Ldloc, x); else EmitU32(il, k);
        if (byX && op is Bpf.LSH or Bpf.RSH)
        {
            // IL leaves shifts of 32 or more unspecified; mask like the interpreter (C#) does.
            il.Emit(OpCodes.Ldc_I4, 31);
            il.Emit(OpCodes.And);
        }
        il.Emit(op switch
        {
            Bpf.ADD => OpCodes.Add,
            Bpf.SUB => OpCodes.Sub,
            Bpf.MUL => OpCodes.Mul,
            Bpf.DIV => OpCodes.Div_Un,
            Bpf.MOD => OpCodes.Rem_Un,
            Bpf.AND => OpCodes.And,
            Bpf.OR => OpCodes.Or,
            Bpf.XOR => OpCodes.Xor,
            Bpf.LSH => OpCodes.Shl,
            _ => OpCodes.Shr_Un,
        });
        il.Emit(OpCodes.Stloc, a);
    }
}
