using System.Globalization;
using System.Text.RegularExpressions;
using BpfSharp.Isa;
using BpfSharp.Verifier.Analysis;
using BpfSharp.Verifier.Domains;

namespace BpfSharp.Verifier.Tests.Corpus;

/// <summary>
/// One PREVAIL YAML test case translated for our verifier: the labelled code blocks in PREVAIL's assembler syntax
/// become a program fragment, the <c>pre</c> constraints become entry registers, and <c>assume</c> becomes a jump
/// around the rest of the fragment whose fall-through must stay reachable.
/// </summary>
internal sealed partial class PrevailCase
{
    public required string File { get; init; }
    public required string Name { get; init; }
    public required bool ExpectRejection { get; init; }
    public IReadOnlyList<string> Options { get; init; } = [];
    public BpfProgram? Program { get; private set; }
    public RegisterState[] Entry { get; } = Enumerable.Repeat(RegisterState.NotInit, 10).ToArray();
    public List<VerifierMap> Maps { get; } = [];
    public StackByte[]? Stack { get; private set; }
    public List<int> AssumePcs { get; } = [];
    public string? Unsupported { get; private set; }

    private const string Reg = @"([rw])(\d+)";
    private const string Operand = @"(?:([rw])(\d+)|(-?(?:0x[0-9a-fA-F]+|\d+)))";

    [GeneratedRegex(@"^" + Reg + @" = (-?(?:0x[0-9a-fA-F]+|\d+))(ll)?$")] private static partial Regex MovImm();
    [GeneratedRegex(@"^" + Reg + @" = " + Reg + "$")] private static partial Regex MovReg();
    [GeneratedRegex(@"^" + Reg + @" = -" + Reg + "$")] private static partial Regex Neg();
    [GeneratedRegex(@"^" + Reg + @" (\+|-|\*|/|%|&|\||\^|<<|>>|s>>|s/|s%)= " + Operand + "$")] private static partial Regex Alu();
    [GeneratedRegex(@"^" + Reg + @" s(8|16|32)= " + Reg + "$")] private static partial Regex MovSx();
    [GeneratedRegex(@"^r(\d+) = (be|le|swap)(16|32|64) r(\d+)$")] private static partial Regex Endian();
    [GeneratedRegex(@"^" + Reg + @" = \*\((u|s)(8|16|32|64) \*\)\(r(\d+) ([+-]) (\d+)\)$")] private static partial Regex Load();
    [GeneratedRegex(@"^\*\(u(8|16|32|64) \*\)\(r(\d+) ([+-]) (\d+)\) = " + Operand + "$")] private static partial Regex Store();
    [GeneratedRegex(@"^lock \*\(u(32|64) \*\)\(r(\d+) ([+-]) (\d+)\) (\+|\||&|\^|x|cx)= r(\d+)( fetch)?$")] private static partial Regex Atomic();
    [GeneratedRegex(@"^if " + Reg + @" (==|!=|>=|<=|>|<|s>=|s<=|s>|s<|&) " + Operand + @" goto <(\w+)>$")] private static partial Regex If();
    [GeneratedRegex(@"^assume " + Reg + @" (==|!=|>=|<=|>|<|s>=|s<=|s>|s<) " + Operand + "$")] private static partial Regex Assume();
    [GeneratedRegex(@"^goto <(\w+)>$")] private static partial Regex Goto();
    [GeneratedRegex(@"^call (\d+)$")] private static partial Regex CallHelper();
    [GeneratedRegex(@"^call <(\w+)>$")] private static partial Regex CallLocal();

    private sealed record Pending(Instruction Insn, string? Label, bool ToEnd);

    public void Translate(IReadOnlyList<KeyValuePair<string, string>> blocks, IReadOnlyList<string> pre)
    {
        try
        {
            ApplyPre(pre);
            BuildProgram(blocks);
        }
        catch (NotSupportedException e)
        {
            Unsupported = e.Message;
        }
        catch (Exception e) when (e is FormatException or OverflowException or KeyNotFoundException)
        {
            Unsupported = "constraint: " + e.Message;
        }
    }

