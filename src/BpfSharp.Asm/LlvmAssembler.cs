using BpfSharp.Isa;

namespace BpfSharp.Asm;

/// <summary>
/// Assembles the LLVM/kernel "C-like" eBPF syntax. It reads what <c>llvm-mc -triple bpfel</c> reads; everything
/// <c>llvm-objdump -d</c> prints (address column, symbol headers and <c>&lt;sym+0x..&gt;</c> annotations are
/// skipped); clang's <c>-S</c> output (sections, directives, <c>r1 = w2</c>, <c>r2 = func ll</c>; a reference to a
/// global is an error, since only a relocation can resolve it); the kernel verifier log (<c>12: (61) r2 = *(u32 *)(r1 +4)</c>,
/// <c>goto pc+3</c>, <c>call bpf_map_lookup_elem#1</c>, <c>atomic64_xchg</c>); and the extended spellings of
/// <see cref="LlvmDisassemblyOptions.Lossless"/>. Labels (<c>LBB0_2:</c>, <c>goto LBB0_2</c>, <c>call my_func</c>),
/// helper calls by Linux name (<c>call bpf_ktime_get_ns</c>), decimal or hex numbers, and comments starting with
/// <c>;</c>, <c>//</c> or <c>#</c> are accepted. As in llvm-mc, <c>call N</c> is a helper call; a local call is
/// <c>call label</c> or <c>call pc+N</c>.
/// </summary>
public static class LlvmAssembler
{
    /// <summary>Assembles <paramref name="text"/> into a validated program; throws <see cref="AsmException"/> naming line and column.</summary>
    public static BpfProgram Assemble(string text, string name = "prog")
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new LlvmParser();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
            parser.ParseLine(lines[i].TrimEnd('\r'), i + 1);
        return parser.Finish(name);
    }
}

/// <summary>Turns lines into instructions with unresolved label references, then resolves and validates them.</summary>
internal sealed class LlvmParser
{
    private enum TargetField : byte { None, Offset, Imm }

    private readonly record struct Pending(Instruction Instruction, string? Label, TargetField Field, int Line, int Column);

    /// <summary>Directives of clang's assembler output that do not affect the code.</summary>
    private static readonly HashSet<string> IgnoredDirectives = new(StringComparer.Ordinal)
    {
        ".globl", ".global", ".type", ".size", ".p2align", ".align", ".file", ".loc", ".ident", ".weak", ".local",
        ".hidden", ".protected", ".addrsig", ".addrsig_sym", ".end",
    };

    /// <summary>Data directives: accepted (and skipped) only outside code sections.</summary>
    private static readonly HashSet<string> DataDirectives = new(StringComparer.Ordinal)
    {
        ".byte", ".short", ".hword", ".long", ".int", ".word", ".quad", ".ascii", ".asciz", ".string", ".zero",
        ".space", ".uleb128", ".sleb128", ".fill", ".comm", ".lcomm",
    };

    private readonly List<Pending> _pending = [];
    private readonly Dictionary<string, int> _labels = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dataSymbols = new(StringComparer.Ordinal);
    private int _slot;
    private bool _inCode = true;
    private int _opcodeHint = -1;

    // ---- per-line state ----
    private List<LlvmToken> _tokens = [];
    private int _pos;
    private int _line;

    private LlvmToken Peek(int ahead = 0) => _tokens[Math.Min(_pos + ahead, _tokens.Count - 1)];
    private LlvmToken Next() => _tokens[Math.Min(_pos++, _tokens.Count - 1)];

    private AsmException Error(string message, LlvmToken at) => new(message, _line, at.Column);

    public void ParseLine(string text, int line)
    {
        _line = line;
        if (TryDirective(text)) return;
        _tokens = LlvmLexer.Tokenize(text, line);
        _pos = 0;
        _opcodeHint = -1;
        if (!_inCode)
        {
            // Outside code only labels matter: they name data, which code can reach only through relocations.
            if (_tokens.Count == 3 && _tokens[0].Kind == LlvmTokenKind.Identifier && _tokens[1].Is(":"))
                _dataSymbols.Add(_tokens[0].Text);
            else if (_tokens[0].Kind != LlvmTokenKind.End)
                throw Error("instruction outside a code section", _tokens[0]);
            return;
        }
        SkipPrefixes();
        var first = Peek();
        if (first.Kind == LlvmTokenKind.End) return;
        ParseStatement();
        SkipAnnotation();
        if (Peek().Kind != LlvmTokenKind.End) throw Error($"unexpected {Peek()} after the instruction", Peek());
    }

