using BpfSharp.Verifier.Domains;

namespace BpfSharp.Verifier.Tests.Domains;

/// <summary>
/// Concrete eBPF semantics written straight from RFC 9669 (§4.1 arithmetic, §4.2 byte swap, §4.3 jumps), kept
/// deliberately separate from the verifier's code: 32-bit forms compute on uint/int and zero-extend, shift amounts
/// are masked, x/0 = 0, x%0 = x, signed MIN/-1 = MIN and MIN%-1 = 0.
/// </summary>
internal static class ReferenceSemantics
{
    public static ulong Binary(ScalarBinaryOp op, ulong dst, ulong src, AluWidth width) =>
        width == AluWidth.Bits64 ? Alu64(op, dst, src) : Alu32(op, (uint)dst, (uint)src);

    private static ulong Alu64(ScalarBinaryOp op, ulong d, ulong s)
    {
        long sd = (long)d, ss = (long)s;
        switch (op)
        {
            case ScalarBinaryOp.Add: return unchecked(d + s);
            case ScalarBinaryOp.Sub: return unchecked(d - s);
            case ScalarBinaryOp.Mul: return unchecked(d * s);
            case ScalarBinaryOp.Div: return s == 0 ? 0 : d / s;
            case ScalarBinaryOp.Mod: return s == 0 ? d : d % s;
            case ScalarBinaryOp.SDiv:
                if (ss == 0) return 0;
                if (sd == long.MinValue && ss == -1) return d;
                return (ulong)(sd / ss);
            case ScalarBinaryOp.SMod:
                if (ss == 0) return d;
                if (ss == -1) return 0;
                return (ulong)(sd % ss);
            case ScalarBinaryOp.And: return d & s;
            case ScalarBinaryOp.Or: return d | s;
            case ScalarBinaryOp.Xor: return d ^ s;
            case ScalarBinaryOp.Lsh: return d << (int)(s & 63);
            case ScalarBinaryOp.Rsh: return d >> (int)(s & 63);
            case ScalarBinaryOp.Arsh: return (ulong)(sd >> (int)(s & 63));
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    private static ulong Alu32(ScalarBinaryOp op, uint d, uint s)
    {
        int sd = (int)d, ss = (int)s;
        uint r;
        switch (op)
        {
            case ScalarBinaryOp.Add: r = unchecked(d + s); break;
            case ScalarBinaryOp.Sub: r = unchecked(d - s); break;
            case ScalarBinaryOp.Mul: r = unchecked(d * s); break;
            case ScalarBinaryOp.Div: r = s == 0 ? 0 : d / s; break;
            case ScalarBinaryOp.Mod: r = s == 0 ? d : d % s; break;
            case ScalarBinaryOp.SDiv:
                r = ss == 0 ? 0 : sd == int.MinValue && ss == -1 ? d : (uint)(sd / ss);
                break;
            case ScalarBinaryOp.SMod:
                r = ss == 0 ? d : ss == -1 ? 0 : (uint)(sd % ss);
                break;
            case ScalarBinaryOp.And: r = d & s; break;
            case ScalarBinaryOp.Or: r = d | s; break;
            case ScalarBinaryOp.Xor: r = d ^ s; break;
            case ScalarBinaryOp.Lsh: r = d << (int)(s & 31); break;
            case ScalarBinaryOp.Rsh: r = d >> (int)(s & 31); break;
            case ScalarBinaryOp.Arsh: r = (uint)(sd >> (int)(s & 31)); break;
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
        return r; // zero extension
    }

    public static ulong Unary(ScalarUnaryOp op, ulong d, AluWidth width)
    {
        bool is64 = width == AluWidth.Bits64;
        switch (op)
        {
            case ScalarUnaryOp.Neg: return is64 ? unchecked(0 - d) : unchecked(0u - (uint)d);
            case ScalarUnaryOp.Mov: return is64 ? d : (uint)d;
            case ScalarUnaryOp.MovSx8: return is64 ? (ulong)(long)(sbyte)(byte)d : (uint)(int)(sbyte)(byte)d;
            case ScalarUnaryOp.MovSx16: return is64 ? (ulong)(long)(short)(ushort)d : (uint)(int)(short)(ushort)d;
            case ScalarUnaryOp.MovSx32: return (ulong)(long)(int)(uint)d;
            case ScalarUnaryOp.Bswap16: case ScalarUnaryOp.ToBe16: return ReverseBytes(d, 2);
            case ScalarUnaryOp.Bswap32: case ScalarUnaryOp.ToBe32: return ReverseBytes(d, 4);
            case ScalarUnaryOp.Bswap64: case ScalarUnaryOp.ToBe64: return ReverseBytes(d, 8);
            case ScalarUnaryOp.ToLe16: return (ushort)d;
            case ScalarUnaryOp.ToLe32: return (uint)d;
            case ScalarUnaryOp.ToLe64: return d;
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    private static ulong ReverseBytes(ulong x, int count)
    {
        ulong result = 0;
        for (int i = 0; i < count; i++)
            result |= ((x >> (8 * i)) & 0xFF) << (8 * (count - 1 - i));
        return result;
    }

    public static bool Jump(BranchCondition c, ulong a, ulong b, AluWidth width)
    {
        if (width == AluWidth.Bits32)
        {
            uint ua = (uint)a, ub = (uint)b;
            int sa = (int)ua, sb = (int)ub;
            return c switch
            {
                BranchCondition.Eq => ua == ub,
                BranchCondition.Ne => ua != ub,
                BranchCondition.Gt => ua > ub,
                BranchCondition.Ge => ua >= ub,
                BranchCondition.Lt => ua < ub,
                BranchCondition.Le => ua <= ub,
                BranchCondition.SGt => sa > sb,
                BranchCondition.SGe => sa >= sb,
                BranchCondition.SLt => sa < sb,
                BranchCondition.SLe => sa <= sb,
                BranchCondition.Set => (ua & ub) != 0,
                _ => throw new ArgumentOutOfRangeException(nameof(c)),
            };
        }
        long la = (long)a, lb = (long)b;
        return c switch
        {
            BranchCondition.Eq => a == b,
            BranchCondition.Ne => a != b,
            BranchCondition.Gt => a > b,
            BranchCondition.Ge => a >= b,
            BranchCondition.Lt => a < b,
            BranchCondition.Le => a <= b,
            BranchCondition.SGt => la > lb,
            BranchCondition.SGe => la >= lb,
            BranchCondition.SLt => la < lb,
            BranchCondition.SLe => la <= lb,
            BranchCondition.Set => (a & b) != 0,
            _ => throw new ArgumentOutOfRangeException(nameof(c)),
        };
    }
}
