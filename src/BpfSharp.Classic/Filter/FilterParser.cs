namespace BpfSharp.Classic.Filter;

/// <summary>
/// Recursive-descent parser for the pcap-filter grammar. It builds a tree; qualifiers of bare operands
/// (<c>port 80 or 443</c>) are resolved here exactly as libpcap's grammar passes them along.
/// </summary>
internal sealed class FilterParser
{
    private readonly List<Token> _tokens;
    private int _pos;

    private FilterParser(List<Token> tokens) => _tokens = tokens;

    /// <summary>Parses a whole expression; null for the empty expression (which accepts everything).</summary>
    public static Node? Parse(string text)
    {
        var parser = new FilterParser(FilterLexer.Tokenize(text));
        if (parser.Peek.Kind == Tok.End)
            return null;
        var (node, _) = parser.ParseExpr(Qual.Error);
        if (parser.Peek.Kind != Tok.End)
            throw parser.Syntax();
        return node;
    }

    private Token Peek => _tokens[_pos];
    private Token PeekAt(int i) => _tokens[Math.Min(_pos + i, _tokens.Count - 1)];
    private Token Next() => _tokens[_pos++];
    private FilterSyntaxException Syntax() => new("syntax error", Peek.Column);
    private bool IsKeyword(string word) => Peek.Kind == Tok.Keyword && Peek.Text == word;
    private static bool IsKeyword(Token t, string word) => t.Kind == Tok.Keyword && t.Text == word;

    private bool AtAnd => Peek.Kind == Tok.And || IsKeyword("and");
    private bool AtOr => Peek.Kind == Tok.Or || IsKeyword("or");
    private bool AtNot => Peek.Kind == Tok.Not || IsKeyword("not");

    private (Node, Qual) ParseExpr(Qual inherited)
    {
        var (node, q) = ParseTerm(inherited);
        while (true)
        {
            bool isAnd;
            if (AtAnd)
                isAnd = true;
            else if (AtOr)
                isAnd = false;
            else
                return (node, q);
            Next();
            var (rhs, q2) = ParseTermOrId(q);
            node = isAnd ? new AndNode(node, rhs) : new OrNode(node, rhs);
            q = q2;
        }
    }

    // After "and"/"or" either a full term or a bare id that inherits the qualifiers may follow.
    private (Node, Qual) ParseTermOrId(Qual q)
    {
        var t = Peek;
        if (AtNot)
        {
            Next();
            var (inner, q2) = ParseTermOrId(q);
            return (new NotNode(inner, t.Column), q2);
        }
        switch (t.Kind)
        {
            case Tok.Id or Tok.Hid or Tok.Hid6 or Tok.Eid:
                return (ParseNid(q), q);
            case Tok.Num when !IsArithOperator(PeekAt(1)):
                Next();
                return (new IdNode(q, IdKind.Number, t.Text, t.Value, null, t.Column), q);
            case Tok.LParen when IsParenIdList(_pos):
                return (ParseId(q), q);
            default:
                return ParseTerm(q);
        }
    }

