using System.Globalization;
using System.Text;
using BpfSharp.Isa;

namespace BpfSharp.Asm;

/// <summary>
/// The kernel verifier log's spelling of instructions (kernel/bpf/disasm.c): an opcode column, signed decimal ALU
/// immediates and memory offsets (<c>(r1 +4)</c>), hex comparison immediates, <c>pc+N</c> targets, and
/// <c>atomic64_*</c> names with r registers for every atomic.
/// </summary>
internal static class LlvmKernelLog
{
    public static void Append(StringBuilder sb, in Instruction ins, LlvmDisassemblyOptions options)
    {
        var row = ins.Info;
        if (row.Kind == InstructionKind.Invalid)
        {
            sb.Append("<unknown>");
            return;
        }
        sb.Append('(').Append(row.Opcode.ToString("x2", CultureInfo.InvariantCulture)).Append(") ");
        char width = row.Is64 ? 'r' : 'w';
        var inv = CultureInfo.InvariantCulture;
        switch (row.Kind)
        {
            case InstructionKind.Alu:
                sb.Append(width).Append(ins.Dst);
                switch (row.Alu)
                {
                    case AluOp.Neg:
                        sb.Append(" = -").Append(width).Append(ins.Dst);
                        return;
                    case AluOp.MovSx8 or AluOp.MovSx16 or AluOp.MovSx32:
                        sb.Append(" = (s").Append(row.Alu == AluOp.MovSx8 ? 8 : row.Alu == AluOp.MovSx16 ? 16 : 32).Append(')')
                          .Append(width).Append(ins.Src);
                        return;
                }
                sb.Append(' ').Append(row.Alu == AluOp.Mov ? "=" : LlvmSyntax.AluOperator(row.Alu)).Append(' ');
                if (row.RegisterSource) sb.Append(width).Append(ins.Src);
                else sb.Append(ins.Imm32.ToString(inv));
                return;
            case InstructionKind.Endian:
                sb.Append('r').Append(ins.Dst).Append(" = ")
                  .Append(row.Alu switch { AluOp.ToLe => "le", AluOp.ToBe => "be", _ => "bswap" })
                  .Append(row.DiscriminatorValue).Append(" r").Append(ins.Dst);
                return;
            case InstructionKind.Jump:
                sb.Append(row.Is64 ? "goto pc" : "gotol pc");
                Signed(sb, row.Is64 ? ins.Offset : ins.Imm32);
                return;
            case InstructionKind.CondJump:
                sb.Append("if ").Append(width).Append(ins.Dst).Append(' ').Append(LlvmSyntax.ConditionOperator(row.Condition)).Append(' ');
                if (row.RegisterSource) sb.Append(width).Append(ins.Src);
                else sb.Append("0x").Append(((uint)ins.Imm32).ToString("x", inv));
                sb.Append(" goto pc");
                Signed(sb, ins.Offset);
                return;
            case InstructionKind.Call:
                switch (row.Call)
                {
                    case CallKind.Local:
                        sb.Append("call pc");
                        Signed(sb, ins.Imm32);
                        return;
                    case CallKind.Register:
                        sb.Append("callx r").Append(ins.Dst);
                        return;
                    default:
                        string? name = null;
                        if (row.Call == CallKind.Helper && options.HelperNames?.TryGetValue(ins.Imm32, out name) != true
                            && HelperNames.Find(ins.Imm32) is { } known)
                            name = "bpf_" + known;
                        sb.Append("call ").Append(name ?? "unknown").Append('#').Append(ins.Imm32.ToString(inv));
                        return;
                }
            case InstructionKind.Exit:
                sb.Append("exit");
                return;
            case InstructionKind.Load:
                sb.Append('r').Append(ins.Dst).Append(" = *(").Append(LlvmSyntax.SizeName(row.Size, row.SignExtend)).Append(" *)");
                Address(sb, ins.Src, ins.Offset);
                return;
            case InstructionKind.StoreImm:
                sb.Append("*(").Append(LlvmSyntax.SizeName(row.Size)).Append(" *)");
                Address(sb, ins.Dst, ins.Offset);
                sb.Append(" = ").Append(ins.Imm32.ToString(inv));
                return;
            case InstructionKind.StoreReg:
                sb.Append("*(").Append(LlvmSyntax.SizeName(row.Size)).Append(" *)");
                Address(sb, ins.Dst, ins.Offset);
                sb.Append(" = r").Append(ins.Src);
                return;
            case InstructionKind.Atomic:
                AppendAtomic(sb, ins, row);
                return;
            case InstructionKind.LoadImm64:
                sb.Append('r').Append(ins.Dst).Append(" = 0x").Append(((ulong)ins.Imm).ToString("x", inv));
                return;
            case InstructionKind.LoadPacketAbs:
                sb.Append("r0 = *(").Append(LlvmSyntax.SizeName(row.Size)).Append(" *)skb[").Append(ins.Imm32.ToString(inv)).Append(']');
                return;
            case InstructionKind.LoadPacketInd:
                sb.Append("r0 = *(").Append(LlvmSyntax.SizeName(row.Size)).Append(" *)skb[r").Append(ins.Src).Append(" + ")
                  .Append(ins.Imm32.ToString(inv)).Append(']');
                return;
            default:
                sb.Append("<unknown>");
                return;
        }
    }

    private static void AppendAtomic(StringBuilder sb, in Instruction ins, OpInfo row)
    {
        string size = LlvmSyntax.SizeName(row.Size);
        string bits = row.Is64 ? "64" : "";
        if (!row.Fetch)
        {
            sb.Append("lock *(").Append(size).Append(" *)");
            Address(sb, ins.Dst, ins.Offset);
            sb.Append(' ').Append(LlvmSyntax.AtomicOperator(row.Atomic)).Append(" r").Append(ins.Src);
            return;
        }
        switch (row.Atomic)
        {
            case AtomicOp.CmpXchg:
                sb.Append("r0 = atomic").Append(bits).Append("_cmpxchg((").Append(size).Append(" *)");
                Address(sb, ins.Dst, ins.Offset);
                sb.Append(", r0, r").Append(ins.Src).Append(')');
                return;
            case AtomicOp.Xchg:
                sb.Append('r').Append(ins.Src).Append(" = atomic").Append(bits).Append("_xchg((").Append(size).Append(" *)");
                break;
            default:
                sb.Append('r').Append(ins.Src).Append(" = atomic").Append(bits).Append("_fetch_")
                  .Append(LlvmSyntax.AtomicFetchName(row.Atomic)["atomic_fetch_".Length..]).Append("((").Append(size).Append(" *)");
                break;
        }
        Address(sb, ins.Dst, ins.Offset);
        sb.Append(", r").Append(ins.Src).Append(')');
    }

    private static void Address(StringBuilder sb, int register, short offset)
    {
        sb.Append("(r").Append(register).Append(' ');
        Signed(sb, offset);
        sb.Append(')');
    }

    private static void Signed(StringBuilder sb, long value) =>
        sb.Append(value < 0 ? "" : "+").Append(value.ToString(CultureInfo.InvariantCulture));
}
