using System.Globalization;

namespace BpfSharp.Asm;

internal enum LlvmTokenKind : byte
{
    End,
    Identifier,
    Number,
    Punct,
}

/// <summary>One token of a source line; <see cref="Column"/> is 1-based.</summary>
internal readonly record struct LlvmToken(LlvmTokenKind Kind, string Text, ulong Value, int Column)
{
    public bool Is(string punct) => Kind == LlvmTokenKind.Punct && Text == punct;
    public bool IsWord(string word) => Kind == LlvmTokenKind.Identifier && Text == word;
    public override string ToString() => Kind == LlvmTokenKind.End ? "end of line" : $"'{Text}'";
}

/// <summary>Splits one line of LLVM-syntax assembly into tokens, dropping comments.</summary>
internal static class LlvmLexer
{
    // Longest first, so that "<<=" wins over "<" and "s>=" over "s>".
    private static readonly string[] Puncts =
    [
        "s>>=", "<<=", ">>=", "s/=", "s%=", "s>=", "s<=",
        "==", "!=", ">=", "<=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "s>", "s<",
        "=", "<", ">", "&", "(", ")", "[", "]", "*", ",", "+", "-", ":", "#",
    ];

    public static List<LlvmToken> Tokenize(string line, int lineNumber)
    {
        var tokens = new List<LlvmToken>(12);
        int i = 0;
        while (i < line.Length)
        {
            char c = line[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c == ';') break;
            if (c == '/' && i + 1 < line.Length && line[i + 1] == '/') break;
            // '#' starts a comment unless it is glued to a name, as in the kernel log's "call bpf_trace_printk#6".
            if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1]))) break;
            int column = i + 1;
            if (char.IsAsciiDigit(c))
            {
                int start = i;
                ulong value;
                if (c == '0' && i + 1 < line.Length && (line[i + 1] == 'x' || line[i + 1] == 'X'))
                {
                    i += 2;
                    int digits = i;
                    while (i < line.Length && char.IsAsciiHexDigit(line[i])) i++;
                    if (i == digits) throw new AsmException("hex number has no digits", lineNumber, column);
                    if (!ulong.TryParse(line.AsSpan(digits, i - digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value))
                        throw new AsmException($"number '{line[start..i]}' does not fit in 64 bits", lineNumber, column);
                }
                else if (IsBareHex(line, i, out int end))
                {
                    // llvm-objdump's symbol header addresses ("00000000000000c8 <f>:") and the kernel log's opcode column.
                    value = ulong.Parse(line.AsSpan(i, end - i), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
                    i = end;
                }
                else
                {
                    while (i < line.Length && char.IsAsciiDigit(line[i])) i++;
                    if (!ulong.TryParse(line.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out value))
                        throw new AsmException($"number '{line[start..i]}' does not fit in 64 bits", lineNumber, column);
                }
                if (i < line.Length && IsNameChar(line[i]))
                    throw new AsmException($"malformed number '{line[start..(i + 1)]}'", lineNumber, column);
                tokens.Add(new LlvmToken(LlvmTokenKind.Number, line[start..i], value, column));
                continue;
            }
            // Signed operators are written glued to an 's': "s>", "s>=", "s/=", "s%=", "s>>=".
            if (c == 's' && i + 1 < line.Length && line[i + 1] is '>' or '<' or '/' or '%')
            {
                string? signed = MatchPunct(line, i);
                if (signed is not null && signed[0] == 's')
                {
                    tokens.Add(new LlvmToken(LlvmTokenKind.Punct, signed, 0, column));
                    i += signed.Length;
                    continue;
                }
            }
            if (IsNameStart(c))
            {
                int start = i;
                while (i < line.Length && IsNameChar(line[i])) i++;
                tokens.Add(new LlvmToken(LlvmTokenKind.Identifier, line[start..i], 0, column));
                continue;
            }
            string? punct = MatchPunct(line, i);
            if (punct is null || punct[0] == 's')
                throw new AsmException($"unexpected character '{c}'", lineNumber, column);
            tokens.Add(new LlvmToken(LlvmTokenKind.Punct, punct, 0, column));
            i += punct.Length;
        }
        tokens.Add(new LlvmToken(LlvmTokenKind.End, "", 0, line.Length + 1));
        return tokens;
    }

    private static string? MatchPunct(string line, int i)
    {
        foreach (var p in Puncts)
            if (string.CompareOrdinal(line, i, p, 0, p.Length) == 0) return p;
        return null;
    }

    private static bool IsBareHex(string line, int i, out int end)
    {
        end = i;
        bool letter = false;
        while (end < line.Length && char.IsAsciiHexDigit(line[end]))
        {
            letter |= !char.IsAsciiDigit(line[end]);
            end++;
        }
        // Only where objdump and the kernel print unprefixed hex: 16-digit symbol addresses and the "(7b)" opcode column.
        bool opcodeColumn = end - i == 2 && i > 0 && line[i - 1] == '(' && end < line.Length && line[end] == ')';
        return letter && (end - i == 16 || opcodeColumn) && (end == line.Length || !IsNameChar(line[end]));
    }

    private static bool IsNameStart(char c) => char.IsAsciiLetter(c) || c is '_' or '.' or '$' or '@';
    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '$' or '@';
}
