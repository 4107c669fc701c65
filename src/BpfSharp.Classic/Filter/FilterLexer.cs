using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace BpfSharp.Classic.Filter;

internal enum Tok
{
    End, Num, Id, Hid, Hid6, Eid, Keyword, LParen, RParen, LBracket, RBracket, Colon, Slash,
    Plus, Minus, Star, Percent, Amp, Pipe, Caret, Shl, Shr, Gt, Ge, Lt, Le, Eq, Ne, Not, And, Or,
}

internal readonly record struct Token(Tok Kind, string Text, uint Value, int Column);

/// <summary>Splits a filter expression into tokens the way libpcap's scanner does (longest match wins).</summary>
internal static partial class FilterLexer
{
    [GeneratedRegex(@"\G[A-Za-z0-9](?:[-_.A-Za-z0-9]*[.A-Za-z0-9])?")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"\G(?:0[xX][0-9A-Fa-f]+|[0-9]+)")]
    private static partial Regex NumPattern();

    [GeneratedRegex(@"\G[0-9]+(?:\.[0-9]+){1,3}")]
    private static partial Regex HidPattern();

    [GeneratedRegex(@"\G(?:[0-9A-Fa-f]{1,2}(?::[0-9A-Fa-f]{1,2}){5}|[0-9A-Fa-f]{1,2}(?:-[0-9A-Fa-f]{1,2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12})")]
    private static partial Regex EidPattern();

    [GeneratedRegex(@"\G[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")]
    private static partial Regex Hid6Candidate();

    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            int col = i + 1;
            if (c is ' ' or '\t' or '\n' or '\r')
            {
                i++;
                continue;
            }
            if (char.IsAsciiLetterOrDigit(c) || (c == ':' && i + 1 < text.Length && text[i + 1] == ':'))
            {
                i = Word(text, i, tokens);
                continue;
            }
            if (c == '\\')
            {
                int j = i + 1;
                while (j < text.Length && text[j] is not (' ' or '!' or '(' or ')' or '\n' or '\t'))
                    j++;
                if (j == i + 1)
                    throw new FilterSyntaxException("syntax error", col);
                tokens.Add(new Token(Tok.Id, text[(i + 1)..j], 0, col));
                i = j;
                continue;
            }
            string two = i + 1 < text.Length ? text.Substring(i, 2) : "";
            Tok? twoKind = two switch
            {
                ">=" => Tok.Ge, "<=" => Tok.Le, "!=" => Tok.Ne, "==" => Tok.Eq, "<<" => Tok.Shl, ">>" => Tok.Shr,
                "&&" => Tok.And, "||" => Tok.Or, _ => null,
            };
            if (twoKind is { } k2)
            {
                tokens.Add(new Token(k2, two, 0, col));
                i += 2;
                continue;
            }
            Tok kind = c switch
            {
                '(' => Tok.LParen, ')' => Tok.RParen, '[' => Tok.LBracket, ']' => Tok.RBracket, ':' => Tok.Colon,
                '/' => Tok.Slash, '+' => Tok.Plus, '-' => Tok.Minus, '*' => Tok.Star, '%' => Tok.Percent,
                '&' => Tok.Amp, '|' => Tok.Pipe, '^' => Tok.Caret, '>' => Tok.Gt, '<' => Tok.Lt, '=' => Tok.Eq,
                '!' => Tok.Not,
                _ => throw new FilterSyntaxException($"illegal character '{c}'", col),
            };
            tokens.Add(new Token(kind, c.ToString(), 0, col));
            i++;
        }
        tokens.Add(new Token(Tok.End, "", 0, text.Length + 1));
        return tokens;
    }

    private static int Word(string text, int i, List<Token> tokens)
    {
        int col = i + 1;
        int idLen = Len(IdPattern(), text, i);
        int numLen = Len(NumPattern(), text, i);
        int hidLen = Len(HidPattern(), text, i);
        int eidLen = Len(EidPattern(), text, i);
        int hid6Len = 0;
        var m6 = Hid6Candidate().Match(text, i);
        if (m6.Success)
        {
            // The longest prefix that parses as an IPv6 address (libpcap's scanner pattern admits the same forms).
            for (int len = m6.Length; len >= 2; len--)
            {
                var s = text.Substring(i, len);
                if (s.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(s, out var a) &&
                    a.AddressFamily == AddressFamily.InterNetworkV6 && !s.Contains('%', StringComparison.Ordinal))
                {
                    hid6Len = len;
                    break;
                }
            }
        }
        int best = Math.Max(Math.Max(idLen, numLen), Math.Max(Math.Max(hidLen, eidLen), hid6Len));
        if (best == 0)
            throw new FilterSyntaxException("syntax error", col);
        string word = text.Substring(i, best);
        // Ties go to the rule listed first in libpcap's scanner: numbers and addresses before identifiers.
        if (numLen == best && hidLen < best && eidLen < best)
            tokens.Add(new Token(Tok.Num, word, ParseNumber(word, col), col));
        else if (eidLen == best)
            tokens.Add(new Token(Tok.Eid, word, 0, col));
        else if (hidLen == best)
            tokens.Add(new Token(Tok.Hid, word, 0, col));
        else if (hid6Len == best)
            tokens.Add(new Token(Tok.Hid6, word, 0, col));
        else if (FilterTables.Keywords.Contains(word))
            tokens.Add(new Token(Tok.Keyword, word, 0, col));
        else if (FilterTables.NamedConstants.TryGetValue(word, out uint constant))
            tokens.Add(new Token(Tok.Num, word, constant, col));
        else
            tokens.Add(new Token(Tok.Id, word, 0, col));
        return i + best;
    }

    private static int Len(Regex r, string text, int i)
    {
        var m = r.Match(text, i);
        return m.Success ? m.Length : 0;
    }

    /// <summary>libpcap's number syntax: 0x hex, leading-zero octal, else decimal; 32-bit.</summary>
    private static uint ParseNumber(string word, int col)
    {
        try
        {
            if (word.Length > 2 && (word[1] == 'x' || word[1] == 'X'))
                return uint.Parse(word.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (word.Length > 1 && word[0] == '0')
            {
                uint v = 0;
                foreach (char ch in word.AsSpan(1))
                {
                    if (ch > '7')
                        throw new FilterCompileException($"number {word} contains non-octal digit", col);
                    v = checked(v * 8 + (uint)(ch - '0'));
                }
                return v;
            }
            return uint.Parse(word, CultureInfo.InvariantCulture);
        }
        catch (OverflowException)
        {
            throw new FilterCompileException($"number {word} overflows 32 bits", col);
        }
    }
}
