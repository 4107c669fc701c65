using System.Globalization;
using System.Text;
using BpfSharp.Isa;

namespace BpfSharp.Asm;

/// <summary>
/// Assembler for the conformance-suite syntax: one instruction per line, <c>#</c> comments, <c>name:</c> labels,
/// registers <c>%rN</c>, memory operands <c>[%rN+off]</c>, jump targets as <c>+N</c>/<c>-N</c> or a label. The
/// target <c>exit</c>, when no label has that name, means the next exit instruction (as the suite's files use it).
/// Mnemonics come from the opcode table.
/// </summary>
public static class ConformanceAssembler
{
    private static readonly Dictionary<string, OpInfo[]> RowsByMnemonic = BuildMnemonicIndex();

    private static Dictionary<string, OpInfo[]> BuildMnemonicIndex()
    {
        var map = new Dictionary<string, List<OpInfo>>(StringComparer.Ordinal);
        foreach (var row in OpcodeTable.Rows)
        {
            if (row.Op == Op.LddwHigh) continue;
            if (!map.TryGetValue(row.Mnemonic, out var list)) map[row.Mnemonic] = list = [];
            list.Add(row);
        }
        // The suite spells the unconditional byte swap both ways.
        foreach (var b in new[] { "16", "32", "64" }) map["swap" + b] = map["bswap" + b];
        var result = new Dictionary<string, OpInfo[]>(StringComparer.Ordinal);
        foreach (var (k, v) in map) result[k] = [.. v];
        return result;
    }

    private readonly record struct Pending(int Slot, int LineNo, string Target, int Column, bool IsImm);

    /// <summary>Assembles text into a validated program; throws <see cref="AsmException"/> naming line and column.</summary>
    public static BpfProgram Assemble(string text, string name = "prog")
    {
        ArgumentNullException.ThrowIfNull(text);
        var instructions = new List<Instruction>();
        var slotOfInstruction = new List<int>();
        var labels = new Dictionary<string, int>(StringComparer.Ordinal);
        var pending = new List<Pending>();
        var exitSlots = new List<int>();
        var lines = text.Split('\n');
        int slot = 0;
        for (int ln = 0; ln < lines.Length; ln++)
        {
            string line = lines[ln];
            int hash = line.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0) line = line[..hash];
            string trimmed = line.Trim();
            if (trimmed.Length == 0) continue;
            int indent = line.IndexOf(trimmed[0], StringComparison.Ordinal) + 1;
            if (trimmed.EndsWith(':'))
            {
                string label = trimmed[..^1].Trim();
                if (!IsIdentifier(label)) throw new AsmException($"invalid label '{label}'", ln + 1, indent);
                if (!labels.TryAdd(label, slot)) throw new AsmException($"duplicate label '{label}'", ln + 1, indent);
                continue;
            }
            var ins = ParseLine(trimmed, ln + 1, indent, slot, pending);
            instructions.Add(ins);
            slotOfInstruction.Add(slot);
            if (ins.Op == Op.Exit) exitSlots.Add(slot);
            slot += ins.Width;
        }
        if (instructions.Count == 0) throw new AsmException("no instructions", 1, 1);

