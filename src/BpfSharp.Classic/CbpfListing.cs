using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace BpfSharp.Classic;

/// <summary>The three listing styles of tcpdump.</summary>
public enum ListingStyle
{
    /// <summary><c>-d</c>: human-readable, <c>(000) ldh      [12]</c>.</summary>
    D,
    /// <summary><c>-dd</c>: a C array fragment, <c>{ 0x28, 0, 0, 0x0000000c },</c>.</summary>
    DD,
    /// <summary><c>-ddd</c>: decimal, a count line then <c>40 0 0 12</c>.</summary>
    DDD,
}

/// <summary>A listing line that cannot be read back.</summary>
public sealed class CbpfListingException : FormatException
{
    /// <summary>Creates the error for 1-based <paramref name="line"/>.</summary>
    public CbpfListingException(int line, string message) : base($"line {line}: {message}") => Line = line;

    /// <summary>1-based line number of the problem.</summary>
    public int Line { get; }
}

/// <summary>Prints and parses classic BPF listings exactly as tcpdump <c>-d</c>, <c>-dd</c> and <c>-ddd</c> do.</summary>
public static partial class CbpfListing
{
    /// <summary>Formats the whole program, one instruction per line, each line ending in a newline.</summary>
    public static string Format(ReadOnlySpan<CbpfInstruction> program, ListingStyle style)
    {
        var sb = new StringBuilder(program.Length * 40);
        if (style == ListingStyle.DDD)
            sb.Append(program.Length.ToString(CultureInfo.InvariantCulture)).Append('\n');
        for (int i = 0; i < program.Length; i++)
        {
            var insn = program[i];
            switch (style)
            {
                case ListingStyle.D:
                    sb.Append(FormatInstruction(insn, i)).Append('\n');
                    break;
                case ListingStyle.DD:
                    sb.Append(CultureInfo.InvariantCulture, $"{{ 0x{insn.Code:x}, {insn.Jt}, {insn.Jf}, 0x{insn.K:x8} }},\n");
                    break;
                default:
                    sb.Append(CultureInfo.InvariantCulture, $"{insn.Code} {insn.Jt} {insn.Jf} {insn.K}\n");
                    break;
            }
        }
        return sb.ToString();
    }

    /// <summary>One <c>-d</c> line (without newline) for instruction <paramref name="insn"/> at index <paramref name="n"/>.</summary>
    public static string FormatInstruction(CbpfInstruction insn, int n)
    {
        var (op, operand) = Describe(insn, n);
        if (insn.Class == Bpf.JMP && Bpf.Op(insn.Code) != Bpf.JA)
            return string.Create(CultureInfo.InvariantCulture,
                $"({n:000}) {op,-8} {operand,-16} jt {n + 1 + insn.Jt}\tjf {n + 1 + insn.Jf}");
        return string.Create(CultureInfo.InvariantCulture, $"({n:000}) {op,-8} {operand}");
    }