    /// <summary>
    /// Handles a directive line (clang -S output): section switches decide whether following lines are code;
    /// layout and debug directives are skipped; anything else is an error.
    /// </summary>
    private bool TryDirective(string text)
    {
        int start = 0;
        while (start < text.Length && char.IsWhiteSpace(text[start])) start++;
        if (start >= text.Length || text[start] != '.') return false;
        int end = start;
        while (end < text.Length && !char.IsWhiteSpace(text[end]) && text[end] != ',') end++;
        string name = text[start..end];
        if (name.EndsWith(':')) return false;            // a label such as ".LBB0_2:"
        int afterName = end;
        while (afterName < text.Length && char.IsWhiteSpace(text[afterName])) afterName++;
        if (afterName < text.Length && text[afterName] == ':') return false;
        string args = text[end..].Trim();
        var column = start + 1;
        switch (name)
        {
            case ".text":
                _inCode = true;
                return true;
            case ".data" or ".bss" or ".rodata":
                _inCode = false;
                return true;
            case ".section" or ".pushsection":
            {
                var parts = args.Split(',', StringSplitOptions.TrimEntries);
                string section = parts[0].Trim('"');
                _inCode = parts.Length > 1
                    ? parts[1].Trim('"').Contains('x', StringComparison.Ordinal)
                    : section == ".text" || section.StartsWith(".text.", StringComparison.Ordinal);
                return true;
            }
        }
        if (IgnoredDirectives.Contains(name) || name.StartsWith(".cfi_", StringComparison.Ordinal)) return true;
        if (!_inCode && DataDirectives.Contains(name)) return true;
        throw new AsmException(_inCode && DataDirectives.Contains(name)
            ? $"data directive '{name}' in a code section" : $"unsupported directive '{name}'", _line, column);
    }

    /// <summary>Skips llvm-objdump's address column and symbol headers, the kernel log's "(b7)" opcode column, and defines labels.</summary>
    private void SkipPrefixes()
    {
        while (true)
        {
            var t = Peek();
            if (t.Kind == LlvmTokenKind.Number && Peek(1).Is(":")) { _pos += 2; continue; }   // "  12:"
            if (t.Kind == LlvmTokenKind.Number && Peek(1).Is("<")) { _pos++; continue; }       // "0000000000000000 <name>:"
            if (t.Is("<") && Peek(1).Kind == LlvmTokenKind.Identifier && Peek(2).Is(">") && Peek(3).Is(":"))
            {
                DefineLabel(Peek(1));
                _pos += 4;
                continue;
            }
            if (t.Kind == LlvmTokenKind.Identifier && Peek(1).Is(":") && !IsRegisterName(t.Text))
            {
                DefineLabel(t);
                _pos += 2;
                continue;
            }
            if (t.Is("(") && Peek(1).Kind is LlvmTokenKind.Number or LlvmTokenKind.Identifier && Peek(1).Text.Length == 2 && Peek(2).Is(")"))
            {
                // Kernel verifier log opcode column "(bf)": it tells "(18) r1 = 0x1234" (lddw, printed without "ll") from a mov.
                if (int.TryParse(Peek(1).Text, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out int code))
                    _opcodeHint = code;
                _pos += 3;
                continue;
            }
            return;
        }
    }

    private void SkipAnnotation()
    {
        // llvm-objdump's "<sym+0x28>" after a jump is informational.
        if (!Peek().Is("<")) return;
        int depth = 0;
        while (Peek().Kind != LlvmTokenKind.End)
        {
            var t = Next();
            if (t.Is("<")) depth++;
            else if (t.Is(">") && --depth == 0) return;
        }
        throw Error("unterminated '<' annotation", Peek());
    }

    private void DefineLabel(LlvmToken name)
    {
        if (!_labels.TryAdd(name.Text, _slot))
            throw Error($"label '{name.Text}' is defined twice", name);
    }

    private void Emit(Instruction ins, string? label = null, TargetField field = TargetField.None, int column = 1)
    {
        _pending.Add(new Pending(ins, label, field, _line, column));
        _slot += ins.Width;
    }

    private void ParseStatement()
    {
        var t = Peek();
        if (t.Kind == LlvmTokenKind.Punct && t.Is("*")) { ParseStore(); return; }
        if (t.Kind != LlvmTokenKind.Identifier) throw Error($"expected an instruction, found {t}", t);
        if (IsRegisterName(t.Text)) { ParseAssignment(); return; }
        Next();
        switch (t.Text)
        {
            case "exit":
                Emit(new Instruction(LlvmSyntax.Exit.Op, 0, 0, 0, 0));
                return;
            case "goto":
            case "gotol":
                ParseGoto(t.Text == "gotol");
                return;
            case "if":
                ParseConditional();
                return;
            case "call":
                ParseCall();
                return;
            case "callx":
            {
                var (reg, _) = ExpectRegister();
                Emit(new Instruction(LlvmSyntax.Call(CallKind.Register).Op, (byte)reg, 0, 0, 0));
                return;
            }
            case "lock":
                ParseLock();
                return;
            case "ld_pseudo":
                ParseLdPseudo();
                return;
            default:
                throw Error($"unknown instruction '{t.Text}'", t);
        }
    }