    private (Node, Qual) ParseTerm(Qual inherited)
    {
        var t = Peek;
        if (AtNot)
        {
            Next();
            var (inner, q) = ParseTerm(inherited);
            return (new NotNode(inner, t.Column), q);
        }
        switch (t.Kind)
        {
            case Tok.LParen:
                if (IsArithParen(_pos))
                    return (ParseRelation(), Qual.Error);
                Next();
                var (e, _) = ParseExpr(inherited);
                Expect(Tok.RParen);
                return (e, inherited);
            case Tok.Num or Tok.Minus:
                return (ParseRelation(), Qual.Error);
            case Tok.Keyword:
                break;
            default:
                throw Syntax();
        }
        string word = t.Text;
        if (ProtoName(word) is { } pq)
        {
            if (PeekAt(1).Kind == Tok.LBracket)
                return (ParseRelation(), Qual.Error);
            Next();
            return ParseHead(pq, true, t.Column);
        }
        switch (word)
        {
            case "len" or "length":
                return (ParseRelation(), Qual.Error);
            case "less" or "greater":
                {
                    Next();
                    var n = Expect(Tok.Num);
                    return (new OtherNode(word == "less" ? OtherKind.Less : OtherKind.Greater, QProto.Default, n.Value, t.Column), Qual.Error);
                }
            case "inbound" or "outbound":
                Next();
                return (new OtherNode(word == "inbound" ? OtherKind.Inbound : OtherKind.Outbound, QProto.Default, null, t.Column), Qual.Error);
            case "vlan" or "mpls" or "pppoes" or "geneve":
                {
                    Next();
                    uint? n = null;
                    if (Peek.Kind == Tok.Num)
                        n = Next().Value;
                    var kind = word switch { "vlan" => OtherKind.Vlan, "mpls" => OtherKind.Mpls, "pppoes" => OtherKind.Pppoes, _ => OtherKind.Geneve };
                    return (new OtherNode(kind, QProto.Default, n, t.Column), Qual.Error);
                }
            case "pppoed":
                Next();
                return (new OtherNode(OtherKind.Pppoed, QProto.Default, null, t.Column), Qual.Error);
            case "llc":
                Next();
                return (new OtherNode(OtherKind.Llc, QProto.Default, null, t.Column), Qual.Error);
            case "ifindex":
                {
                    Next();
                    var n = Expect(Tok.Num);
                    return (new OtherNode(OtherKind.Ifindex, QProto.Default, n.Value, t.Column), Qual.Error);
                }
            default:
                return ParseHead(QProto.Default, false, t.Column);
        }
    }

    // head: pqual dqual aqual | pqual dqual | pqual aqual | pqual PROTO | pqual PROTOCHAIN | pqual GATEWAY,
    // followed by an id; or pqual broadcast/multicast; or a protocol name alone.
    private (Node, Qual) ParseHead(QProto pq, bool hadProto, int column)
    {
        if (DirQual() is { } dir)
        {
            QAddr addr = QAddr.Default;
            if (Peek.Kind == Tok.Keyword && AddrQual(Peek.Text) is { } a)
            {
                Next();
                addr = a;
            }
            var q = new Qual(pq, dir, addr);
            return (ParseId(q), q);
        }
        if (Peek.Kind == Tok.Keyword)
        {
            string word = Peek.Text;
            QAddr? addr = AddrQual(word) ?? word switch
            {
                "proto" => QAddr.Proto,
                "protochain" => QAddr.Protochain,
                "gateway" => QAddr.Gateway,
                _ => null,
            };
            if (addr is { } a)
            {
                Next();
                var q = new Qual(pq, QDir.Default, a);
                return (ParseId(q), q);
            }
            if (word is "broadcast" or "multicast")
            {
                Next();
                return (new OtherNode(word == "broadcast" ? OtherKind.Broadcast : OtherKind.Multicast, pq, null, column), Qual.Error);
            }
        }
        if (hadProto)
            return (new ProtoAbbrevNode(pq, column), Qual.Error);
        throw Syntax();
    }

    private QDir? DirQual()
    {
        if (Peek.Kind != Tok.Keyword)
            return null;
        string w = Peek.Text;
        if (w is "src" or "dst")
        {
            Next();
            bool isSrc = w == "src";
            if ((AtOr || AtAnd) && IsKeyword(PeekAt(1), isSrc ? "dst" : "src"))
            {
                bool or = AtOr;
                Next();
                Next();
                return or ? QDir.Or : QDir.And;
            }
            return isSrc ? QDir.Src : QDir.Dst;
        }
        QDir? d = w switch
        {
            "addr1" or "address1" => QDir.Addr1,
            "addr2" or "address2" => QDir.Addr2,
            "addr3" or "address3" => QDir.Addr3,
            "addr4" or "address4" => QDir.Addr4,
            "ra" => QDir.Ra,
            "ta" => QDir.Ta,
            _ => null,
        };
        if (d is not null)
            Next();
        return d;
    }

    private static QAddr? AddrQual(string word) => word switch
    {
        "host" => QAddr.Host,
        "net" => QAddr.Net,
        "port" => QAddr.Port,
        "portrange" => QAddr.Portrange,
        _ => null,
    };