        foreach (var p in pending)
        {
            int target;
            if (labels.TryGetValue(p.Target, out int labelSlot)) target = labelSlot;
            else if (p.Target == "exit")
            {
                int idx = exitSlots.FindIndex(s => s > p.Slot);
                if (idx < 0) throw new AsmException("no exit instruction after this jump to 'exit'", p.LineNo, p.Column);
                target = exitSlots[idx];
            }
            else throw new AsmException($"undefined label '{p.Target}'", p.LineNo, p.Column);
            int i = slotOfInstruction.BinarySearch(p.Slot);
            long delta = target - (p.Slot + 1);
            var old = instructions[i];
            if (p.IsImm) instructions[i] = old with { Imm = delta };
            else
            {
                if (delta is < short.MinValue or > short.MaxValue)
                    throw new AsmException($"jump to '{p.Target}' is out of the 16-bit offset range", p.LineNo, p.Column);
                instructions[i] = old with { Offset = (short)delta };
            }
        }
        try
        {
            return BpfProgram.FromInstructions(instructions, name);
        }
        catch (BpfDecodeException e) when (e.InstructionIndex >= 0)
        {
            // Map the slot back to its source line for the message.
            throw new AsmException(e.Error.Message + $" (instruction {e.InstructionIndex})", LineOfSlot(lines, e.InstructionIndex), 1);
        }
    }

    private static int LineOfSlot(string[] lines, int wanted)
    {
        int slot = 0;
        for (int ln = 0; ln < lines.Length; ln++)
        {
            string t = lines[ln];
            int hash = t.IndexOf('#', StringComparison.Ordinal);
            if (hash >= 0) t = t[..hash];
            t = t.Trim();
            if (t.Length == 0 || t.EndsWith(':')) continue;
            int width = t.StartsWith("lddw", StringComparison.Ordinal) ? 2 : 1;
            if (wanted >= slot && wanted < slot + width) return ln + 1;
            slot += width;
        }
        return lines.Length;
    }

    private static bool IsIdentifier(string s)
    {
        if (s.Length == 0 || !(char.IsLetter(s[0]) || s[0] == '_' || s[0] == '.')) return false;
        foreach (char c in s) if (!(char.IsLetterOrDigit(c) || c == '_' || c == '.')) return false;
        return true;
    }

    private sealed class Cursor(string text, int line, int column0)
    {
        public int Pos;
        public readonly string Text = text;
        public int Line => line;
        public int Column => column0 + Pos;
        public AsmException Error(string message) => new(message, line, column0 + Pos);
        public void SkipSpaces() { while (Pos < Text.Length && char.IsWhiteSpace(Text[Pos])) Pos++; }
        public bool AtEnd { get { SkipSpaces(); return Pos >= Text.Length; } }
        public char Peek() { SkipSpaces(); return Pos < Text.Length ? Text[Pos] : '\0'; }
        public void Expect(char c)
        {
            if (Peek() != c) throw Error(Pos < Text.Length ? $"expected '{c}' but found '{Text[Pos]}'" : $"expected '{c}' at end of line");
            Pos++;
        }
        public string Word()
        {
            SkipSpaces();
            int start = Pos;
            while (Pos < Text.Length && (char.IsLetterOrDigit(Text[Pos]) || Text[Pos] == '_' || Text[Pos] == '.')) Pos++;
            return Text[start..Pos];
        }
    }

    private static Instruction ParseLine(string text, int lineNo, int column, int slot, List<Pending> pending)
    {
        var c = new Cursor(text, lineNo, column);
        int mnemonicColumn = c.Column;
        string mnemonic = c.Word();
        if (mnemonic.Length == 0) throw c.Error($"expected a mnemonic but found '{text}'");
        if (mnemonic == "lock")
        {
            string op = c.Word();
            if (op.Length == 0) throw c.Error("Invalid number of operands for lock: expected an atomic operation");
            mnemonic = "lock " + op;
            if (op == "fetch") mnemonic += " " + c.Word();
        }
        if (mnemonic == "call")
        {
            if (c.Peek() == '%') return new Instruction(Op.Callx, ParseRegister(c), 0, 0, 0).Validated(c);
            int save = c.Pos;
            string kind = c.Word();
            if (kind is "local" or "kfunc") mnemonic = "call " + kind;
            else c.Pos = save;
        }
        if (!RowsByMnemonic.TryGetValue(mnemonic, out var rows))
            throw new AsmException($"unknown mnemonic '{mnemonic}'", lineNo, mnemonicColumn);
        var first = rows[0];
        Instruction result;
        switch (first.Kind)
        {
            case InstructionKind.Alu:
            {
                byte dst = ParseRegister(c);
                if (first.Alu == AluOp.Neg) { result = new Instruction(first.Op, dst, 0, 0, 0); break; }
                c.Expect(',');
                if (c.Peek() == '%')
                {
                    byte src = ParseRegister(c);
                    result = new Instruction(Pick(rows, true, c, mnemonic).Op, dst, src, 0, 0);
                }
                else result = new Instruction(Pick(rows, false, c, mnemonic).Op, dst, 0, 0, ParseImm32(c));
                break;
            }
            case InstructionKind.Endian:
                result = new Instruction(first.Op, ParseRegister(c), 0, 0, 0);
                break;
            case InstructionKind.Jump when first.Op == Op.Ja:
                result = new Instruction(Op.Ja, 0, 0, (short)ParseTarget(c, slot, pending, isImm: false), 0);
                break;
            case InstructionKind.Jump:
                result = new Instruction(Op.Ja32, 0, 0, 0, ParseTarget(c, slot, pending, isImm: true));
                break;
            case InstructionKind.CondJump:
            {
                byte dst = ParseRegister(c);
                c.Expect(',');
                bool isReg = c.Peek() == '%';
                byte src = isReg ? ParseRegister(c) : (byte)0;
                long imm = isReg ? 0 : ParseImm32(c);
                c.Expect(',');
                short off = (short)ParseTarget(c, slot, pending, isImm: false);
                result = new Instruction(Pick(rows, isReg, c, mnemonic).Op, dst, src, off, imm);
                break;
            }
            case InstructionKind.Call when first.Call == CallKind.Local:
                result = new Instruction(Op.CallLocal, 0, 0, 0, ParseTarget(c, slot, pending, isImm: true));
                break;
            case InstructionKind.Call when first.Call == CallKind.Register:
                result = new Instruction(Op.Callx, ParseRegister(c), 0, 0, 0);
                break;
            case InstructionKind.Call:
                result = new Instruction(first.Op, 0, 0, 0, ParseImm32(c));
                break;
            case InstructionKind.Exit:
                result = new Instruction(Op.Exit, 0, 0, 0, 0);
                break;
            case InstructionKind.Load:
            {
                byte dst = ParseRegister(c);
                c.Expect(',');
                var (src, off) = ParseMemory(c);
                result = new Instruction(first.Op, dst, src, off, 0);
                break;
            }
            case InstructionKind.StoreImm:
            {
                var (dst, off) = ParseMemory(c);
                c.Expect(',');
                result = new Instruction(first.Op, dst, 0, off, ParseImm32(c));
                break;
            }
            case InstructionKind.StoreReg:
            case InstructionKind.Atomic:
            {
                var (dst, off) = ParseMemory(c);
                if (c.AtEnd) throw c.Error($"Invalid number of operands for {mnemonic}: expected a source register");
                c.Expect(',');
                result = new Instruction(first.Op, dst, ParseRegister(c), off, 0);
                break;
            }
            case InstructionKind.LoadImm64:
                result = ParseLddw(c);
                break;
            case InstructionKind.LoadPacketAbs:
                result = new Instruction(first.Op, 0, 0, 0, ParseImm32(c));
                break;
            case InstructionKind.LoadPacketInd:
            {
                byte src = ParseRegister(c);
                c.Expect(',');
                result = new Instruction(first.Op, 0, src, 0, ParseImm32(c));
                break;
            }
            default:
                throw new AsmException($"'{mnemonic}' cannot be assembled", lineNo, mnemonicColumn);
        }
        if (!c.AtEnd) throw c.Error($"unexpected '{c.Text[c.Pos..].Trim()}' after the operands of {mnemonic}");
        return result;
    }

    private static Instruction Validated(this Instruction ins, Cursor c)
    {
        if (!c.AtEnd) throw c.Error($"unexpected '{c.Text[c.Pos..].Trim()}' after the operands");
        return ins;
    }

    private static OpInfo Pick(OpInfo[] rows, bool registerSource, Cursor c, string mnemonic)
    {
        // Rows that share a mnemonic differ only in the operand source.
        foreach (var row in rows)
            if (row.RegisterSource == registerSource) return row;
        throw c.Error(registerSource ? $"{mnemonic} takes an immediate, not a register" : $"{mnemonic} takes a register, not an immediate");
    }

    private static Instruction ParseLddw(Cursor c)
    {
        byte dst = ParseRegister(c);
        c.Expect(',');
        int save = c.Pos;
        string word = c.Word();
        LoadImm64Source source = word switch
        {
            "map_fd" => LoadImm64Source.MapFd,
            "map_value" => LoadImm64Source.MapValue,
            "btf_id" => LoadImm64Source.BtfId,
            "func" => LoadImm64Source.Func,
            "map_idx" => LoadImm64Source.MapIndex,
            "map_idx_value" => LoadImm64Source.MapIndexValue,
            _ => LoadImm64Source.Imm64,
        };
        Op op = (Op)((int)Op.Lddw + (int)source);
        if (source == LoadImm64Source.Imm64)
        {
            c.Pos = save;
            return new Instruction(Op.Lddw, dst, 0, 0, ParseImm64(c));
        }
        c.Expect('(');
        long low = ParseImm32(c);
        long high = 0;
        if (source is LoadImm64Source.MapValue or LoadImm64Source.MapIndexValue)
        {
            c.Expect(',');
            high = ParseImm32(c);
        }
        c.Expect(')');
        return new Instruction(op, dst, 0, 0, (uint)low | (high << 32));
    }

    private static byte ParseRegister(Cursor c)
    {
        if (c.Peek() != '%') throw c.Error($"expected a register like %r1 but found '{Rest(c)}'");
        int start = c.Pos;
        c.Pos++;
        string w = c.Word();
        if (w.Length < 2 || w[0] != 'r' || !int.TryParse(w.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > 10)
        {
            c.Pos = start;
            throw c.Error($"invalid register '%{w}'");
        }
        return (byte)n;
    }

    private static string Rest(Cursor c) => c.Pos < c.Text.Length ? c.Text[c.Pos..].Trim() : "end of line";

    private static (byte Reg, short Offset) ParseMemory(Cursor c)
    {
        c.Expect('[');
        byte reg = ParseRegister(c);
        long off = 0;
        char sign = c.Peek();
        if (sign is '+' or '-')
        {
            c.Pos++;
            ulong magnitude = ParseUnsigned(c);
            off = magnitude > 0x10000 ? 0x10000 : (long)magnitude;
            if (sign == '-') off = -off;
        }
        c.Expect(']');
        if (off is < short.MinValue or > short.MaxValue) throw c.Error($"memory offset {off} does not fit in 16 bits");
        return (reg, (short)off);
    }

    private static long ParseTarget(Cursor c, int slot, List<Pending> pending, bool isImm)
    {
        char ch = c.Peek();
        if (ch is '+' or '-')
        {
            c.Pos++;
            ulong magnitude = ParseUnsigned(c);
            long v = magnitude > int.MaxValue + 1UL ? long.MaxValue : (long)magnitude;
            if (ch == '-') v = -v;
            if (!isImm && v is < short.MinValue or > short.MaxValue) throw c.Error($"jump offset {v} does not fit in 16 bits");
            if (v is < int.MinValue or > int.MaxValue) throw c.Error($"jump offset {v} does not fit in 32 bits");
            return v;
        }
        int col = c.Column;
        string label = c.Word();
        if (label.Length == 0) throw c.Error($"expected a jump target (+N, -N or a label) but found '{Rest(c)}'");
        pending.Add(new Pending(slot, c.Line, label, col, isImm));
        return 0;
    }

    private static int ParseImm32(Cursor c)
    {
        long v = ParseImm64(c);
        if (v is < int.MinValue or > uint.MaxValue) throw c.Error($"immediate {v} does not fit in 32 bits");
        return unchecked((int)v);
    }

    private static long ParseImm64(Cursor c)
    {
        bool neg = false;
        char ch = c.Peek();
        if (ch is '-' or '+') { neg = ch == '-'; c.Pos++; }
        ulong v = ParseUnsigned(c);
        return neg ? unchecked(-(long)v) : unchecked((long)v);
    }

    private static ulong ParseUnsigned(Cursor c)
    {
        c.SkipSpaces();
        int start = c.Pos;
        string w = c.Word();
        bool ok = w.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(w.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok)
        {
            c.Pos = start;
            throw c.Error(w.Length == 0 ? $"expected a number but found '{Rest(c)}'" : $"invalid number '{w}'");
        }
        return v;
    }
}