    // ---- jumps and calls ----

    private void ParseGoto(bool wide)
    {
        var row = wide ? LlvmSyntax.Ja32 : LlvmSyntax.Ja;
        var (value, label, at) = ParseTarget(wide ? int.MinValue : short.MinValue, wide ? int.MaxValue : short.MaxValue);
        Emit(wide ? new Instruction(row.Op, 0, 0, 0, value) : new Instruction(row.Op, 0, 0, (short)value, 0),
             label, wide ? TargetField.Imm : TargetField.Offset, at.Column);
    }

    private void ParseConditional()
    {
        var (dst, dst64) = ExpectRegister();
        var opToken = Next();
        var condition = ConditionOf(opToken) ?? throw Error($"expected a comparison operator, found {opToken}", opToken);
        OpInfo? row;
        byte src = 0;
        long imm = 0;
        if (IsRegister(Peek()))
        {
            var at = Peek();
            var (s, src64) = ExpectRegister();
            if (src64 != dst64) throw Error("both operands of a comparison must be r registers or both w registers", at);
            src = (byte)s;
            row = LlvmSyntax.CondJump(condition, dst64, registerSource: true);
        }
        else
        {
            imm = ParseImm32();
            row = LlvmSyntax.CondJump(condition, dst64, registerSource: false);
        }
        ExpectWord("goto");
        var (offset, label, target) = ParseTarget(short.MinValue, short.MaxValue);
        Emit(new Instruction(row!.Op, (byte)dst, src, (short)offset, imm), label, TargetField.Offset, target.Column);
    }

    private static JumpCondition? ConditionOf(LlvmToken t) => t.Kind != LlvmTokenKind.Punct ? null : t.Text switch
    {
        "==" => JumpCondition.Eq,
        ">" => JumpCondition.Gt,
        ">=" => JumpCondition.Ge,
        "&" => JumpCondition.Set,
        "!=" => JumpCondition.Ne,
        "s>" => JumpCondition.Sgt,
        "s>=" => JumpCondition.Sge,
        "<" => JumpCondition.Lt,
        "<=" => JumpCondition.Le,
        "s<" => JumpCondition.Slt,
        "s<=" => JumpCondition.Sle,
        _ => null,
    };

    /// <summary>A jump target: "+0x3", "-3", "3", the kernel's "pc+3", or a label.</summary>
    private (int Value, string? Label, LlvmToken At) ParseTarget(long min, long max)
    {
        var at = Peek();
        if (at.Kind == LlvmTokenKind.Identifier && at.Text == "pc" && (Peek(1).Is("+") || Peek(1).Is("-")))
            Next();
        else if (at.Kind == LlvmTokenKind.Identifier && !IsRegisterName(at.Text))
        {
            Next();
            return (0, at.Text, at);
        }
        long value = ParseSigned(min, max, "jump offset", allowPlus: true);
        return ((int)value, null, at);
    }

    private void ParseCall()
    {
        var t = Peek();
        if (t.IsWord("pc") && (Peek(1).Is("+") || Peek(1).Is("-")))
        {
            Next();
            int imm = (int)ParseSigned(int.MinValue, int.MaxValue, "call offset", allowPlus: true);
            Emit(new Instruction(LlvmSyntax.Call(CallKind.Local).Op, 0, 0, 0, imm), null, TargetField.Imm, t.Column);
            return;
        }
        if (t.IsWord("kfunc") && Peek(1).Is("("))
        {
            _pos += 2;
            int imm = ParseImm32();
            short offset = 0;
            if (Peek().Is(","))
            {
                Next();
                offset = (short)ParseSigned(short.MinValue, short.MaxValue, "kfunc module offset");
            }
            Expect(")");
            Emit(new Instruction(LlvmSyntax.Call(CallKind.Kfunc).Op, 0, 0, offset, imm));
            return;
        }
        if (t.Kind == LlvmTokenKind.Identifier)
        {
            Next();
            if (Peek().Is("#"))
            {
                // Kernel verifier log: "call bpf_map_lookup_elem#1" names the helper and its id.
                Next();
                Emit(new Instruction(LlvmSyntax.Call(CallKind.Helper).Op, 0, 0, 0, ParseImm32()));
                return;
            }
            Emit(new Instruction(LlvmSyntax.Call(CallKind.Local).Op, 0, 0, 0, 0), t.Text, TargetField.Imm, t.Column);
            return;
        }
        // As in llvm-mc, a numeric call is a helper call by id.
        Emit(new Instruction(LlvmSyntax.Call(CallKind.Helper).Op, 0, 0, 0, ParseImm32()));
    }