    private void BuildProgram(IReadOnlyList<KeyValuePair<string, string>> blocks)
    {
        var pending = new List<Pending>();
        var labelSlot = new Dictionary<string, int>();
        int slot = 0;
        foreach (var (label, code) in blocks)
        {
            labelSlot[label.Trim('<', '>')] = slot;
            foreach (string raw in code.Split('\n'))
            {
                string line = raw.Split(';')[0].Trim();
                if (line.Length == 0)
                    continue;
                Pending p = ParseLine(line, slot);
                pending.Add(p);
                slot += p.Insn.Width;
            }
        }
        // Fragment end: a jump over the assume sink (so falling through is recorded as reached), then the sink.
        int fallEnd = slot, sink = slot + 1;
        var instructions = new List<Instruction>();
        int at = 0;
        foreach (Pending p in pending)
        {
            Instruction insn = p.Insn;
            if (p.ToEnd || p.Label != null)
            {
                int target = p.ToEnd ? sink : labelSlot.TryGetValue(p.Label!, out int t) ? t : throw new NotSupportedException("unknown label " + p.Label);
                int delta = target - at - 1;
                insn = insn.Op == Op.CallLocal ? insn with { Imm = delta } : insn with { Offset = checked((short)delta) };
            }
            instructions.Add(insn);
            at += insn.Width;
        }
        instructions.Add(new Instruction(Op.Ja, 0, 0, 1, 0));   // fallEnd: reached when the code falls through
        instructions.Add(new Instruction(Op.Exit, 0, 0, 0, 0)); // sink of failed assumptions
        instructions.Add(new Instruction(Op.Exit, 0, 0, 0, 0)); // end of the fragment
        _ = fallEnd;
        try
        {
            Program = BpfProgram.FromInstructions(instructions, Name);
        }
        catch (BpfDecodeException e)
        {
            throw new NotSupportedException("decoder: " + e.Message);
        }
    }