    private static (string Op, string Operand) Describe(CbpfInstruction p, int n)
    {
        string Dec(uint v) => ((int)v).ToString(CultureInfo.InvariantCulture);
        string Hex(uint v) => "#0x" + v.ToString("x", CultureInfo.InvariantCulture);
        uint k = p.K;
        switch (p.Code)
        {
            case Bpf.RET | Bpf.K: return ("ret", "#" + k.ToString(CultureInfo.InvariantCulture));
            case Bpf.RET | Bpf.A: return ("ret", "a");
            case Bpf.RET | Bpf.X: return ("ret", "x");
            case Bpf.LD | Bpf.W | Bpf.ABS: return ("ld", AbsOperand(k));
            case Bpf.LD | Bpf.H | Bpf.ABS: return ("ldh", AbsOperand(k));
            case Bpf.LD | Bpf.B | Bpf.ABS: return ("ldb", AbsOperand(k));
            case Bpf.LD | Bpf.W | Bpf.LEN: return ("ld", "#pktlen");
            case Bpf.LD | Bpf.W | Bpf.IND: return ("ld", $"[x + {k}]");
            case Bpf.LD | Bpf.H | Bpf.IND: return ("ldh", $"[x + {k}]");
            case Bpf.LD | Bpf.B | Bpf.IND: return ("ldb", $"[x + {k}]");
            case Bpf.LD | Bpf.IMM: return ("ld", Hex(k));
            case Bpf.LDX | Bpf.IMM: return ("ldx", Hex(k));
            case Bpf.LDX | Bpf.W | Bpf.LEN: return ("ldx", "#pktlen");
            case Bpf.LDX | Bpf.MSH | Bpf.B: return ("ldxb", $"4*([{k}]&0xf)");
            case Bpf.LD | Bpf.MEM: return ("ld", $"M[{k}]");
            case Bpf.LDX | Bpf.MEM: return ("ldx", $"M[{k}]");
            case Bpf.ST: return ("st", $"M[{k}]");
            case Bpf.STX: return ("stx", $"M[{k}]");
            case Bpf.JMP | Bpf.JA: return ("ja", (n + 1 + (int)k).ToString(CultureInfo.InvariantCulture));
            case Bpf.JMP | Bpf.JGT | Bpf.K: return ("jgt", Hex(k));
            case Bpf.JMP | Bpf.JGE | Bpf.K: return ("jge", Hex(k));
            case Bpf.JMP | Bpf.JEQ | Bpf.K: return ("jeq", Hex(k));
            case Bpf.JMP | Bpf.JSET | Bpf.K: return ("jset", Hex(k));
            case Bpf.JMP | Bpf.JGT | Bpf.X: return ("jgt", "x");
            case Bpf.JMP | Bpf.JGE | Bpf.X: return ("jge", "x");
            case Bpf.JMP | Bpf.JEQ | Bpf.X: return ("jeq", "x");
            case Bpf.JMP | Bpf.JSET | Bpf.X: return ("jset", "x");
            case Bpf.ALU | Bpf.NEG: return ("neg", "");
            case Bpf.MISC | Bpf.TAX: return ("tax", "");
            case Bpf.MISC | Bpf.TXA: return ("txa", "");
        }
        if (p.Class == Bpf.ALU)
        {
            string? name = Bpf.Op(p.Code) switch
            {
                Bpf.ADD => "add", Bpf.SUB => "sub", Bpf.MUL => "mul", Bpf.DIV => "div", Bpf.MOD => "mod",
                Bpf.AND => "and", Bpf.OR => "or", Bpf.XOR => "xor", Bpf.LSH => "lsh", Bpf.RSH => "rsh", _ => null,
            };
            if (name is not null)
            {
                if (Bpf.Src(p.Code) == Bpf.X)
                    return (name, "x");
                bool hex = Bpf.Op(p.Code) is Bpf.AND or Bpf.OR or Bpf.XOR;
                return (name, hex ? Hex(k) : "#" + Dec(k));
            }
        }
        return ("unimp", "0x" + p.Code.ToString("x", CultureInfo.InvariantCulture));
    }

    private static string AbsOperand(uint k) => $"[{k}]";