    // ---- memory ----

    /// <summary>"*(u32 *)" → size and signedness.</summary>
    private (int Size, bool Signed) ParseTypeCast(bool leadingStar)
    {
        if (leadingStar) Expect("*");
        Expect("(");
        var type = Next();
        bool signed = false;
        int size = type.Kind == LlvmTokenKind.Identifier ? LlvmSyntax.ParseSizeName(type.Text, out signed) : 0;
        if (size == 0) throw Error($"expected an access type (u8, u16, u32, u64, s8, s16, s32), found {type}", type);
        Expect("*");
        Expect(")");
        return (size, signed);
    }

    /// <summary>"(r1 + 0x8)" or the kernel's "(r1 +8)".</summary>
    private (int Register, short Offset) ParseAddress()
    {
        Expect("(");
        var (reg, offset) = ParseBaseAndDisplacement();
        Expect(")");
        return (reg, offset);
    }

    private (int Register, short Offset) ParseBaseAndDisplacement()
    {
        var at = Peek();
        var (reg, is64) = ExpectRegister();
        if (!is64) throw Error("an address register must be an r register", at);
        short offset = 0;
        if (Peek().Is("+") || Peek().Is("-"))
            offset = (short)ParseSigned(short.MinValue, short.MaxValue, "memory offset", allowPlus: true);
        return (reg, offset);
    }

    private void ParseStore()
    {
        var (size, signed) = ParseTypeCast(leadingStar: true);
        var typeAt = _tokens[_pos - 3];
        if (signed) throw Error("stores take an unsigned access type", typeAt);
        var (dst, offset) = ParseAddress();
        Expect("=");
        if (IsRegister(Peek()))
        {
            var at = Peek();
            var (src, src64) = ExpectRegister();
            if (!src64 && size == 8) throw Error("a 64-bit store takes an r register", at);
            Emit(new Instruction(LlvmSyntax.StoreReg(size)!.Op, (byte)dst, (byte)src, offset, 0));
            return;
        }
        Emit(new Instruction(LlvmSyntax.StoreImm(size)!.Op, (byte)dst, 0, offset, ParseImm32()));
    }

    private void ParseLock()
    {
        var typeAt = Peek(2);
        var (size, signed) = ParseTypeCast(leadingStar: true);
        if (signed || size < 4) throw Error("atomic operations take u32 or u64", typeAt);
        var (dst, offset) = ParseAddress();
        var opToken = Next();
        AtomicOp op = opToken.Kind != LlvmTokenKind.Punct ? AtomicOp.None : opToken.Text switch
        {
            "+=" => AtomicOp.Add,
            "|=" => AtomicOp.Or,
            "&=" => AtomicOp.And,
            "^=" => AtomicOp.Xor,
            _ => AtomicOp.None,
        };
        if (op == AtomicOp.None) throw Error($"expected +=, |=, &= or ^= in an atomic operation, found {opToken}", opToken);
        var srcAt = Peek();
        var (src, src64) = ExpectRegister();
        if (!src64 && size == 8) throw Error("a 64-bit atomic takes an r register", srcAt);
        Emit(new Instruction(LlvmSyntax.Atomic(op, fetch: false, size == 8)!.Op, (byte)dst, (byte)src, offset, 0));
    }

    private void ParseLdPseudo()
    {
        var (dst, is64) = ExpectRegister();
        var at = Peek();
        if (!is64) throw Error("lddw takes an r register", at);
        Expect(",");
        at = Peek();
        long source = ParseSigned(0, 15, "pseudo source");
        if (source is 0 or > (long)LoadImm64Source.MapIndexValue) throw Error($"unknown lddw pseudo source {source}", at);
        Expect(",");
        int imm = ParseImm32();
        Emit(new Instruction(LlvmSyntax.Lddw((LoadImm64Source)source).Op, (byte)dst, 0, 0, (uint)imm));
    }

    // ---- "rX ..." statements ----