/// <summary>Prints programs in the conformance-suite syntax, which <see cref="ConformanceAssembler"/> reads back.</summary>
public static class ConformanceDisassembler
{
    /// <summary>One line per instruction (lddw's second slot is skipped).</summary>
    public static string Disassemble(BpfProgram program)
    {
        ArgumentNullException.ThrowIfNull(program);
        var sb = new StringBuilder();
        for (int pc = 0; pc < program.Count; pc++)
        {
            var ins = program[pc];
            if (ins.Op == Op.LddwHigh) continue;
            sb.Append(Format(ins)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Formats one instruction; jump targets are printed as relative offsets.</summary>
    public static string Format(Instruction ins)
    {
        var row = ins.Info;
        string m = row.Mnemonic;
        string d = "%r" + ins.Dst.ToString(CultureInfo.InvariantCulture);
        string s = "%r" + ins.Src.ToString(CultureInfo.InvariantCulture);
        string Mem(byte reg) => ins.Offset == 0 ? $"[%r{reg}]" : ins.Offset > 0 ? $"[%r{reg}+{ins.Offset}]" : $"[%r{reg}-{-ins.Offset}]";
        string Rel(long v) => v >= 0 ? "+" + v.ToString(CultureInfo.InvariantCulture) : v.ToString(CultureInfo.InvariantCulture);
        string Imm(long v) => v < 0 ? v.ToString(CultureInfo.InvariantCulture) : "0x" + v.ToString("x", CultureInfo.InvariantCulture);
        return row.Kind switch
        {
            InstructionKind.Alu when row.Alu == AluOp.Neg => $"{m} {d}",
            InstructionKind.Alu => row.RegisterSource ? $"{m} {d}, {s}" : $"{m} {d}, {Imm(ins.Imm)}",
            InstructionKind.Endian => $"{m} {d}",
            InstructionKind.Jump when ins.Op == Op.Ja => $"ja {Rel(ins.Offset)}",
            InstructionKind.Jump => $"ja32 {Rel(ins.Imm)}",
            InstructionKind.CondJump => row.RegisterSource ? $"{m} {d}, {s}, {Rel(ins.Offset)}" : $"{m} {d}, {Imm(ins.Imm)}, {Rel(ins.Offset)}",
            InstructionKind.Call when row.Call == CallKind.Local => $"call local {Rel(ins.Imm)}",
            InstructionKind.Call when row.Call == CallKind.Register => $"call {d}",
            InstructionKind.Call when row.Call == CallKind.Kfunc => $"call kfunc {Imm(ins.Imm)}",
            InstructionKind.Call => $"call {Imm(ins.Imm)}",
            InstructionKind.Exit => "exit",
            InstructionKind.Load => $"{m} {d}, {Mem(ins.Src)}",
            InstructionKind.StoreImm => $"{m} {Mem(ins.Dst)}, {Imm(ins.Imm)}",
            InstructionKind.StoreReg or InstructionKind.Atomic => $"{m} {Mem(ins.Dst)}, {s}",
            InstructionKind.LoadImm64 => row.LoadSource switch
            {
                LoadImm64Source.Imm64 => $"lddw {d}, 0x{ins.Imm:x}",
                LoadImm64Source.MapFd => $"lddw {d}, map_fd({ins.Imm32})",
                LoadImm64Source.MapValue => $"lddw {d}, map_value({ins.Imm32}, {(int)(ins.Imm >> 32)})",
                LoadImm64Source.BtfId => $"lddw {d}, btf_id({ins.Imm32})",
                LoadImm64Source.Func => $"lddw {d}, func({ins.Imm32})",
                LoadImm64Source.MapIndex => $"lddw {d}, map_idx({ins.Imm32})",
                _ => $"lddw {d}, map_idx_value({ins.Imm32}, {(int)(ins.Imm >> 32)})",
            },
            InstructionKind.LoadPacketAbs => $"{m} {Imm(ins.Imm)}",
            InstructionKind.LoadPacketInd => $"{m} {s}, {Imm(ins.Imm)}",
            _ => $"(invalid {ins.Op})",
        };
    }
}