    /// <summary>Parses any of the three listing styles (detected from the first line) back into instructions.</summary>
    /// <exception cref="CbpfListingException">A line is malformed.</exception>
    public static CbpfInstruction[] Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var result = new List<CbpfInstruction>();
        int first = Array.FindIndex(lines, l => l.Trim().Length > 0);
        if (first < 0)
            return Array.Empty<CbpfInstruction>();
        string head = lines[first].Trim();
        if (head.StartsWith('{'))
        {
            for (int i = first; i < lines.Length; i++)
            {
                string line = lines[i].Trim();
                if (line.Length == 0)
                    continue;
                var m = DdLine().Match(line);
                if (!m.Success)
                    throw new CbpfListingException(i + 1, $"expected '{{ code, jt, jf, k }},' but found '{line}'");
                result.Add(new CbpfInstruction((ushort)Num(m.Groups[1].Value, i), (byte)Num(m.Groups[2].Value, i),
                    (byte)Num(m.Groups[3].Value, i), Num(m.Groups[4].Value, i)));
            }
            return result.ToArray();
        }
        if (head.StartsWith('('))
            return ParseD(lines, first);
        // -ddd: a count, then four decimal numbers per line.
        if (!int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out int count))
            throw new CbpfListingException(first + 1, $"expected an instruction count but found '{head}'");
        for (int i = first + 1; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0)
                continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 4)
                throw new CbpfListingException(i + 1, $"expected four numbers but found '{line}'");
            uint code = Num(parts[0], i), jt = Num(parts[1], i), jf = Num(parts[2], i), k = Num(parts[3], i);
            if (code > 0xffff || jt > 255 || jf > 255)
                throw new CbpfListingException(i + 1, "field out of range");
            result.Add(new CbpfInstruction((ushort)code, (byte)jt, (byte)jf, k));
        }
        if (result.Count != count)
            throw new CbpfListingException(first + 1, $"count says {count} instructions but {result.Count} follow");
        return result.ToArray();
    }

    private static uint Num(string s, int lineIndex)
    {
        s = s.Trim();
        uint v;
        bool ok;
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            ok = uint.TryParse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out v);
        else if (s.StartsWith('-'))
        {
            ok = int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int sv);
            v = unchecked((uint)sv);
        }
        else
            ok = uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok)
            throw new CbpfListingException(lineIndex + 1, $"'{s}' is not a number");
        return v;
    }

    [GeneratedRegex(@"^\{\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(0x[0-9a-fA-F]+|\d+)\s*\},?$")]
    private static partial Regex DdLine();

    [GeneratedRegex(@"^\((\d+)\)\s+(\S+)\s*(.*?)\s*$")]
    private static partial Regex DLine();

    [GeneratedRegex(@"^(.*?)\s+jt\s+(\d+)\s+jf\s+(\d+)$")]
    private static partial Regex DJumps();

    private static CbpfInstruction[] ParseD(string[] lines, int first)
    {
        var result = new List<CbpfInstruction>();
        for (int i = first; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd();
            if (line.Trim().Length == 0)
                continue;
            var m = DLine().Match(line.Trim());
            if (!m.Success)
                throw new CbpfListingException(i + 1, $"expected '(NNN) op operand' but found '{line.Trim()}'");
            int n = (int)Num(m.Groups[1].Value, i);
            if (n != result.Count)
                throw new CbpfListingException(i + 1, $"instruction number {n} where {result.Count} was expected");
            string op = m.Groups[2].Value;
            string rest = m.Groups[3].Value;
            int jt = -1, jf = -1;
            var jm = DJumps().Match(rest);
            if (jm.Success)
            {
                rest = jm.Groups[1].Value.Trim();
                jt = (int)Num(jm.Groups[2].Value, i) - n - 1;
                jf = (int)Num(jm.Groups[3].Value, i) - n - 1;
                if (jt is < 0 or > 255 || jf is < 0 or > 255)
                    throw new CbpfListingException(i + 1, "jump target out of range");
            }
            result.Add(ParseDInstruction(op, rest, n, jt, jf, i));
        }
        return result.ToArray();
    }

    private static CbpfInstruction ParseDInstruction(string op, string operand, int n, int jt, int jf, int li)
    {
        CbpfListingException Bad() => new(li + 1, $"cannot read '{op} {operand}'");
        uint Imm(string s)
        {
            if (!s.StartsWith('#'))
                throw Bad();
            return Num(s[1..], li);
        }
        bool isJump = op is "jeq" or "jgt" or "jge" or "jset";
        if (isJump != (jt >= 0))
            throw Bad();
        ushort size = op switch { "ldh" => Bpf.H, "ldb" => Bpf.B, _ => Bpf.W };
        var mem = MemOperand().Match(operand);
        var ind = IndOperand().Match(operand);
        var abs = AbsOperandPattern().Match(operand);
        switch (op)
        {
            case "ret":
                if (operand == "a") return CbpfInstruction.Stmt(Bpf.RET | Bpf.A, 0);
                if (operand == "x") return CbpfInstruction.Stmt(Bpf.RET | Bpf.X, 0);
                return CbpfInstruction.Stmt(Bpf.RET | Bpf.K, Imm(operand));
            case "ld" or "ldh" or "ldb":
                if (operand == "#pktlen" && op == "ld") return CbpfInstruction.Stmt(Bpf.LD | Bpf.W | Bpf.LEN, 0);
                if (mem.Success && op == "ld") return CbpfInstruction.Stmt(Bpf.LD | Bpf.MEM, Num(mem.Groups[1].Value, li));
                if (ind.Success) return CbpfInstruction.Stmt((ushort)(Bpf.LD | Bpf.IND | size), Num(ind.Groups[1].Value, li));
                if (abs.Success) return CbpfInstruction.Stmt((ushort)(Bpf.LD | Bpf.ABS | size), Num(abs.Groups[1].Value, li));
                if (op == "ld") return CbpfInstruction.Stmt(Bpf.LD | Bpf.IMM, Imm(operand));
                throw Bad();
            case "ldx":
                if (operand == "#pktlen") return CbpfInstruction.Stmt(Bpf.LDX | Bpf.W | Bpf.LEN, 0);
                if (mem.Success) return CbpfInstruction.Stmt(Bpf.LDX | Bpf.MEM, Num(mem.Groups[1].Value, li));
                return CbpfInstruction.Stmt(Bpf.LDX | Bpf.IMM, Imm(operand));
            case "ldxb":
                {
                    var msh = MshOperand().Match(operand);
                    if (!msh.Success) throw Bad();
                    return CbpfInstruction.Stmt(Bpf.LDX | Bpf.MSH | Bpf.B, Num(msh.Groups[1].Value, li));
                }
            case "st":
            case "stx":
                if (!mem.Success) throw Bad();
                return CbpfInstruction.Stmt(op == "st" ? Bpf.ST : Bpf.STX, Num(mem.Groups[1].Value, li));
            case "ja":
                {
                    uint target = Num(operand, li);
                    return CbpfInstruction.Stmt(Bpf.JMP | Bpf.JA, unchecked(target - (uint)n - 1));
                }
            case "tax": return CbpfInstruction.Stmt(Bpf.MISC | Bpf.TAX, 0);
            case "txa": return CbpfInstruction.Stmt(Bpf.MISC | Bpf.TXA, 0);
            case "neg": return CbpfInstruction.Stmt(Bpf.ALU | Bpf.NEG, 0);
        }
        if (isJump)
        {
            ushort jop = op switch { "jeq" => Bpf.JEQ, "jgt" => Bpf.JGT, "jge" => Bpf.JGE, _ => Bpf.JSET };
            if (operand == "x")
                return new CbpfInstruction((ushort)(Bpf.JMP | jop | Bpf.X), (byte)jt, (byte)jf, 0);
            return new CbpfInstruction((ushort)(Bpf.JMP | jop | Bpf.K), (byte)jt, (byte)jf, Imm(operand));
        }
        ushort? aluOp = op switch
        {
            "add" => Bpf.ADD, "sub" => Bpf.SUB, "mul" => Bpf.MUL, "div" => Bpf.DIV, "mod" => Bpf.MOD,
            "and" => Bpf.AND, "or" => Bpf.OR, "xor" => Bpf.XOR, "lsh" => Bpf.LSH, "rsh" => Bpf.RSH, _ => null,
        };
        if (aluOp is { } a)
        {
            if (operand == "x")
                return CbpfInstruction.Stmt((ushort)(Bpf.ALU | a | Bpf.X), 0);
            return CbpfInstruction.Stmt((ushort)(Bpf.ALU | a | Bpf.K), Imm(operand));
        }
        throw Bad();
    }

    [GeneratedRegex(@"^M\[(\d+)\]$")]
    private static partial Regex MemOperand();

    [GeneratedRegex(@"^\[x \+ (-?\d+)\]$")]
    private static partial Regex IndOperand();

    [GeneratedRegex(@"^\[(-?\d+)\]$")]
    private static partial Regex AbsOperandPattern();

    [GeneratedRegex(@"^4\*\(\[(\d+)\]&0xf\)$")]
    private static partial Regex MshOperand();
}