    private void ParseAssignment()
    {
        var dstAt = Peek();
        var (dst, dst64) = ExpectRegister();
        var opToken = Next();
        if (opToken.Kind != LlvmTokenKind.Punct) throw Error($"expected an operator after the register, found {opToken}", opToken);
        if (opToken.Text != "=")
        {
            var alu = AluOfOperator(opToken.Text) ?? throw Error($"unknown operator '{opToken.Text}'", opToken);
            ParseAluOperand(alu, dst, dst64);
            return;
        }
        var t = Peek();
        if (t.Is("-") && IsRegister(Peek(1)))
        {
            Next();
            var (src, src64) = ExpectRegister();
            if (src != dst || src64 != dst64) throw Error("negation must name its destination register: rX = -rX", t);
            Emit(new Instruction(LlvmSyntax.Alu(AluOp.Neg, dst64, false)!.Op, (byte)dst, 0, 0, 0));
            return;
        }
        if (t.Kind == LlvmTokenKind.Number || t.Is("-") || t.Is("+"))
        {
            long value = ParseSigned(long.MinValue, long.MaxValue, "immediate", allowPlus: true, allowUnsigned64: true);
            bool lddwHint = _opcodeHint == LlvmSyntax.Lddw(LoadImm64Source.Imm64).Opcode;
            if (Peek().IsWord("ll") || lddwHint)
            {
                if (!lddwHint || Peek().IsWord("ll")) Next();
                if (!dst64) throw Error("lddw takes an r register", dstAt);
                Emit(new Instruction(LlvmSyntax.Lddw(LoadImm64Source.Imm64).Op, (byte)dst, 0, 0, value));
                return;
            }
            if (value is < int.MinValue or > uint.MaxValue)
                throw Error("immediate does not fit in 32 bits (add 'll' for a 64-bit load)", t);
            Emit(new Instruction(LlvmSyntax.Alu(AluOp.Mov, dst64, false)!.Op, (byte)dst, 0, 0, unchecked((int)value)));
            return;
        }
        if (IsRegister(t))
        {
            if (dst64 && t.Text[0] == 'w')
            {
                // clang's "r1 = w2": a 32-bit move, which zero-extends into the 64-bit register.
                Next();
                Emit(new Instruction(LlvmSyntax.Alu(AluOp.Mov, false, true)!.Op, (byte)dst, (byte)RegisterNumber(t.Text), 0, 0));
                return;
            }
            ParseAluOperand(AluOp.Mov, dst, dst64);
            return;
        }
        if (t.Kind == LlvmTokenKind.Identifier && Peek(1).IsWord("ll"))
        {
            // "r1 = my_func ll": the address of a function in this program (BPF_PSEUDO_FUNC).
            _pos += 2;
            if (!dst64) throw Error("lddw takes an r register", dstAt);
            Emit(new Instruction(LlvmSyntax.Lddw(LoadImm64Source.Func).Op, (byte)dst, 0, 0, 0), t.Text, TargetField.Imm, t.Column);
            return;
        }
        if (t.Is("("))
        {
            // (s8)r2, (s16)w2, (s32)r2
            Next();
            var type = Next();
            AluOp sx = type.Kind != LlvmTokenKind.Identifier ? AluOp.Add : type.Text switch
            {
                "s8" => AluOp.MovSx8,
                "s16" => AluOp.MovSx16,
                "s32" => AluOp.MovSx32,
                _ => AluOp.Add,
            };
            if (sx == AluOp.Add) throw Error($"expected s8, s16 or s32, found {type}", type);
            Expect(")");
            var srcAt = Peek();
            var (src, src64) = ExpectRegister();
            if (src64 != dst64) throw Error("both registers of a sign-extending move must have the same width", srcAt);
            var row = LlvmSyntax.Alu(sx, dst64, true) ?? throw Error($"(s{type.Text[1..]}) is not available for w registers", type);
            Emit(new Instruction(row.Op, (byte)dst, (byte)src, 0, 0));
            return;
        }
        if (t.Is("*"))
        {
            ParseLoad(dst, dst64, dstAt);
            return;
        }
        if (t.Kind == LlvmTokenKind.Identifier)
        {
            ParseNamedRightHandSide(t, dst, dst64, dstAt);
            return;
        }
        throw Error($"unexpected {t}", t);
    }

    private void ParseAluOperand(AluOp alu, int dst, bool dst64)
    {
        if (IsRegister(Peek()))
        {
            var at = Peek();
            var (src, src64) = ExpectRegister();
            if (src64 != dst64) throw Error("both registers must be r registers or both w registers", at);
            Emit(new Instruction(LlvmSyntax.Alu(alu, dst64, true)!.Op, (byte)dst, (byte)src, 0, 0));
            return;
        }
        Emit(new Instruction(LlvmSyntax.Alu(alu, dst64, false)!.Op, (byte)dst, 0, 0, ParseImm32()));
    }