    private static long ParseNumber(string text) => text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
        ? (long)ulong.Parse(text[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
        : text.StartsWith("-0x", StringComparison.OrdinalIgnoreCase)
            ? -(long)ulong.Parse(text[3..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : text.StartsWith('-') ? long.Parse(text, CultureInfo.InvariantCulture) : (long)ulong.Parse(text, CultureInfo.InvariantCulture);

    private static Op Find(Func<OpInfo, bool> match, string what)
    {
        foreach (OpInfo row in OpcodeTable.Rows)
        {
            if (match(row))
                return row.Op;
        }
        throw new NotSupportedException("no opcode for " + what);
    }

    private static AluOp AluOf(string op) => op switch
    {
        "+" => AluOp.Add, "-" => AluOp.Sub, "*" => AluOp.Mul, "/" => AluOp.Div, "%" => AluOp.Mod, "&" => AluOp.And,
        "|" => AluOp.Or, "^" => AluOp.Xor, "<<" => AluOp.Lsh, ">>" => AluOp.Rsh, "s>>" => AluOp.Arsh, "s/" => AluOp.SDiv,
        "s%" => AluOp.SMod, _ => throw new NotSupportedException(op),
    };

    private static JumpCondition ConditionOf(string op) => op switch
    {
        "==" => JumpCondition.Eq, "!=" => JumpCondition.Ne, ">" => JumpCondition.Gt, ">=" => JumpCondition.Ge,
        "<" => JumpCondition.Lt, "<=" => JumpCondition.Le, "s>" => JumpCondition.Sgt, "s>=" => JumpCondition.Sge,
        "s<" => JumpCondition.Slt, "s<=" => JumpCondition.Sle, "&" => JumpCondition.Set, _ => throw new NotSupportedException(op),
    };

    private static JumpCondition Negate(JumpCondition c) => c switch
    {
        JumpCondition.Eq => JumpCondition.Ne, JumpCondition.Ne => JumpCondition.Eq, JumpCondition.Gt => JumpCondition.Le,
        JumpCondition.Le => JumpCondition.Gt, JumpCondition.Ge => JumpCondition.Lt, JumpCondition.Lt => JumpCondition.Ge,
        JumpCondition.Sgt => JumpCondition.Sle, JumpCondition.Sle => JumpCondition.Sgt, JumpCondition.Sge => JumpCondition.Slt,
        JumpCondition.Slt => JumpCondition.Sge, _ => throw new NotSupportedException("negated " + c),
    };

    private static byte R(string n) => byte.Parse(n, CultureInfo.InvariantCulture);

    private Pending ParseLine(string line, int slot)
    {
        Match m;
        if (line == "exit")
            return new(new Instruction(Op.Exit, 0, 0, 0, 0), null, false);
        if ((m = Goto().Match(line)).Success)
            return new(new Instruction(Op.Ja, 0, 0, 0, 0), m.Groups[1].Value, false);
        if ((m = CallHelper().Match(line)).Success)
            return new(new Instruction(Op.Call, 0, 0, 0, long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)), null, false);
        if ((m = CallLocal().Match(line)).Success)
            return new(new Instruction(Op.CallLocal, 0, 1, 0, 0), m.Groups[1].Value, false);
        if ((m = MovImm().Match(line)).Success)
        {
            long imm = ParseNumber(m.Groups[3].Value);
            bool is64 = m.Groups[1].Value == "r";
            if (m.Groups[4].Success || is64 && (imm > int.MaxValue || imm < int.MinValue))
                return new(new Instruction(Op.Lddw, R(m.Groups[2].Value), 0, 0, imm), null, false);
            return new(new Instruction(is64 ? Op.Mov64Imm : Op.Mov32Imm, R(m.Groups[2].Value), 0, 0, (int)imm), null, false);
        }
        if ((m = MovReg().Match(line)).Success)
            return new(new Instruction(m.Groups[1].Value == "r" ? Op.Mov64Reg : Op.Mov32Reg, R(m.Groups[2].Value), R(m.Groups[4].Value), 0, 0), null, false);
        if ((m = Neg().Match(line)).Success)
            return new(new Instruction(m.Groups[1].Value == "r" ? Op.Neg64 : Op.Neg32, R(m.Groups[2].Value), 0, 0, 0), null, false);
        if ((m = MovSx().Match(line)).Success)
        {
            bool is64 = m.Groups[1].Value == "r";
            Op op = (m.Groups[3].Value, is64) switch
            {
                ("8", true) => Op.MovSx8To64, ("16", true) => Op.MovSx16To64, ("32", true) => Op.MovSx32To64,
                ("8", false) => Op.MovSx8To32, ("16", false) => Op.MovSx16To32, _ => throw new NotSupportedException(line),
            };
            return new(new Instruction(op, R(m.Groups[2].Value), R(m.Groups[5].Value), 0, 0), null, false);
        }
        if ((m = Endian().Match(line)).Success)
        {
            if (m.Groups[1].Value != m.Groups[4].Value)
                throw new NotSupportedException(line);
            Op op = (m.Groups[2].Value + m.Groups[3].Value) switch
            {
                "le16" => Op.Le16, "le32" => Op.Le32, "le64" => Op.Le64, "be16" => Op.Be16, "be32" => Op.Be32, "be64" => Op.Be64,
                "swap16" => Op.Bswap16, "swap32" => Op.Bswap32, _ => Op.Bswap64,
            };
            return new(new Instruction(op, R(m.Groups[1].Value), 0, 0, 0), null, false);
        }
        if ((m = Alu().Match(line)).Success)
        {
            bool is64 = m.Groups[1].Value == "r";
            AluOp op = AluOf(m.Groups[3].Value);
            bool reg = m.Groups[4].Success;
            Op code = Find(r => r.Kind == InstructionKind.Alu && r.Alu == op && r.Is64 == is64 && r.RegisterSource == reg, line);
            return new(new Instruction(code, R(m.Groups[2].Value), reg ? R(m.Groups[5].Value) : (byte)0, 0,
                reg ? 0 : checked((int)ParseNumber(m.Groups[6].Value))), null, false);
        }
        if ((m = Load().Match(line)).Success)
        {
            if (m.Groups[1].Value != "r")
                throw new NotSupportedException(line);
            int size = int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture) / 8;
            bool signed = m.Groups[3].Value == "s";
            Op code = Find(r => r.Kind == InstructionKind.Load && r.Size == size && r.SignExtend == signed, line);
            short off = checked((short)((m.Groups[6].Value == "-" ? -1 : 1) * int.Parse(m.Groups[7].Value, CultureInfo.InvariantCulture)));
            return new(new Instruction(code, R(m.Groups[2].Value), R(m.Groups[5].Value), off, 0), null, false);
        }
        if ((m = Store().Match(line)).Success)
        {
            int size = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) / 8;
            bool reg = m.Groups[5].Success;
            if (reg && m.Groups[5].Value != "r")
                throw new NotSupportedException(line);
            Op code = Find(r => r.Kind == (reg ? InstructionKind.StoreReg : InstructionKind.StoreImm) && r.Size == size, line);
            short off = checked((short)((m.Groups[3].Value == "-" ? -1 : 1) * int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)));
            return new(new Instruction(code, R(m.Groups[2].Value), reg ? R(m.Groups[6].Value) : (byte)0, off,
                reg ? 0 : checked((int)ParseNumber(m.Groups[7].Value))), null, false);
        }
        if ((m = Atomic().Match(line)).Success)
        {
            int size = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) / 8;
            AtomicOp op = m.Groups[5].Value switch
            {
                "+" => AtomicOp.Add, "|" => AtomicOp.Or, "&" => AtomicOp.And, "^" => AtomicOp.Xor, "x" => AtomicOp.Xchg, _ => AtomicOp.CmpXchg,
            };
            bool fetch = m.Groups[7].Success || op is AtomicOp.Xchg or AtomicOp.CmpXchg;
            Op code = Find(r => r.Kind == InstructionKind.Atomic && r.Size == size && r.Atomic == op && r.Fetch == fetch, line);
            short off = checked((short)((m.Groups[3].Value == "-" ? -1 : 1) * int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture)));
            return new(new Instruction(code, R(m.Groups[2].Value), R(m.Groups[6].Value), off, 0), null, false);
        }
        bool isIf = (m = If().Match(line)).Success;
        if (isIf || (m = Assume().Match(line)).Success)
        {
            bool is64 = m.Groups[1].Value == "r";
            JumpCondition c = ConditionOf(m.Groups[3].Value);
            if (!isIf)
            {
                c = Negate(c); // assume X == "if !X goto <sink>"
                AssumePcs.Add(slot);
            }
            bool reg = m.Groups[4].Success;
            Op code = Find(r => r.Kind == InstructionKind.CondJump && r.Condition == c && r.Is64 == is64 && r.RegisterSource == reg, line);
            var insn = new Instruction(code, R(m.Groups[2].Value), reg ? R(m.Groups[5].Value) : (byte)0, 0,
                reg ? 0 : checked((int)ParseNumber(m.Groups[6].Value)));
            return isIf ? new(insn, m.Groups[7].Value, false) : new(insn, null, true);
        }
        throw new NotSupportedException("syntax: " + line);
    }

    [GeneratedRegex(@"^r(\d+)\.(\w+)=(.+)$")] private static partial Regex PreConstraint();
    [GeneratedRegex(@"^s\[(\d+)\.\.\.(\d+)\]\.(\w+)=(.+)$")] private static partial Regex StackConstraint();

    private void ApplyPre(IReadOnlyList<string> pre)
    {
        var byReg = new Dictionary<int, Dictionary<string, string>>();
        int packetSize = 0;
        foreach (string raw in pre)
        {
            string text = raw.Replace(" ", "", StringComparison.Ordinal);
            Match m = PreConstraint().Match(text);
            if (text.StartsWith("packet_size=", StringComparison.Ordinal))
            {
                packetSize = int.Parse(text["packet_size=".Length..], CultureInfo.InvariantCulture);
                continue;
            }
            if (text.StartsWith("meta_offset=", StringComparison.Ordinal))
                continue;
            Match stackRange = StackConstraint().Match(text);
            if (stackRange.Success)
            {
                // s[a...b].type=number: those stack bytes (counted from the bottom of the frame) hold numbers.
                if (stackRange.Groups[3].Value == "type")
                {
                    if (stackRange.Groups[4].Value != "number")
                        throw new NotSupportedException("pre: stack of type " + stackRange.Groups[4].Value);
                    Stack ??= new StackByte[Frame.StackSize];
                    int from = int.Parse(stackRange.Groups[1].Value, CultureInfo.InvariantCulture);
                    int to = int.Parse(stackRange.Groups[2].Value, CultureInfo.InvariantCulture);
                    if (from < 0 || to >= Frame.StackSize)
                        throw new NotSupportedException("pre: stack range outside one frame");
                    for (int i = from; i <= to; i++)
                        Stack[i] = StackByte.Misc;
                }
                continue;
            }
            if (!m.Success)
                throw new NotSupportedException("pre: " + raw);
            int r = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            if (!byReg.TryGetValue(r, out var fields))
                byReg[r] = fields = [];
            fields[m.Groups[2].Value] = m.Groups[3].Value;
        }
        foreach (var (r, f) in byReg)
        {
            if (r == 10)
                continue; // always the frame pointer
            string type = f.GetValueOrDefault("type", "");
            int Int(string key) => f.TryGetValue(key, out string? v) ? int.Parse(v, CultureInfo.InvariantCulture) : 0;
            Entry[r] = type switch
            {
                "number" => RegisterState.Number(NumberOf(f)),
                "ctx" => RegisterState.Pointer(RegType.Ctx, off: Int("ctx_offset")),
                "stack" => RegisterState.Pointer(RegType.Stack, off: Int("stack_offset") - Frame.StackSize),
                "packet" => RegisterState.Pointer(RegType.Packet, off: Int("packet_offset"), range: packetSize),
                "shared" => SharedRegion(Int("shared_offset"), Int("shared_region_size")),
                "map_fd" => MapPointer(),
                _ => throw new NotSupportedException("pre type: " + type),
            };
        }
    }

    private RegisterState SharedRegion(int offset, int size)
    {
        Maps.Add(new VerifierMap(VerifierMapKind.Array, 4, size, 1, "shared"));
        return RegisterState.Pointer(RegType.MapValue, off: offset, mapIndex: Maps.Count - 1);
    }

    private RegisterState MapPointer()
    {
        Maps.Add(new VerifierMap(VerifierMapKind.Hash, 4, 4, 1, "map"));
        return RegisterState.Pointer(RegType.MapPtr, mapIndex: Maps.Count - 1);
    }

    private static Scalar NumberOf(Dictionary<string, string> f)
    {
        long smin = long.MinValue, smax = long.MaxValue;
        ulong umin = 0, umax = ulong.MaxValue;
        if (f.TryGetValue("svalue", out string? sv) && !sv.StartsWith('r'))
            (smin, smax) = Interval(sv, s => long.Parse(s, CultureInfo.InvariantCulture));
        if (f.TryGetValue("uvalue", out string? uv) && !uv.StartsWith('r'))
            (umin, umax) = Interval(uv, s => s.StartsWith('-') ? (ulong)long.Parse(s, CultureInfo.InvariantCulture) : ulong.Parse(s, CultureInfo.InvariantCulture));
        if (!Scalar.TryCreate(Tnum.Unknown, umin, umax, smin, smax, 0, uint.MaxValue, int.MinValue, int.MaxValue, out Scalar value))
            throw new NotSupportedException("contradictory pre-condition");
        return value;
    }

    private static (T, T) Interval<T>(string text, Func<string, T> parse)
    {
        if (text.StartsWith('['))
        {
            string[] parts = text.Trim('[', ']').Split(',');
            return (parse(parts[0]), parse(parts[1]));
        }
        T v = parse(text);
        return (v, v);
    }
}