    private Node ParseId(Qual q)
    {
        var t = Peek;
        if (AtNot)
        {
            Next();
            return new NotNode(ParseId(q), t.Column);
        }
        switch (t.Kind)
        {
            case Tok.Id or Tok.Hid or Tok.Hid6 or Tok.Eid:
                return ParseNid(q);
            case Tok.Num:
                Next();
                return new IdNode(q, IdKind.Number, t.Text, t.Value, null, t.Column);
            case Tok.LParen:
                {
                    Next();
                    var node = ParseId(q);
                    while (AtAnd || AtOr)
                    {
                        bool isAnd = AtAnd;
                        Next();
                        var rhs = ParseId(q);
                        node = isAnd ? new AndNode(node, rhs) : new OrNode(node, rhs);
                    }
                    Expect(Tok.RParen);
                    return node;
                }
            default:
                throw Syntax();
        }
    }

    private IdNode ParseNid(Qual q)
    {
        var t = Next();
        switch (t.Kind)
        {
            case Tok.Id:
                return new IdNode(q, IdKind.Name, t.Text, 0, null, t.Column);
            case Tok.Hid:
                if (Peek.Kind == Tok.Slash)
                {
                    Next();
                    var n = Expect(Tok.Num);
                    return new IdNode(q, IdKind.HidMaskLen, t.Text, n.Value, null, t.Column);
                }
                if (IsKeyword("mask"))
                {
                    Next();
                    var m = Expect(Tok.Hid);
                    return new IdNode(q, IdKind.HidMask, t.Text, 0, m.Text, t.Column);
                }
                return new IdNode(q, IdKind.Hid, t.Text, 0, null, t.Column);
            case Tok.Hid6:
                if (Peek.Kind == Tok.Slash)
                {
                    Next();
                    var n = Expect(Tok.Num);
                    return new IdNode(q, IdKind.Hid6MaskLen, t.Text, n.Value, null, t.Column);
                }
                return new IdNode(q, IdKind.Hid6, t.Text, 128, null, t.Column);
            case Tok.Eid:
                return new IdNode(q, IdKind.Eid, t.Text, 0, null, t.Column);
            default:
                _pos--;
                throw Syntax();
        }
    }

    private Token Expect(Tok kind)
    {
        if (Peek.Kind != kind)
            throw Syntax();
        return Next();
    }

    private RelationNode ParseRelation()
    {
        int col = Peek.Column;
        var left = ParseArith(0);
        (ushort code, bool reversed) = Peek.Kind switch
        {
            Tok.Gt => (Bpf.JGT, false),
            Tok.Ge => (Bpf.JGE, false),
            Tok.Eq => (Bpf.JEQ, false),
            Tok.Le => (Bpf.JGT, true),
            Tok.Ne => (Bpf.JEQ, true),
            Tok.Lt => (Bpf.JGE, true),
            _ => throw Syntax(),
        };
        Next();
        var right = ParseArith(0);
        return new RelationNode(code, reversed, left, right, col);
    }

    private static int Precedence(Tok kind) => kind switch
    {
        Tok.Pipe => 1,
        Tok.Caret => 2,
        Tok.Amp => 3,
        Tok.Shl or Tok.Shr => 4,
        Tok.Plus or Tok.Minus => 5,
        Tok.Star or Tok.Slash or Tok.Percent => 6,
        _ => 0,
    };

    private static ushort AluOp(Tok kind) => kind switch
    {
        Tok.Pipe => Bpf.OR,
        Tok.Caret => Bpf.XOR,
        Tok.Amp => Bpf.AND,
        Tok.Shl => Bpf.LSH,
        Tok.Shr => Bpf.RSH,
        Tok.Plus => Bpf.ADD,
        Tok.Minus => Bpf.SUB,
        Tok.Star => Bpf.MUL,
        Tok.Slash => Bpf.DIV,
        _ => Bpf.MOD,
    };

    private Arith ParseArith(int minPrec)
    {
        var left = ParsePrimary();
        while (true)
        {
            int prec = Precedence(Peek.Kind);
            if (prec == 0 || prec <= minPrec)
                return left;
            var op = Next();
            var right = ParseArith(prec);
            left = new ArithBinary(AluOp(op.Kind), left, right, op.Column);
        }
    }