    private static AluOp? AluOfOperator(string op) => op switch
    {
        "+=" => AluOp.Add,
        "-=" => AluOp.Sub,
        "*=" => AluOp.Mul,
        "/=" => AluOp.Div,
        "s/=" => AluOp.SDiv,
        "|=" => AluOp.Or,
        "&=" => AluOp.And,
        "<<=" => AluOp.Lsh,
        ">>=" => AluOp.Rsh,
        "%=" => AluOp.Mod,
        "s%=" => AluOp.SMod,
        "^=" => AluOp.Xor,
        "s>>=" => AluOp.Arsh,
        _ => null,
    };

    private void ParseLoad(int dst, bool dst64, LlvmToken dstAt)
    {
        var typeAt = Peek(2);
        var (size, signed) = ParseTypeCast(leadingStar: true);
        if (Peek().IsWord("skb"))
        {
            ParsePacketLoad(size, signed, dst, dst64, typeAt, dstAt);
            return;
        }
        var (src, offset) = ParseAddress();
        var row = LlvmSyntax.Load(size, signed) ?? throw Error($"no load of type {typeAt.Text}", typeAt);
        if (!dst64 && (signed || size == 8)) throw Error($"a {typeAt.Text} load takes an r register", dstAt);
        Emit(new Instruction(row.Op, (byte)dst, (byte)src, offset, 0));
    }

    private void ParsePacketLoad(int size, bool signed, int dst, bool dst64, LlvmToken typeAt, LlvmToken dstAt)
    {
        Next(); // skb
        if (dst != 0 || !dst64) throw Error("legacy packet loads always load into r0", dstAt);
        if (signed || size == 8) throw Error("legacy packet loads take u8, u16 or u32", typeAt);
        Expect("[");
        if (IsRegister(Peek()))
        {
            var (src, _) = ExpectRegister();
            int imm = 0;
            if (Peek().Is("+") && Peek(1).Is("-")) Next();   // the kernel log writes "skb[r3 + -5]"
            if (Peek().Is("+") || Peek().Is("-"))
                imm = (int)ParseSigned(int.MinValue, int.MaxValue, "packet offset", allowPlus: true);
            Expect("]");
            Emit(new Instruction(LlvmSyntax.Packet(InstructionKind.LoadPacketInd, size)!.Op, 0, (byte)src, 0, imm));
            return;
        }
        int abs = ParseImm32();
        Expect("]");
        Emit(new Instruction(LlvmSyntax.Packet(InstructionKind.LoadPacketAbs, size)!.Op, 0, 0, 0, abs));
    }

    /// <summary>Right-hand sides that start with a name: byte swaps, atomics with results, lddw pseudo sources.</summary>
    private void ParseNamedRightHandSide(LlvmToken name, int dst, bool dst64, LlvmToken dstAt)
    {
        string word = name.Text;
        if (TryEndian(word, out var endianOp, out int width))
        {
            Next();
            var row = LlvmSyntax.Endian(endianOp, width) ?? throw Error($"unknown byte swap '{word}'", name);
            var srcAt = Peek();
            var (src, _) = ExpectRegister();
            if (src != dst) throw Error($"{word} must name its destination register: rX = {word} rX", srcAt);
            Emit(new Instruction(row.Op, (byte)dst, 0, 0, 0));
            return;
        }
        if (word is "atomic_xchg" or "atomic64_xchg" or "atomic_cmpxchg" or "atomic64_cmpxchg")
        {
            ParseKernelExchange(name, dst, dst64, dstAt);
            return;
        }
        if (word.StartsWith("atomic_fetch_", StringComparison.Ordinal) || word.StartsWith("atomic64_fetch_", StringComparison.Ordinal))
        {
            Next();
            bool kernel64 = word.StartsWith("atomic64_", StringComparison.Ordinal);
            AtomicOp op = word[(kernel64 ? "atomic64_fetch_" : "atomic_fetch_").Length..] switch
            {
                "add" => AtomicOp.Add,
                "or" => AtomicOp.Or,
                "and" => AtomicOp.And,
                "xor" => AtomicOp.Xor,
                _ => throw Error($"unknown atomic '{word}'", name),
            };
            Expect("(");
            var typeAt = Peek(1);
            var (size, signed) = ParseTypeCast(leadingStar: false);
            if (signed || size < 4 || (kernel64 && size != 8)) throw Error(kernel64 ? $"{word} takes u64" : "atomic operations take u32 or u64", typeAt);
            var (baseReg, offset) = ParseAddress();
            Expect(",");
            int src = ExpectSameRegister(dst, size == 8 ? null : dst64, "the fetched register");
            Expect(")");
            if (size == 8 && !dst64) throw Error("a 64-bit atomic takes r registers", dstAt);
            Emit(new Instruction(LlvmSyntax.Atomic(op, fetch: true, size == 8)!.Op, (byte)baseReg, (byte)src, offset, 0));
            return;
        }
        if (word is "xchg_64" or "xchg32_32" or "cmpxchg_64" or "cmpxchg32_32")
        {
            Next();
            bool is64 = word.EndsWith("_64", StringComparison.Ordinal);
            bool cmp = word.StartsWith("cmp", StringComparison.Ordinal);
            if (is64 != dst64) throw Error($"{word} takes {(is64 ? "r" : "w")} registers", dstAt);
            Expect("(");
            var (baseReg, offset) = ParseBaseAndDisplacement();
            Expect(",");
            int src;
            if (cmp)
            {
                if (dst != 0) throw Error($"{word} returns its result in r0", dstAt);
                ExpectSameRegister(0, dst64, "the comparand");
                Expect(",");
                var srcAt = Peek();
                var (s, s64) = ExpectRegister();
                if (s64 != dst64) throw Error($"{word} takes {(is64 ? "r" : "w")} registers", srcAt);
                src = s;
            }
            else
            {
                src = ExpectSameRegister(dst, dst64, "the exchanged register");
            }
            Expect(")");
            var row = LlvmSyntax.Atomic(cmp ? AtomicOp.CmpXchg : AtomicOp.Xchg, fetch: true, is64)!;
            Emit(new Instruction(row.Op, (byte)baseReg, (byte)src, offset, 0));
            return;
        }
        if (LlvmSyntax.TryPseudo(word, out var source))
        {
            Next();
            if (!dst64) throw Error("lddw takes an r register", dstAt);
            Expect("(");
            int low = ParseImm32();
            Expect(")");
            uint high = 0;
            if (Peek().Is("+"))
            {
                Next();
                high = (uint)ParseSigned(0, uint.MaxValue, "pseudo lddw offset");
            }
            ExpectWord("ll");
            long imm = (long)(((ulong)high << 32) | (uint)low);
            Emit(new Instruction(LlvmSyntax.Lddw(source).Op, (byte)dst, 0, 0, imm));
            return;
        }
        throw Error($"unknown operand '{word}'", name);
    }

    /// <summary>The kernel verifier log's exchanges: "r2 = atomic64_xchg((u64 *)(r1 +0), r2)", "r0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r2)".</summary>
    private void ParseKernelExchange(LlvmToken name, int dst, bool dst64, LlvmToken dstAt)
    {
        Next();
        string word = name.Text;
        bool cmp = word.EndsWith("cmpxchg", StringComparison.Ordinal);
        bool named64 = word.StartsWith("atomic64_", StringComparison.Ordinal);
        Expect("(");
        var typeAt = Peek(1);
        var (size, signed) = ParseTypeCast(leadingStar: false);
        if (signed || size != (named64 ? 8 : 4)) throw Error($"{word} takes {(named64 ? "u64" : "u32")}", typeAt);
        var (baseReg, offset) = ParseAddress();
        Expect(",");
        int src;
        if (cmp)
        {
            if (dst != 0) throw Error($"{word} returns its result in r0", dstAt);
            ExpectSameRegister(0, null, "the comparand");
            Expect(",");
            src = ExpectRegister().Register;
        }
        else src = ExpectSameRegister(dst, null, "the exchanged register");
        Expect(")");
        if (named64 && !dst64) throw Error($"{word} takes r registers", dstAt);
        var row = LlvmSyntax.Atomic(cmp ? AtomicOp.CmpXchg : AtomicOp.Xchg, fetch: true, named64)!;
        Emit(new Instruction(row.Op, (byte)baseReg, (byte)src, offset, 0));
    }

    private static bool TryEndian(string word, out AluOp op, out int width)
    {
        op = AluOp.Add;
        width = 0;
        string digits;
        if (word.StartsWith("bswap", StringComparison.Ordinal)) { op = AluOp.Bswap; digits = word[5..]; }
        else if (word.StartsWith("be", StringComparison.Ordinal)) { op = AluOp.ToBe; digits = word[2..]; }
        else if (word.StartsWith("le", StringComparison.Ordinal)) { op = AluOp.ToLe; digits = word[2..]; }
        else return false;
        width = digits switch { "16" => 16, "32" => 32, "64" => 64, _ => 0 };
        return width != 0;
    }

    /// <summary>Reads a register that must be <paramref name="expected"/> (rN or wN; width checked when given).</summary>
    private int ExpectSameRegister(int expected, bool? is64, string role)
    {
        var at = Peek();
        var (reg, reg64) = ExpectRegister();
        if (reg != expected || (is64 is bool w && w != reg64))
            throw Error($"{role} must be {(is64 == false ? 'w' : 'r')}{expected}", at);
        return reg;
    }

    // ---- terminals ----