    private Arith ParsePrimary()
    {
        var t = Peek;
        switch (t.Kind)
        {
            case Tok.Num:
                Next();
                return new ArithNum(t.Value, t.Column);
            case Tok.Minus:
                Next();
                return new ArithNeg(ParsePrimary(), t.Column);
            case Tok.LParen:
                {
                    Next();
                    var inner = ParseArith(0);
                    Expect(Tok.RParen);
                    return inner;
                }
            case Tok.Keyword when t.Text is "len" or "length":
                Next();
                return new ArithLen(t.Column);
            case Tok.Keyword when ProtoName(t.Text) is { } proto && PeekAt(1).Kind == Tok.LBracket:
                {
                    Next();
                    Next();
                    var index = ParseArith(0);
                    uint size = 1;
                    if (Peek.Kind == Tok.Colon)
                    {
                        Next();
                        size = Expect(Tok.Num).Value;
                    }
                    Expect(Tok.RBracket);
                    return new ArithLoad(proto, index, size, t.Column);
                }
            default:
                throw Syntax();
        }
    }

    private static bool IsArithOperator(Token t) => Precedence(t.Kind) > 0 ||
        t.Kind is Tok.Gt or Tok.Ge or Tok.Lt or Tok.Le or Tok.Eq or Tok.Ne;

    private int MatchingParen(int open)
    {
        int depth = 0;
        for (int i = open; i < _tokens.Count; i++)
        {
            if (_tokens[i].Kind == Tok.LParen)
                depth++;
            else if (_tokens[i].Kind == Tok.RParen && --depth == 0)
                return i;
        }
        return -1;
    }

    private bool IsArithParen(int open)
    {
        int close = MatchingParen(open);
        return close > 0 && IsArithOperator(_tokens[close + 1]);
    }

    private bool IsParenIdList(int open)
    {
        int close = MatchingParen(open);
        if (close < 0 || IsArithOperator(_tokens[close + 1]))
            return false;
        for (int i = open + 1; i < close; i++)
        {
            var t = _tokens[i];
            bool ok = t.Kind is Tok.Id or Tok.Hid or Tok.Hid6 or Tok.Eid or Tok.Num or Tok.Slash or Tok.LParen
                or Tok.RParen or Tok.And or Tok.Or or Tok.Not
                || (t.Kind == Tok.Keyword && t.Text is "and" or "or" or "not" or "mask");
            if (!ok)
                return false;
        }
        return true;
    }

    internal static QProto? ProtoName(string word) => word switch
    {
        "link" or "ether" or "ppp" or "slip" or "fddi" or "tr" or "wlan" => QProto.Link,
        "ip" => QProto.Ip,
        "arp" => QProto.Arp,
        "rarp" => QProto.Rarp,
        "sctp" => QProto.Sctp,
        "tcp" => QProto.Tcp,
        "udp" => QProto.Udp,
        "icmp" => QProto.Icmp,
        "igmp" => QProto.Igmp,
        "igrp" => QProto.Igrp,
        "pim" => QProto.Pim,
        "vrrp" => QProto.Vrrp,
        "carp" => QProto.Carp,
        "radio" => QProto.Radio,
        "ip6" => QProto.Ipv6,
        "icmp6" => QProto.Icmpv6,
        "ah" => QProto.Ah,
        "esp" => QProto.Esp,
        "atalk" => QProto.Atalk,
        "aarp" => QProto.Aarp,
        "decnet" => QProto.Decnet,
        "lat" => QProto.Lat,
        "sca" => QProto.Sca,
        "moprc" => QProto.Moprc,
        "mopdl" => QProto.Mopdl,
        "iso" => QProto.Iso,
        "esis" or "es-is" => QProto.Esis,
        "clnp" => QProto.Clnp,
        "isis" or "is-is" => QProto.Isis,
        "l1" => QProto.IsisL1,
        "l2" => QProto.IsisL2,
        "iih" => QProto.IsisIih,
        "lsp" => QProto.IsisLsp,
        "snp" => QProto.IsisSnp,
        "csnp" => QProto.IsisCsnp,
        "psnp" => QProto.IsisPsnp,
        "stp" => QProto.Stp,
        "ipx" => QProto.Ipx,
        "netbeui" => QProto.Netbeui,
        _ => null,
    };
}