    private static bool IsRegisterName(string text) =>
        text.Length is 2 or 3 && (text[0] == 'r' || text[0] == 'w') &&
        (text.Length == 2 ? char.IsAsciiDigit(text[1]) : text[1] == '1' && text[2] == '0');

    private static bool IsRegister(LlvmToken t) => t.Kind == LlvmTokenKind.Identifier && IsRegisterName(t.Text);

    private (int Register, bool Is64) ExpectRegister()
    {
        var t = Next();
        if (!IsRegister(t)) throw Error($"expected a register r0-r10 or w0-w10, found {t}", t);
        return (RegisterNumber(t.Text), t.Text[0] == 'r');
    }

    private static int RegisterNumber(string name) => name.Length == 2 ? name[1] - '0' : 10;

    private void Expect(string punct)
    {
        var t = Next();
        if (!t.Is(punct)) throw Error($"expected '{punct}', found {t}", t);
    }

    private void ExpectWord(string word)
    {
        var t = Next();
        if (!t.IsWord(word)) throw Error($"expected '{word}', found {t}", t);
    }

    /// <summary>A 32-bit immediate: signed, or unsigned up to 0xffffffff (stored as its bit pattern).</summary>
    private int ParseImm32() => unchecked((int)ParseSigned(int.MinValue, uint.MaxValue, "immediate", allowPlus: true));

    private long ParseSigned(long min, long max, string what, bool allowPlus = false, bool allowUnsigned64 = false)
    {
        var at = Peek();
        bool negative = false;
        if (Peek().Is("-")) { negative = true; Next(); }
        else if (allowPlus && Peek().Is("+")) Next();
        var number = Next();
        if (number.Kind != LlvmTokenKind.Number) throw Error($"expected a number for the {what}, found {number}", number);
        ulong magnitude = number.Value;
        long value;
        if (negative)
        {
            if (magnitude > 1UL << 63) throw Error($"{what} -{number.Text} is out of range", at);
            value = unchecked(-(long)magnitude);
        }
        else if (magnitude > long.MaxValue)
        {
            if (!allowUnsigned64) throw Error($"{what} {number.Text} is out of range", at);
            return unchecked((long)magnitude);
        }
        else value = (long)magnitude;
        if (value < min || value > max)
            throw Error($"{what} {(negative ? "-" : "")}{number.Text} is out of range [{min}, {max}]", at);
        return value;
    }

    // ---- resolution ----

    public BpfProgram Finish(string name)
    {
        if (_pending.Count == 0) throw new AsmException("no instructions", 0, 0);
        var instructions = new Instruction[_pending.Count];
        var lineOfSlot = new int[_slot];
        int pc = 0;
        for (int i = 0; i < _pending.Count; i++)
        {
            var p = _pending[i];
            var ins = p.Instruction;
            if (p.Label is not null)
            {
                if (!_labels.TryGetValue(p.Label, out int target) && ins.Op == LlvmSyntax.Call(CallKind.Local).Op
                    && HelperNames.IdOf(p.Label) is > 0 and int helper)
                {
                    // "call bpf_map_lookup_elem": a Linux helper by name, when no label of that name exists.
                    ins = new Instruction(LlvmSyntax.Call(CallKind.Helper).Op, 0, 0, 0, helper);
                    instructions[i] = ins;
                    lineOfSlot[pc] = p.Line;
                    pc++;
                    continue;
                }
                if (!_labels.TryGetValue(p.Label, out target))
                    throw new AsmException(_dataSymbols.Contains(p.Label)
                        ? $"'{p.Label}' is a data symbol: its address needs a relocation (load the object file instead)"
                        : $"undefined label '{p.Label}'", p.Line, p.Column);
                long delta = (long)target - (pc + 1);
                if (p.Field == TargetField.Offset)
                {
                    if (delta is < short.MinValue or > short.MaxValue)
                        throw new AsmException($"jump to '{p.Label}' is {delta} instructions away, beyond goto's 16-bit offset (use gotol)", p.Line, p.Column);
                    ins = ins with { Offset = (short)delta };
                }
                else ins = ins with { Imm = ins.Width == 2 ? (uint)(int)delta : delta };   // lddw: distance in the low half
            }
            instructions[i] = ins;
            for (int s = 0; s < ins.Width; s++) lineOfSlot[pc + s] = p.Line;
            pc += ins.Width;
        }
        try
        {
            return BpfProgram.FromInstructions(instructions, name);
        }
        catch (BpfDecodeException e)
        {
            int index = e.InstructionIndex;
            int line = index >= 0 && index < lineOfSlot.Length ? lineOfSlot[index] : 0;
            throw new AsmException(e.Error.Message, line, line > 0 ? 1 : 0);
        }
    }
}
