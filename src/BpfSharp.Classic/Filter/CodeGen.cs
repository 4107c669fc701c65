using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace BpfSharp.Classic.Filter;

internal enum OffRel { Packet, LinkHdr, Llc, PrevMplsHdr, LinkPl, LinkPlNoSnap, LinkType, TranIpv4, TranIpv6 }

internal sealed class ArithValue
{
    public List<CbpfInstruction> S = new();
    public int Reg;
    public Cond? B;
}

/// <summary>
/// Code generation for pcap-filter primitives following libpcap's gencode conventions (same blocks, same
/// order of tests, same scratch-register use), so that programs mean exactly what tcpdump's mean.
/// </summary>
internal sealed class CodeGen
{
    private const uint EtherMtu = 1500;
    private const uint EtherTypeIp = 0x0800, EtherTypeArp = 0x0806, EtherTypeRevArp = 0x8035, EtherTypeIpv6 = 0x86dd,
        EtherTypeAtalk = 0x809b, EtherTypeAarp = 0x80f3, EtherTypeIpx = 0x8137, EtherTypeDn = 0x6003,
        EtherTypeLat = 0x6004, EtherTypeSca = 0x6007, EtherTypeMopDl = 0x6001, EtherTypeMopRc = 0x6002,
        EtherType8021Q = 0x8100, EtherType8021AD = 0x88a8, EtherTypeQinQ = 0x9100, EtherTypeMpls = 0x8847,
        EtherTypePppoeD = 0x8863, EtherTypePppoeS = 0x8864;
    private const uint LlcSapIsoNs = 0xfe, LlcSapIp = 0x06, LlcSapNetbeui = 0xf0, LlcSapIpx = 0xe0, LlcSap8021D = 0x42;
    private const uint ProtoUndef = uint.MaxValue;
    private const uint IpProtoTcp = 6, IpProtoUdp = 17, IpProtoSctp = 132;

    private readonly LinkType _outerLink;
    private LinkType _link;
    private bool _pppAfterPppoe;
    private readonly uint _snaplen;
    private int _blockIds;

    // Offsets (libpcap's bpf_abs_offset constant parts; we never have variable-length link headers).
    private uint _offLinkHdr, _offLinkPl, _offNl, _offNlNoSnap;
    private int _offLinkType;
    private int _labelStackDepth, _vlanStackDepth;

    private readonly bool[] _regUsed = new bool[Bpf.MemWords];
    private int _curReg;

    public CodeGen(LinkType link, uint snaplen)
    {
        _outerLink = link;
        _link = link;
        _snaplen = snaplen;
        switch (link)
        {
            case LinkType.Ethernet:
                _offLinkType = 12;
                _offLinkPl = 14;
                _offNl = 0;
                _offNlNoSnap = 3;
                break;
            case LinkType.LinuxSll:
                _offLinkType = 14;
                _offLinkPl = 16;
                _offNl = 0;
                _offNlNoSnap = 0;
                break;
            case LinkType.Raw:
                _offLinkType = -1;
                _offLinkPl = 0;
                break;
            default:
                throw new FilterCompileException($"link type {link} is not supported");
        }
    }

    private string LinkDescription => _link switch
    {
        LinkType.Ethernet => "Ethernet",
        LinkType.LinuxSll => "Linux cooked v1",
        LinkType.Raw => "Raw IP",
        _ => _link.ToString(),
    };

    // ---------------------------------------------------------------- program assembly

    public CbpfInstruction[] Finish(Node? root)
    {
        var accept = Ret(_snaplen);
        if (root is null)
            return Linearizer.Emit(accept);
        var cond = Generate(root);
        var reject = Ret(0);
        Cond.Patch(cond.Trues, accept);
        Cond.Patch(cond.Falses, reject);
        return Linearizer.Emit(cond.Head);
    }

    public Block Ret(uint k)
    {
        var b = new Block(_blockIds++) { Code = Bpf.RET | Bpf.K, K = k };
        return b;
    }

    private Cond Jump(List<CbpfInstruction>? stmts, ushort code, uint k)
    {
        var b = new Block(_blockIds++) { Code = code, K = k };
        if (stmts is not null)
            b.Stmts.AddRange(stmts);
        return new Cond(b, new List<Exit> { new(b, true) }, new List<Exit> { new(b, false) });
    }

    private static CbpfInstruction S(ushort code, uint k = 0) => CbpfInstruction.Stmt(code, k);

    private Cond Generate(Node node)
    {
        switch (node)
        {
            case AndNode a:
                {
                    var l = Generate(a.Left);
                    var r = Generate(a.Right);
                    return Cond.And(l, r);
                }
            case OrNode o:
                {
                    var l = Generate(o.Left);
                    var r = Generate(o.Right);
                    return Cond.Or(l, r);
                }
            case NotNode n:
                return Cond.Not(Generate(n.Inner));
            case IdNode id:
                return WithColumn(id.Column, () => GenId(id));
            case ProtoAbbrevNode p:
                return WithColumn(p.Column, () => ProtoAbbrev(p.Proto));
            case OtherNode o:
                return WithColumn(o.Column, () => GenOther(o));
            case RelationNode r:
                return WithColumn(r.Column, () => GenRelation(r));
            default:
                throw new InvalidOperationException("unknown node");
        }
    }

    private static Cond WithColumn(int column, Func<Cond> f)
    {
        try
        {
            return f();
        }
        catch (FilterCompileException e) when (e.Column == 0)
        {
            throw new FilterCompileException(e.Message, column);
        }
    }

    private static FilterCompileException Error(string message) => new(message);

    // ---------------------------------------------------------------- loads and comparisons

    private List<CbpfInstruction> LoadA(OffRel rel, uint offset, ushort size)
    {
        var list = new List<CbpfInstruction>(2);
        switch (rel)
        {
            case OffRel.Packet: list.Add(S((ushort)(Bpf.LD | Bpf.ABS | size), offset)); break;
            case OffRel.LinkHdr: list.Add(S((ushort)(Bpf.LD | Bpf.ABS | size), _offLinkHdr + offset)); break;
            case OffRel.Llc: list.Add(S((ushort)(Bpf.LD | Bpf.ABS | size), _offLinkPl + offset)); break;
            case OffRel.PrevMplsHdr: list.Add(S((ushort)(Bpf.LD | Bpf.ABS | size), _offLinkPl + _offNl - 4 + offset)); break;
            case OffRel.LinkPl: list.Add(S((ushort)(Bpf.LD | Bpf.ABS | size), _offLinkPl + _offNl + offset)); break;
            case OffRel.LinkPlNoSnap: list.Add(S((ushort)(Bpf.LD | Bpf.ABS | size), _offLinkPl + _offNlNoSnap + offset)); break;
            case OffRel.LinkType: list.Add(S((ushort)(Bpf.LD | Bpf.ABS | size), (uint)_offLinkType + offset)); break;
            case OffRel.TranIpv4:
                list.Add(LoadXIpHeaderLength());
                list.Add(S((ushort)(Bpf.LD | Bpf.IND | size), _offLinkPl + _offNl + offset));
                break;
            case OffRel.TranIpv6: list.Add(S((ushort)(Bpf.LD | Bpf.ABS | size), _offLinkPl + _offNl + 40 + offset)); break;
        }
        return list;
    }

    private CbpfInstruction LoadXIpHeaderLength() => S(Bpf.LDX | Bpf.MSH | Bpf.B, _offLinkPl + _offNl);

    private Cond NCmp(OffRel rel, uint offset, ushort size, uint mask, ushort jtype, bool reverse, uint v)
    {
        var s = LoadA(rel, offset, size);
        if (mask != 0xffffffff)
            s.Add(S(Bpf.ALU | Bpf.AND | Bpf.K, mask));
        var b = Jump(s, (ushort)(Bpf.JMP | jtype), v);
        return reverse ? Cond.Not(b) : b;
    }

    private Cond Cmp(OffRel rel, uint offset, ushort size, uint v) => NCmp(rel, offset, size, 0xffffffff, Bpf.JEQ, false, v);
    private Cond CmpGt(OffRel rel, uint offset, ushort size, uint v) => NCmp(rel, offset, size, 0xffffffff, Bpf.JGT, false, v);
    private Cond CmpGe(OffRel rel, uint offset, ushort size, uint v) => NCmp(rel, offset, size, 0xffffffff, Bpf.JGE, false, v);
    private Cond CmpLe(OffRel rel, uint offset, ushort size, uint v) => NCmp(rel, offset, size, 0xffffffff, Bpf.JGT, true, v);
    private Cond MCmp(OffRel rel, uint offset, ushort size, uint v, uint mask) => NCmp(rel, offset, size, mask, Bpf.JEQ, false, v);

    /// <summary>Compares bytes from the end: words first, then a half word, then a byte, all and-ed.</summary>
    private Cond BCmp(OffRel rel, uint offset, ReadOnlySpan<byte> v)
    {
        Cond? b = null;
        int size = v.Length;
        while (size >= 4)
        {
            var tmp = Cmp(rel, offset + (uint)size - 4, Bpf.W, BinaryPrimitives.ReadUInt32BigEndian(v[(size - 4)..]));
            b = b is null ? tmp : Cond.And(b, tmp);
            size -= 4;
        }
        while (size >= 2)
        {
            var tmp = Cmp(rel, offset + (uint)size - 2, Bpf.H, BinaryPrimitives.ReadUInt16BigEndian(v[(size - 2)..]));
            b = b is null ? tmp : Cond.And(b, tmp);
            size -= 2;
        }
        if (size > 0)
        {
            var tmp = Cmp(rel, offset, Bpf.B, v[0]);
            b = b is null ? tmp : Cond.And(b, tmp);
        }
        return b!;
    }

    private Cond Uncond(bool value)
    {
        var s = new List<CbpfInstruction> { S(Bpf.LD | Bpf.IMM, value ? 0u : 1u) };
        return Jump(s, Bpf.JMP | Bpf.JEQ, 0);
    }

    private Cond False() => Uncond(false);

    // ---------------------------------------------------------------- link types

    private Cond LinkTypeTest(uint proto)
    {
        if (_labelStackDepth > 0)
            return MplsLinkType(proto);
        if (_pppAfterPppoe)
            return Cmp(OffRel.LinkType, 0, Bpf.H, EtherTypeToPppType(proto));
        switch (_link)
        {
            case LinkType.Ethernet:
                return EtherLinkType(proto);
            case LinkType.LinuxSll:
                return SllLinkType(proto);
            case LinkType.Raw:
                return proto switch
                {
                    EtherTypeIp => MCmp(OffRel.LinkHdr, 0, Bpf.B, 0x40, 0xf0),
                    EtherTypeIpv6 => MCmp(OffRel.LinkHdr, 0, Bpf.B, 0x60, 0xf0),
                    _ => False(),
                };
            default:
                throw Error("unsupported link type");
        }
    }

    private static uint EtherTypeToPppType(uint proto) => proto switch
    {
        EtherTypeIp => 0x0021,
        EtherTypeIpv6 => 0x0057,
        EtherTypeDn => 0x0027,
        EtherTypeAtalk => 0x0029,
        0x0600 => 0x0025, // XNS IDP
        LlcSapIsoNs => 0x0023,
        LlcSap8021D => 0x0031,
        LlcSapIpx => 0x002b,
        _ => proto,
    };

    private Cond Snap(uint orgCode, uint ptype)
    {
        Span<byte> snap = stackalloc byte[8];
        snap[0] = 0xaa;
        snap[1] = 0xaa;
        snap[2] = 0x03;
        snap[3] = (byte)(orgCode >> 16);
        snap[4] = (byte)(orgCode >> 8);
        snap[5] = (byte)orgCode;
        snap[6] = (byte)(ptype >> 8);
        snap[7] = (byte)ptype;
        return BCmp(OffRel.Llc, 0, snap);
    }

    private Cond EtherLinkType(uint proto)
    {
        switch (proto)
        {
            case LlcSapIsoNs:
            case LlcSapIp:
            case LlcSapNetbeui:
                {
                    var b0 = Cond.Not(CmpGt(OffRel.LinkType, 0, Bpf.H, EtherMtu));
                    var b1 = Cmp(OffRel.Llc, 0, Bpf.H, (proto << 8) | proto);
                    return Cond.And(b0, b1);
                }
            case LlcSapIpx:
                {
                    var b0 = Cmp(OffRel.Llc, 0, Bpf.B, LlcSapIpx);
                    var b1 = Cmp(OffRel.Llc, 0, Bpf.H, 0xffff);
                    b1 = Cond.Or(b0, b1);
                    b0 = Snap(0x000000, EtherTypeIpx);
                    b1 = Cond.Or(b0, b1);
                    b0 = Cond.Not(CmpGt(OffRel.LinkType, 0, Bpf.H, EtherMtu));
                    b1 = Cond.And(b0, b1);
                    b0 = Cmp(OffRel.LinkType, 0, Bpf.H, EtherTypeIpx);
                    return Cond.Or(b0, b1);
                }
            case EtherTypeAtalk:
            case EtherTypeAarp:
                {
                    var b0 = Cond.Not(CmpGt(OffRel.LinkType, 0, Bpf.H, EtherMtu));
                    var b1 = proto == EtherTypeAtalk ? Snap(0x080007, EtherTypeAtalk) : Snap(0x000000, EtherTypeAarp);
                    b1 = Cond.And(b0, b1);
                    b0 = Cmp(OffRel.LinkType, 0, Bpf.H, proto);
                    return Cond.Or(b0, b1);
                }
            default:
                if (proto <= EtherMtu)
                {
                    var b0 = Cond.Not(CmpGt(OffRel.LinkType, 0, Bpf.H, EtherMtu));
                    var b1 = Cmp(OffRel.LinkType, 2, Bpf.B, proto);
                    return Cond.And(b0, b1);
                }
                return Cmp(OffRel.LinkType, 0, Bpf.H, proto);
        }
    }

    private const uint SllP8022 = 4, SllP8023 = 1;

    private Cond SllLinkType(uint proto)
    {
        switch (proto)
        {
            case LlcSapIsoNs:
            case LlcSapIp:
            case LlcSapNetbeui:
                {
                    var b0 = Cmp(OffRel.LinkType, 0, Bpf.H, SllP8022);
                    var b1 = Cmp(OffRel.LinkPl, 0, Bpf.H, (proto << 8) | proto);
                    return Cond.And(b0, b1);
                }
            case LlcSapIpx:
                {
                    var b0 = Cmp(OffRel.Llc, 0, Bpf.B, LlcSapIpx);
                    var b1 = Snap(0x000000, EtherTypeIpx);
                    b1 = Cond.Or(b0, b1);
                    b0 = Cmp(OffRel.LinkType, 0, Bpf.H, SllP8022);
                    b1 = Cond.And(b0, b1);
                    b0 = Cmp(OffRel.LinkType, 0, Bpf.H, SllP8023);
                    b1 = Cond.Or(b0, b1);
                    b0 = Cmp(OffRel.LinkType, 0, Bpf.H, EtherTypeIpx);
                    return Cond.Or(b0, b1);
                }
            case EtherTypeAtalk:
            case EtherTypeAarp:
                {
                    var b0 = Cmp(OffRel.LinkType, 0, Bpf.H, SllP8022);
                    var b1 = proto == EtherTypeAtalk ? Snap(0x080007, EtherTypeAtalk) : Snap(0x000000, EtherTypeAarp);
                    b1 = Cond.And(b0, b1);
                    b0 = Cmp(OffRel.LinkType, 0, Bpf.H, proto);
                    return Cond.Or(b0, b1);
                }
            default:
                if (proto <= EtherMtu)
                {
                    var b0 = Cmp(OffRel.LinkType, 0, Bpf.H, SllP8022);
                    var b1 = Cmp(OffRel.LinkPl, 0, Bpf.B, proto);
                    return Cond.And(b0, b1);
                }
                return Cmp(OffRel.LinkType, 0, Bpf.H, proto);
        }
    }

    private Cond MplsLinkType(uint proto)
    {
        uint version = proto switch
        {
            EtherTypeIp => 0x40,
            EtherTypeIpv6 => 0x60,
            _ => throw Error("unsupported protocol over mpls"),
        };
        var b0 = MCmp(OffRel.PrevMplsHdr, 2, Bpf.B, 0x01, 0x01);
        var b1 = MCmp(OffRel.LinkPl, 0, Bpf.B, version, 0xf0);
        return Cond.And(b0, b1);
    }

    // ---------------------------------------------------------------- protocols

    private Cond ProtoAbbrev(QProto proto) => proto switch
    {
        QProto.Sctp => GenProto(IpProtoSctp, QProto.Default, QDir.Default),
        QProto.Tcp => GenProto(IpProtoTcp, QProto.Default, QDir.Default),
        QProto.Udp => GenProto(IpProtoUdp, QProto.Default, QDir.Default),
        QProto.Icmp => GenProto(1, QProto.Ip, QDir.Default),
        QProto.Igmp => GenProto(2, QProto.Ip, QDir.Default),
        QProto.Igrp => GenProto(9, QProto.Ip, QDir.Default),
        QProto.Pim => GenProto(103, QProto.Default, QDir.Default),
        QProto.Vrrp or QProto.Carp => GenProto(112, QProto.Ip, QDir.Default),
        QProto.Ip => LinkTypeTest(EtherTypeIp),
        QProto.Arp => LinkTypeTest(EtherTypeArp),
        QProto.Rarp => LinkTypeTest(EtherTypeRevArp),
        QProto.Link => throw Error("link layer applied in wrong context"),
        QProto.Atalk => LinkTypeTest(EtherTypeAtalk),
        QProto.Aarp => LinkTypeTest(EtherTypeAarp),
        QProto.Decnet => LinkTypeTest(EtherTypeDn),
        QProto.Sca => LinkTypeTest(EtherTypeSca),
        QProto.Lat => LinkTypeTest(EtherTypeLat),
        QProto.Mopdl => LinkTypeTest(EtherTypeMopDl),
        QProto.Moprc => LinkTypeTest(EtherTypeMopRc),
        QProto.Ipv6 => LinkTypeTest(EtherTypeIpv6),
        QProto.Icmpv6 => GenProto(58, QProto.Ipv6, QDir.Default),
        QProto.Ah => GenProto(51, QProto.Default, QDir.Default),
        QProto.Esp => GenProto(50, QProto.Default, QDir.Default),
        QProto.Iso => LinkTypeTest(LlcSapIsoNs),
        QProto.Esis => GenProto(0x82, QProto.Iso, QDir.Default),
        QProto.Isis => GenProto(0x83, QProto.Iso, QDir.Default),
        QProto.IsisL1 => IsisAny(15, 17, 18, 24, 26),
        QProto.IsisL2 => IsisAny(16, 17, 20, 25, 27),
        QProto.IsisIih => IsisAny(15, 16, 17),
        QProto.IsisLsp => IsisAny(18, 20),
        QProto.IsisSnp => IsisAny(24, 25, 26, 27),
        QProto.IsisCsnp => IsisAny(24, 25),
        QProto.IsisPsnp => IsisAny(26, 27),
        QProto.Clnp => GenProto(0x81, QProto.Iso, QDir.Default),
        QProto.Stp => LinkTypeTest(LlcSap8021D),
        QProto.Ipx => LinkTypeTest(LlcSapIpx),
        QProto.Netbeui => LinkTypeTest(LlcSapNetbeui),
        QProto.Radio => throw Error("'radio' is not a valid protocol type"),
        _ => throw Error("syntax error in filter expression"),
    };

    private Cond IsisAny(params uint[] pduTypes)
    {
        // libpcap or-s each further PDU type in front of the previous ones.
        var b1 = GenProto(pduTypes[0], QProto.Isis, QDir.Default);
        for (int i = 1; i < pduTypes.Length; i++)
        {
            var b0 = GenProto(pduTypes[i], QProto.Isis, QDir.Default);
            b1 = i == 1 ? Cond.Or(b1, b0) : Cond.Or(b0, b1);
        }
        return b1;
    }

    private Cond IpFragTest()
    {
        var s = LoadA(OffRel.LinkPl, 6, Bpf.H);
        return Cond.Not(Jump(s, Bpf.JMP | Bpf.JSET, 0x1fff));
    }

    private Cond GenProto(uint v, QProto proto, QDir dir)
    {
        if (dir != QDir.Default)
            throw Error("direction applied to 'proto'");
        switch (proto)
        {
            case QProto.Default:
                {
                    var b0 = GenProto(v, QProto.Ip, dir);
                    var b1 = GenProto(v, QProto.Ipv6, dir);
                    return Cond.Or(b0, b1);
                }
            case QProto.Link:
                return LinkTypeTest(v);
            case QProto.Ip:
                {
                    var b0 = LinkTypeTest(EtherTypeIp);
                    var b1 = Cmp(OffRel.LinkPl, 9, Bpf.B, v);
                    return Cond.And(b0, b1);
                }
            case QProto.Ipv6:
                {
                    var b0 = LinkTypeTest(EtherTypeIpv6);
                    var b2 = Cmp(OffRel.LinkPl, 6, Bpf.B, 44);
                    var b1 = Cmp(OffRel.LinkPl, 40, Bpf.B, v);
                    b1 = Cond.And(b2, b1);
                    b2 = Cmp(OffRel.LinkPl, 6, Bpf.B, v);
                    b1 = Cond.Or(b2, b1);
                    return Cond.And(b0, b1);
                }
            case QProto.Iso:
                {
                    var b0 = LinkTypeTest(LlcSapIsoNs);
                    var b1 = Cmp(OffRel.LinkPlNoSnap, 0, Bpf.B, v);
                    return Cond.And(b0, b1);
                }
            case QProto.Isis:
                {
                    var b0 = GenProto(0x83, QProto.Iso, QDir.Default);
                    var b1 = Cmp(OffRel.LinkPlNoSnap, 4, Bpf.B, v);
                    return Cond.And(b0, b1);
                }
            case QProto.Arp: throw Error("arp does not encapsulate another protocol");
            case QProto.Rarp: throw Error("rarp does not encapsulate another protocol");
            case QProto.Atalk: throw Error("atalk encapsulation is not specifiable");
            case QProto.Decnet: throw Error("decnet encapsulation is not specifiable");
            case QProto.Sca: throw Error("sca does not encapsulate another protocol");
            case QProto.Lat: throw Error("lat does not encapsulate another protocol");
            case QProto.Moprc: throw Error("moprc does not encapsulate another protocol");
            case QProto.Mopdl: throw Error("mopdl does not encapsulate another protocol");
            case QProto.Clnp: throw Error("'clnp proto' is not supported");
            default:
                throw Error($"'{ProtoWord(proto)} proto' is bogus");
        }
    }

    private static string ProtoWord(QProto p) => p switch
    {
        QProto.Ipv6 => "ip6",
        QProto.Icmpv6 => "icmp6",
        QProto.IsisL1 => "l1",
        QProto.IsisL2 => "l2",
        QProto.IsisIih => "iih",
        QProto.IsisLsp => "lsp",
        QProto.IsisSnp => "snp",
        QProto.IsisCsnp => "csnp",
        QProto.IsisPsnp => "psnp",
        QProto.Link => "link",
        _ => p.ToString().ToLowerInvariant(),
    };

    // ---------------------------------------------------------------- hosts and networks

    private Cond HostOp(uint addr, uint mask, QDir dir, uint proto, uint srcOff, uint dstOff)
    {
        uint offset;
        switch (dir)
        {
            case QDir.Src: offset = srcOff; break;
            case QDir.Dst: offset = dstOff; break;
            case QDir.And:
                {
                    var b0 = HostOp(addr, mask, QDir.Src, proto, srcOff, dstOff);
                    var b1 = HostOp(addr, mask, QDir.Dst, proto, srcOff, dstOff);
                    return Cond.And(b0, b1);
                }
            case QDir.Default:
            case QDir.Or:
                {
                    var b0 = HostOp(addr, mask, QDir.Src, proto, srcOff, dstOff);
                    var b1 = HostOp(addr, mask, QDir.Dst, proto, srcOff, dstOff);
                    return Cond.Or(b0, b1);
                }
            default:
                throw Dot11DirError(dir);
        }
        var l = LinkTypeTest(proto);
        var c = MCmp(OffRel.LinkPl, offset, Bpf.W, addr, mask);
        return Cond.And(l, c);
    }

    private static FilterCompileException Dot11DirError(QDir dir) => dir switch
    {
        QDir.Addr1 => Error("'addr1' and 'address1' are only supported on 802.11 with 802.11 headers"),
        QDir.Addr2 => Error("'addr2' and 'address2' are only supported on 802.11 with 802.11 headers"),
        QDir.Addr3 => Error("'addr3' and 'address3' are only supported on 802.11 with 802.11 headers"),
        QDir.Addr4 => Error("'addr4' and 'address4' are only supported on 802.11 with 802.11 headers"),
        QDir.Ra => Error("'ra' is only supported on 802.11 with 802.11 headers"),
        QDir.Ta => Error("'ta' is only supported on 802.11 with 802.11 headers"),
        _ => Error("syntax error in filter expression"),
    };

    private Cond GenHost(uint addr, uint mask, QProto proto, QDir dir, QAddr type)
    {
        string typeStr = type == QAddr.Net ? "net" : "host";
        switch (proto)
        {
            case QProto.Default:
                {
                    var b0 = GenHost(addr, mask, QProto.Ip, dir, type);
                    if (_labelStackDepth == 0)
                    {
                        var b1 = GenHost(addr, mask, QProto.Arp, dir, type);
                        b1 = Cond.Or(b0, b1);
                        b0 = GenHost(addr, mask, QProto.Rarp, dir, type);
                        b0 = Cond.Or(b1, b0);
                    }
                    return b0;
                }
            case QProto.Link: throw Error($"link-layer modifier applied to {typeStr}");
            case QProto.Ip: return HostOp(addr, mask, dir, EtherTypeIp, 12, 16);
            case QProto.Rarp: return HostOp(addr, mask, dir, EtherTypeRevArp, 14, 24);
            case QProto.Arp: return HostOp(addr, mask, dir, EtherTypeArp, 14, 24);
            case QProto.Ipv6: throw Error($"'ip6' modifier applied to ip {typeStr}");
            default: throw Error($"'{ProtoWord(proto)}' modifier applied to {typeStr}");
        }
    }

    private Cond HostOp6(ReadOnlySpan<byte> addr, ReadOnlySpan<byte> mask, QDir dir, uint srcOff, uint dstOff)
    {
        uint offset;
        switch (dir)
        {
            case QDir.Src: offset = srcOff; break;
            case QDir.Dst: offset = dstOff; break;
            case QDir.And:
                {
                    var b0 = HostOp6(addr, mask, QDir.Src, srcOff, dstOff);
                    var b1 = HostOp6(addr, mask, QDir.Dst, srcOff, dstOff);
                    return Cond.And(b0, b1);
                }
            case QDir.Default:
            case QDir.Or:
                {
                    var b0 = HostOp6(addr, mask, QDir.Src, srcOff, dstOff);
                    var b1 = HostOp6(addr, mask, QDir.Dst, srcOff, dstOff);
                    return Cond.Or(b0, b1);
                }
            default:
                throw Dot11DirError(dir);
        }
        uint W(ReadOnlySpan<byte> s, int i) => BinaryPrimitives.ReadUInt32BigEndian(s[(i * 4)..]);
        var b = MCmp(OffRel.LinkPl, offset + 12, Bpf.W, W(addr, 3), W(mask, 3));
        var t = MCmp(OffRel.LinkPl, offset + 8, Bpf.W, W(addr, 2), W(mask, 2));
        b = Cond.And(t, b);
        t = MCmp(OffRel.LinkPl, offset + 4, Bpf.W, W(addr, 1), W(mask, 1));
        b = Cond.And(t, b);
        t = MCmp(OffRel.LinkPl, offset + 0, Bpf.W, W(addr, 0), W(mask, 0));
        b = Cond.And(t, b);
        t = LinkTypeTest(EtherTypeIpv6);
        return Cond.And(t, b);
    }

    private Cond GenHost6(byte[] addr, byte[] mask, QProto proto, QDir dir, QAddr type)
    {
        string typeStr = type == QAddr.Net ? "net" : "host";
        return proto switch
        {
            QProto.Default or QProto.Ipv6 => HostOp6(addr, mask, dir, 8, 24),
            QProto.Link => throw Error($"link-layer modifier applied to ip6 {typeStr}"),
            _ => throw Error($"'{ProtoWord(proto)}' modifier applied to ip6 {typeStr}"),
        };
    }

    private Cond EHostOp(ReadOnlySpan<byte> mac, QDir dir)
    {
        switch (dir)
        {
            case QDir.Src: return BCmp(OffRel.LinkHdr, 6, mac);
            case QDir.Dst: return BCmp(OffRel.LinkHdr, 0, mac);
            case QDir.And:
                {
                    var b0 = EHostOp(mac, QDir.Src);
                    var b1 = EHostOp(mac, QDir.Dst);
                    return Cond.And(b0, b1);
                }
            case QDir.Default:
            case QDir.Or:
                {
                    var b0 = EHostOp(mac, QDir.Src);
                    var b1 = EHostOp(mac, QDir.Dst);
                    return Cond.Or(b0, b1);
                }
            default:
                throw Dot11DirError(dir);
        }
    }

    /// <summary>libpcap's __pcap_atoin: dotted decimal parts; returns the value and its length in bits.</summary>
    private static (uint Value, int Bits) AtoIn(string s)
    {
        uint addr = 0;
        int len = 0;
        foreach (var part in s.Split('.'))
        {
            if (!uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out uint n) || n > 255)
                throw Error($"invalid IPv4 address '{s}'");
            addr = (addr << 8) | n;
            len += 8;
        }
        return (addr, len);
    }

    // ---------------------------------------------------------------- ports

    private Cond PortAtom(uint off, uint v) => Cmp(OffRel.TranIpv4, off, Bpf.H, v);
    private Cond PortAtom6(uint off, uint v) => Cmp(OffRel.TranIpv6, off, Bpf.H, v);

    private static Cond PortDir(QDir dir, Func<uint, Cond> atom)
    {
        switch (dir)
        {
            case QDir.Src: return atom(0);
            case QDir.Dst: return atom(2);
            case QDir.And:
                {
                    var t = atom(0);
                    var b = atom(2);
                    return Cond.And(t, b);
                }
            case QDir.Default:
            case QDir.Or:
                {
                    var t = atom(0);
                    var b = atom(2);
                    return Cond.Or(t, b);
                }
            default:
                throw Dot11DirError(dir);
        }
    }

    private Cond PortOp(uint port, uint proto, QDir dir)
    {
        var tmp = Cmp(OffRel.LinkPl, 9, Bpf.B, proto);
        var b0 = Cond.And(tmp, IpFragTest());
        var b1 = PortDir(dir, off => PortAtom(off, port));
        return Cond.And(b0, b1);
    }

    private Cond PortOp6(uint port, uint proto, QDir dir)
    {
        var tmp = Cmp(OffRel.LinkPl, 6, Bpf.B, proto);
        var b1 = PortDir(dir, off => PortAtom6(off, port));
        return Cond.And(tmp, b1);
    }

    private Cond PortRangeOp(uint p1, uint p2, uint proto, QDir dir)
    {
        var tmp = Cmp(OffRel.LinkPl, 9, Bpf.B, proto);
        var b0 = Cond.And(tmp, IpFragTest());
        var b1 = PortDir(dir, off => RangeAtom(OffRel.TranIpv4, off, p1, p2));
        return Cond.And(b0, b1);
    }

    private Cond PortRangeOp6(uint p1, uint p2, uint proto, QDir dir)
    {
        var tmp = Cmp(OffRel.LinkPl, 6, Bpf.B, proto);
        var b1 = PortDir(dir, off => RangeAtom(OffRel.TranIpv6, off, p1, p2));
        return Cond.And(tmp, b1);
    }

    private Cond RangeAtom(OffRel rel, uint off, uint v1, uint v2)
    {
        if (v1 > v2)
            (v1, v2) = (v2, v1);
        var b1 = CmpGe(rel, off, Bpf.H, v1);
        var b2 = CmpLe(rel, off, Bpf.H, v2);
        return Cond.And(b1, b2);
    }

    private static Cond ForTransports(uint proto, Func<uint, Cond> op)
    {
        if (proto != ProtoUndef)
            return op(proto);
        var tmp = op(IpProtoTcp);
        var b1 = op(IpProtoUdp);
        b1 = Cond.Or(tmp, b1);
        tmp = op(IpProtoSctp);
        return Cond.Or(tmp, b1);
    }

    private Cond GenPort(uint port, uint proto, QDir dir)
    {
        var b0 = LinkTypeTest(EtherTypeIp);
        var b1 = ForTransports(proto, p => PortOp(port, p, dir));
        return Cond.And(b0, b1);
    }

    private Cond GenPort6(uint port, uint proto, QDir dir)
    {
        var b0 = LinkTypeTest(EtherTypeIpv6);
        var b1 = ForTransports(proto, p => PortOp6(port, p, dir));
        return Cond.And(b0, b1);
    }

    private Cond GenPortRange(uint p1, uint p2, uint proto, QDir dir)
    {
        var b0 = LinkTypeTest(EtherTypeIp);
        var b1 = ForTransports(proto, p => PortRangeOp(p1, p2, p, dir));
        return Cond.And(b0, b1);
    }

    private Cond GenPortRange6(uint p1, uint p2, uint proto, QDir dir)
    {
        var b0 = LinkTypeTest(EtherTypeIpv6);
        var b1 = ForTransports(proto, p => PortRangeOp6(p1, p2, p, dir));
        return Cond.And(b0, b1);
    }

    private static uint PortProtoFromQualifier(QProto proto, string what) => proto switch
    {
        QProto.Udp => IpProtoUdp,
        QProto.Tcp => IpProtoTcp,
        QProto.Sctp => IpProtoSctp,
        QProto.Default => ProtoUndef,
        _ => throw Error($"illegal qualifier of '{what}'"),
    };

    /// <summary>libpcap's pcap_nametoport: the port of a service name and the transport it is bound to.</summary>
    private static bool NameToPort(string name, out uint port, out uint proto)
    {
        port = 0;
        proto = ProtoUndef;
        if (!FilterTables.Services.TryGetValue(name, out var svc))
            return false;
        port = svc.Port;
        bool tcp = svc.Protos.HasFlag(FilterTables.ServiceProto.Tcp);
        bool udp = svc.Protos.HasFlag(FilterTables.ServiceProto.Udp);
        proto = tcp && udp ? ProtoUndef : tcp ? IpProtoTcp : IpProtoUdp;
        return true;
    }

    private static uint CheckedPortProto(QProto q, uint realProto, string name)
    {
        switch (q)
        {
            case QProto.Udp:
                if (realProto == IpProtoTcp) throw Error($"port '{name}' is tcp");
                if (realProto == IpProtoSctp) throw Error($"port '{name}' is sctp");
                return IpProtoUdp;
            case QProto.Tcp:
                if (realProto == IpProtoUdp) throw Error($"port '{name}' is udp");
                if (realProto == IpProtoSctp) throw Error($"port '{name}' is sctp");
                return IpProtoTcp;
            case QProto.Sctp:
                if (realProto == IpProtoUdp) throw Error($"port '{name}' is udp");
                if (realProto == IpProtoTcp) throw Error($"port '{name}' is tcp");
                return IpProtoSctp;
            default:
                return realProto;
        }
    }

    // ---------------------------------------------------------------- ids (gen_scode, gen_ncode, gen_mcode...)

    private Cond GenId(IdNode id)
    {
        var q = id.Q;
        switch (id.Kind)
        {
            case IdKind.Name: return GenScode(id.Text, q);
            case IdKind.Number: return GenNcode(null, id.Number, q);
            case IdKind.Hid:
                switch (q.Addr)
                {
                    case QAddr.Port: throw Error("'port' modifier applied to IP address");
                    case QAddr.Portrange: throw Error("'portrange' modifier applied to IP address");
                    case QAddr.Proto: throw Error("'proto' modifier applied to IP address");
                    case QAddr.Protochain: throw Error("'protochain' modifier applied to IP address");
                }
                return GenNcode(id.Text, 0, q);
            case IdKind.HidMaskLen: return GenMcode(id.Text, null, id.Number, q);
            case IdKind.HidMask: return GenMcode(id.Text, id.Text2, 0, q);
            case IdKind.Hid6: return GenMcode6(id.Text, 128, q);
            case IdKind.Hid6MaskLen: return GenMcode6(id.Text, id.Number, q);
            case IdKind.Eid: return GenEcode(id.Text, q);
            default: throw new InvalidOperationException();
        }
    }

    private Cond GenScode(string name, Qual q)
    {
        switch (q.Addr)
        {
            case QAddr.Net:
                throw Error($"unknown network '{name}'");
            case QAddr.Default:
            case QAddr.Host:
                if (q.Proto == QProto.Link)
                    throw Error($"unknown ether host '{name}'");
                throw Error($"unknown host '{name}'");
            case QAddr.Port:
                {
                    PortProtoFromQualifier(q.Proto, "port");
                    if (!NameToPort(name, out uint port, out uint real))
                        throw Error($"unknown port '{name}'");
                    real = CheckedPortProto(q.Proto, real, name);
                    var b = GenPort(port, real, q.Dir);
                    return Cond.Or(GenPort6(port, real, q.Dir), b);
                }
            case QAddr.Portrange:
                {
                    PortProtoFromQualifier(q.Proto, "portrange");
                    if (!NameToPortRange(name, out uint p1, out uint p2, out uint real))
                        throw Error($"unknown port in range '{name}'");
                    real = CheckedPortProto(q.Proto, real, name);
                    var b = GenPortRange(p1, p2, real, q.Dir);
                    return Cond.Or(GenPortRange6(p1, p2, real, q.Dir), b);
                }
            case QAddr.Gateway:
                throw Error("'gateway' not supported in this configuration");
            case QAddr.Proto:
                return GenProto(LookupProto(name, q.Proto), q.Proto, q.Dir);
            case QAddr.Protochain:
                return GenProtochain(LookupProto(name, q.Proto), q.Proto);
            default:
                throw Error("syntax error in filter expression");
        }
    }

    private static bool NameToPortRange(string name, out uint p1, out uint p2, out uint proto)
    {
        p1 = p2 = 0;
        proto = ProtoUndef;
        int dash = name.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0 && uint.TryParse(name.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out p1) &&
            uint.TryParse(name.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out p2))
        {
            if (p1 > 65535)
                throw Error($"illegal port number {p1} > 65535");
            if (p2 > 65535)
                throw Error($"illegal port number {p2} > 65535");
            return true;
        }
        for (int i = name.IndexOf('-', StringComparison.Ordinal); i > 0; i = name.IndexOf('-', i + 1))
        {
            if (NameOrNumber(name[..i], out p1, out uint proto1) && NameOrNumber(name[(i + 1)..], out p2, out uint proto2))
            {
                proto = proto1 == proto2 ? proto1 : ProtoUndef;
                return true;
            }
        }
        return false;

        static bool NameOrNumber(string s, out uint port, out uint pr)
        {
            pr = ProtoUndef;
            if (uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out port))
                return port <= 65535;
            return NameToPort(s, out port, out pr);
        }
    }

    private static uint LookupProto(string name, QProto proto)
    {
        switch (proto)
        {
            case QProto.Default:
            case QProto.Ip:
            case QProto.Ipv6:
                if (FilterTables.IpProtocols.TryGetValue(name, out uint v))
                    return v;
                throw Error($"unknown ip proto '{name}'");
            case QProto.Link:
                if (FilterTables.EtherProtocols.TryGetValue(name, out v))
                    return v;
                throw Error($"unknown ether proto '{name}'");
            case QProto.Iso:
                if (FilterTables.OsiProtocols.TryGetValue(name, out v))
                    return v;
                throw Error($"unknown osi proto '{name}'");
            default:
                return ProtoUndef;
        }
    }

    private Cond GenNcode(string? s, uint v, Qual q)
    {
        int vlen;
        if (s is not null)
            (v, vlen) = AtoIn(s);
        else
            vlen = 32;
        switch (q.Addr)
        {
            case QAddr.Default:
            case QAddr.Host:
            case QAddr.Net:
                {
                    if (q.Proto == QProto.Link)
                        throw Error("illegal link layer address");
                    uint mask = 0xffffffff;
                    if (s is null && q.Addr == QAddr.Net)
                    {
                        while (v != 0 && (v & 0xff000000) == 0)
                        {
                            v <<= 8;
                            mask <<= 8;
                        }
                    }
                    else if (vlen < 32)
                    {
                        v <<= 32 - vlen;
                        mask <<= 32 - vlen;
                    }
                    return GenHost(v, mask, q.Proto, q.Dir, q.Addr);
                }
            case QAddr.Port:
                {
                    uint proto = PortProtoFromQualifier(q.Proto, "port");
                    if (v > 65535)
                        throw Error($"illegal port number {v} > 65535");
                    var b = GenPort(v, proto, q.Dir);
                    return Cond.Or(GenPort6(v, proto, q.Dir), b);
                }
            case QAddr.Portrange:
                {
                    uint proto = PortProtoFromQualifier(q.Proto, "portrange");
                    if (v > 65535)
                        throw Error($"illegal port number {v} > 65535");
                    var b = GenPortRange(v, v, proto, q.Dir);
                    return Cond.Or(GenPortRange6(v, v, proto, q.Dir), b);
                }
            case QAddr.Gateway:
                throw Error("'gateway' requires a name");
            case QAddr.Proto:
                return GenProto(v, q.Proto, q.Dir);
            case QAddr.Protochain:
                return GenProtochain(v, q.Proto);
            default:
                throw Error("syntax error in filter expression");
        }
    }

    private Cond GenMcode(string s1, string? s2, uint masklen, Qual q)
    {
        var (n, nlen) = AtoIn(s1);
        n <<= 32 - nlen;
        uint m;
        if (s2 is not null)
        {
            var (mv, mlen) = AtoIn(s2);
            m = mv << (32 - mlen);
            if ((n & ~m) != 0)
                throw Error($"non-network bits set in \"{s1} mask {s2}\"");
        }
        else
        {
            if (masklen > 32)
                throw Error($"mask length must be <= 32");
            m = masklen == 0 ? 0 : 0xffffffff << (int)(32 - masklen);
            if ((n & ~m) != 0)
                throw Error($"non-network bits set in \"{s1}/{masklen}\"");
        }
        return q.Addr switch
        {
            QAddr.Net => GenHost(n, m, q.Proto, q.Dir, q.Addr),
            _ => throw Error("Mask syntax for networks only"),
        };
    }

    private Cond GenMcode6(string s, uint masklen, Qual q)
    {
        if (!IPAddress.TryParse(s, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
            throw Error($"invalid ip6 address {s}");
        if (masklen > 128)
            throw Error("mask length must be <= 128");
        byte[] addr = ip.GetAddressBytes();
        byte[] mask = new byte[16];
        for (int i = 0; i < 16; i++)
        {
            int bits = (int)Math.Clamp((long)masklen - i * 8, 0, 8);
            mask[i] = (byte)(0xff00 >> bits);
        }
        for (int i = 0; i < 16; i++)
        {
            if ((addr[i] & ~mask[i]) != 0)
                throw Error($"non-network bits set in \"{s}/{masklen}\"");
        }
        switch (q.Addr)
        {
            case QAddr.Default:
            case QAddr.Host:
                if (masklen != 128)
                    throw Error("Mask syntax for networks only");
                return GenHost6(addr, mask, q.Proto, q.Dir, q.Addr);
            case QAddr.Net:
                return GenHost6(addr, mask, q.Proto, q.Dir, q.Addr);
            default:
                throw Error("invalid qualifier against IPv6 address");
        }
    }

    private Cond GenEcode(string text, Qual q)
    {
        if ((q.Addr == QAddr.Host || q.Addr == QAddr.Default) && q.Proto == QProto.Link)
        {
            if (_outerLink != LinkType.Ethernet || _link != LinkType.Ethernet)
                throw Error("ethernet addresses supported only on ethernet/FDDI/token ring/802.11/ATM LANE/Fibre Channel");
            return EHostOp(ParseMac(text), q.Dir);
        }
        throw Error("ethernet address used in non-ether expression");
    }

    private static byte[] ParseMac(string text)
    {
        string hex;
        if (text.Contains(':', StringComparison.Ordinal) || text.Contains('-', StringComparison.Ordinal))
        {
            var parts = text.Split(':', '-');
            var mac = new byte[6];
            for (int i = 0; i < 6; i++)
                mac[i] = byte.Parse(parts[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return mac;
        }
        hex = text.Replace(".", "", StringComparison.Ordinal);
        return Convert.FromHexString(hex);
    }

    // ---------------------------------------------------------------- protochain

    private Cond GenProtochain(uint v, QProto proto)
    {
        // libpcap takes the scratch register before looking at the protocol, and the default case (IPv4 or IPv6)
        // returns without releasing it; mirrored so register numbers match.
        int reg = AllocReg();
        switch (proto)
        {
            case QProto.Default:
                {
                    var b0 = GenProtochain(v, QProto.Ip);
                    var b = GenProtochain(v, QProto.Ipv6);
                    return Cond.Or(b0, b);
                }
            case QProto.Ip:
            case QProto.Ipv6:
                break;
            default:
                throw Error("bad protocol applied for 'protochain'");
        }
        bool v6 = proto == QProto.Ipv6;
        uint nl = _offLinkPl + _offNl;
        var c = new List<CbpfInstruction>();
        // Fix-ups: (index of jump, label) resolved once all label positions are known.
        var fix = new List<(int At, bool IsJt, string Label)>();
        var labels = new Dictionary<string, int>();
        void J(ushort code, uint k, string? t, string? f)
        {
            if (t is not null) fix.Add((c.Count, true, t));
            if (f is not null) fix.Add((c.Count, false, f));
            c.Add(new CbpfInstruction(code, 0, 0, k));
        }
        if (v6)
        {
            c.Add(S(Bpf.LD | Bpf.ABS | Bpf.B, nl + 6));
            c.Add(S(Bpf.LDX | Bpf.IMM, 40));
        }
        else
        {
            c.Add(S(Bpf.LD | Bpf.ABS | Bpf.B, nl + 9));
            c.Add(S(Bpf.LDX | Bpf.MSH | Bpf.B, nl));
        }
        labels["loop"] = c.Count;
        J(Bpf.JMP | Bpf.JEQ | Bpf.K, v, "end", null);
        J(Bpf.JMP | Bpf.JEQ | Bpf.K, 59, "end", null); // no next header
        if (v6)
        {
            J(Bpf.JMP | Bpf.JEQ | Bpf.K, 0, "ext", null);  // hop-by-hop options
            J(Bpf.JMP | Bpf.JEQ | Bpf.K, 60, "ext", null); // destination options
            J(Bpf.JMP | Bpf.JEQ | Bpf.K, 43, "ext", null); // routing
            J(Bpf.JMP | Bpf.JEQ | Bpf.K, 44, "ext", "ah"); // fragment
            labels["ext"] = c.Count;
            c.Add(S(Bpf.LD | Bpf.IND | Bpf.B, nl));
            c.Add(S(Bpf.ST, (uint)reg));
            c.Add(S(Bpf.LD | Bpf.IND | Bpf.B, nl + 1));
            c.Add(S(Bpf.ALU | Bpf.ADD | Bpf.K, 1));
            c.Add(S(Bpf.ALU | Bpf.MUL | Bpf.K, 8));
            c.Add(S(Bpf.ALU | Bpf.ADD | Bpf.X));
            c.Add(S(Bpf.MISC | Bpf.TAX));
            c.Add(S(Bpf.LD | Bpf.MEM, (uint)reg));
            fix.Add((c.Count, true, "loop"));
            c.Add(S(Bpf.JMP | Bpf.JA));
        }
        else
            c.Add(S(Bpf.ALU | Bpf.ADD | Bpf.K, 0));
        labels["ah"] = c.Count;
        J(Bpf.JMP | Bpf.JEQ | Bpf.K, 51, null, "end");
        c.Add(S(Bpf.MISC | Bpf.TXA));
        c.Add(S(Bpf.LD | Bpf.IND | Bpf.B, nl));
        c.Add(S(Bpf.ST, (uint)reg));
        c.Add(S(Bpf.MISC | Bpf.TXA));
        c.Add(S(Bpf.ALU | Bpf.ADD | Bpf.K, 1));
        c.Add(S(Bpf.MISC | Bpf.TAX));
        c.Add(S(Bpf.LD | Bpf.IND | Bpf.B, nl));
        c.Add(S(Bpf.ALU | Bpf.ADD | Bpf.K, 2));
        c.Add(S(Bpf.ALU | Bpf.MUL | Bpf.K, 4));
        c.Add(S(Bpf.MISC | Bpf.TAX));
        c.Add(S(Bpf.LD | Bpf.MEM, (uint)reg));
        fix.Add((c.Count, true, "loop"));
        c.Add(S(Bpf.JMP | Bpf.JA));
        labels["end"] = c.Count;
        c.Add(S(Bpf.ALU | Bpf.ADD | Bpf.K, 0));
        foreach (var (at, isJt, label) in fix)
        {
            var insn = c[at];
            int rel = labels[label] - at - 1;
            if (insn.Code == (Bpf.JMP | Bpf.JA))
                c[at] = S(Bpf.JMP | Bpf.JA, unchecked((uint)rel));
            else
                c[at] = new CbpfInstruction(insn.Code, isJt ? (byte)rel : insn.Jt, isJt ? insn.Jf : (byte)rel, insn.K);
        }
        FreeReg(reg);
        var b1 = Jump(c, Bpf.JMP | Bpf.JEQ | Bpf.K, v);
        b1.Head.Opaque = true;
        var b2 = LinkTypeTest(v6 ? EtherTypeIpv6 : EtherTypeIp);
        return Cond.And(b2, b1);
    }

    // ---------------------------------------------------------------- other primitives

    private Cond GenOther(OtherNode o)
    {
        switch (o.Kind)
        {
            case OtherKind.Broadcast:
                switch (o.Proto)
                {
                    case QProto.Default:
                    case QProto.Link:
                        if (_link != LinkType.Ethernet || _pppAfterPppoe)
                            throw Error("not a broadcast link");
                        return EHostOp(new byte[] { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, QDir.Dst);
                    case QProto.Ip:
                        {
                            // Reading a capture file, tcpdump's netmask is 0, so the host part is all 32 bits.
                            const uint hostMask = 0xffffffff;
                            var b0 = LinkTypeTest(EtherTypeIp);
                            var b1 = MCmp(OffRel.LinkPl, 16, Bpf.W, 0, hostMask);
                            var b2 = MCmp(OffRel.LinkPl, 16, Bpf.W, hostMask, hostMask);
                            b2 = Cond.Or(b1, b2);
                            return Cond.And(b0, b2);
                        }
                    default:
                        throw Error("only link-layer/IP broadcast filters supported");
                }
            case OtherKind.Multicast:
                switch (o.Proto)
                {
                    case QProto.Default:
                    case QProto.Link:
                        if (_link != LinkType.Ethernet || _pppAfterPppoe)
                            throw Error("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel");
                        {
                            var s = LoadA(OffRel.LinkHdr, 0, Bpf.B);
                            return Jump(s, Bpf.JMP | Bpf.JSET, 1);
                        }
                    case QProto.Ip:
                        {
                            var b0 = LinkTypeTest(EtherTypeIp);
                            var b1 = CmpGe(OffRel.LinkPl, 16, Bpf.B, 224);
                            return Cond.And(b0, b1);
                        }
                    case QProto.Ipv6:
                        {
                            var b0 = LinkTypeTest(EtherTypeIpv6);
                            var b1 = Cmp(OffRel.LinkPl, 24, Bpf.B, 255);
                            return Cond.And(b0, b1);
                        }
                    default:
                        throw Error("link-layer multicast filters supported only on ethernet/FDDI/token ring/ARCNET/802.11/ATM LANE/Fibre Channel");
                }
            case OtherKind.Less:
                {
                    var s = new List<CbpfInstruction> { S(Bpf.LD | Bpf.W | Bpf.LEN) };
                    return Cond.Not(Jump(s, Bpf.JMP | Bpf.JGT, o.Number!.Value));
                }
            case OtherKind.Greater:
                {
                    var s = new List<CbpfInstruction> { S(Bpf.LD | Bpf.W | Bpf.LEN) };
                    return Jump(s, Bpf.JMP | Bpf.JGE, o.Number!.Value);
                }
            case OtherKind.Inbound:
            case OtherKind.Outbound:
                {
                    if (_outerLink != LinkType.LinuxSll)
                        throw Error($"inbound/outbound not supported on {LinkDescription} when reading savefiles");
                    var b0 = Cmp(OffRel.LinkHdr, 0, Bpf.H, 4);
                    return o.Kind == OtherKind.Inbound ? Cond.Not(b0) : b0;
                }
            case OtherKind.Vlan:
                return GenVlan(o.Number);
            case OtherKind.Mpls:
                return GenMpls(o.Number);
            case OtherKind.Pppoed:
                return LinkTypeTest(EtherTypePppoeD);
            case OtherKind.Pppoes:
                return GenPppoes(o.Number);
            case OtherKind.Llc:
                {
                    if (_link != LinkType.Ethernet || _pppAfterPppoe)
                        throw Error($"'llc' not supported for {LinkDescription}");
                    var b0 = Cond.Not(CmpGt(OffRel.LinkType, 0, Bpf.H, EtherMtu));
                    var b1 = Cond.Not(Cmp(OffRel.Llc, 0, Bpf.H, 0xffff));
                    return Cond.And(b0, b1);
                }
            case OtherKind.Ifindex:
                throw Error($"ifindex not supported on {LinkDescription} when reading savefiles");
            case OtherKind.Geneve:
                throw Error("geneve is not supported by this compiler");
            default:
                throw new InvalidOperationException();
        }
    }

    private Cond GenVlan(uint? id)
    {
        if (_link != LinkType.Ethernet || _pppAfterPppoe)
            throw Error($"no VLAN support for {LinkDescription}");
        if (id is > 0x0fff)
            throw Error($"VLAN tag {id} greater than maximum 4095");
        var b0 = LinkTypeTest(EtherType8021Q);
        var b1 = LinkTypeTest(EtherType8021AD);
        b1 = Cond.Or(b0, b1);
        b0 = b1;
        b1 = LinkTypeTest(EtherTypeQinQ);
        b1 = Cond.Or(b0, b1);
        b0 = b1;
        if (id is { } vid)
        {
            b1 = MCmp(OffRel.LinkPl, 0, Bpf.H, vid, 0x0fff);
            b0 = Cond.And(b0, b1);
        }
        _offLinkPl += 4;
        _offLinkType += 4;
        _vlanStackDepth++;
        return b0;
    }

    private Cond GenMpls(uint? label)
    {
        if (label is > 0xfffff)
            throw Error($"MPLS label {label} greater than maximum 1048575");
        Cond b0;
        if (_labelStackDepth > 0)
            b0 = MCmp(OffRel.PrevMplsHdr, 2, Bpf.B, 0, 0x01);
        else if (_link == LinkType.Ethernet && !_pppAfterPppoe)
            b0 = LinkTypeTest(EtherTypeMpls);
        else if (_pppAfterPppoe)
            b0 = LinkTypeTest(0x0281);
        else
            throw Error($"no MPLS support for {LinkDescription}");
        if (label is { } l)
        {
            var b1 = MCmp(OffRel.LinkPl, 0, Bpf.W, l << 12, 0xfffff000);
            b0 = Cond.And(b0, b1);
        }
        _offNlNoSnap += 4;
        _offNl += 4;
        _labelStackDepth++;
        return b0;
    }

    private Cond GenPppoes(uint? session)
    {
        var b0 = LinkTypeTest(EtherTypePppoeS);
        if (session is { } s)
        {
            if (s > 0xffff)
                throw Error($"PPPoE session number {s} greater than maximum 65535");
            var b1 = MCmp(OffRel.LinkPl, 0, Bpf.W, s, 0x0000ffff);
            b0 = Cond.And(b0, b1);
        }
        _pppAfterPppoe = true;
        _offLinkHdr = _offLinkPl + _offNl;
        _offLinkType = (int)_offLinkHdr + 6;
        _offLinkPl = _offLinkHdr + 8;
        _offNl = 0;
        _offNlNoSnap = 0;
        return b0;
    }

    // ---------------------------------------------------------------- arithmetic

    private int AllocReg()
    {
        for (int n = 0; n < Bpf.MemWords; n++)
        {
            if (_regUsed[_curReg])
                _curReg = (_curReg + 1) % Bpf.MemWords;
            else
            {
                _regUsed[_curReg] = true;
                return _curReg;
            }
        }
        throw Error("too many registers needed to evaluate expression");
    }

    private void FreeReg(int reg) => _regUsed[reg] = false;

    private ArithValue GenArith(Arith a)
    {
        switch (a)
        {
            case ArithNum n:
                {
                    var v = new ArithValue { Reg = AllocReg() };
                    v.S.Add(S(Bpf.LD | Bpf.IMM, n.Value));
                    v.S.Add(S(Bpf.ST, (uint)v.Reg));
                    return v;
                }
            case ArithLen:
                {
                    var v = new ArithValue { Reg = AllocReg() };
                    v.S.Add(S(Bpf.LD | Bpf.W | Bpf.LEN));
                    v.S.Add(S(Bpf.ST, (uint)v.Reg));
                    return v;
                }
            case ArithNeg neg:
                {
                    var v = GenArith(neg.Inner);
                    v.S.Add(S(Bpf.LD | Bpf.MEM, (uint)v.Reg));
                    v.S.Add(S(Bpf.ALU | Bpf.NEG));
                    v.S.Add(S(Bpf.ST, (uint)v.Reg));
                    return v;
                }
            case ArithBinary bin:
                {
                    var a0 = GenArith(bin.Left);
                    var a1 = GenArith(bin.Right);
                    var first = a1.S[0];
                    if (first.Code == (Bpf.LD | Bpf.IMM))
                    {
                        if (bin.Op == Bpf.DIV && first.K == 0)
                            throw new FilterCompileException("division by zero", bin.Column);
                        if (bin.Op == Bpf.MOD && first.K == 0)
                            throw new FilterCompileException("modulus by zero", bin.Column);
                        if ((bin.Op == Bpf.LSH || bin.Op == Bpf.RSH) && first.K > 31)
                            throw new FilterCompileException("shift by more than 31 bits", bin.Column);
                    }
                    a0.S.AddRange(a1.S);
                    a0.S.Add(S(Bpf.LDX | Bpf.MEM, (uint)a1.Reg));
                    a0.S.Add(S(Bpf.LD | Bpf.MEM, (uint)a0.Reg));
                    a0.S.Add(S((ushort)(Bpf.ALU | Bpf.X | bin.Op)));
                    FreeReg(a0.Reg);
                    FreeReg(a1.Reg);
                    a0.Reg = AllocReg();
                    a0.S.Add(S(Bpf.ST, (uint)a0.Reg));
                    return a0;
                }
            case ArithLoad load:
                {
                    var inst = GenArith(load.Index);
                    try
                    {
                        return GenLoad(load.Proto, inst, load.Size);
                    }
                    catch (FilterCompileException e) when (e.Column == 0)
                    {
                        throw new FilterCompileException(e.Message, load.Column);
                    }
                }
            default:
                throw new InvalidOperationException();
        }
    }

    private ArithValue GenLoad(QProto proto, ArithValue inst, uint size)
    {
        ushort sz = size switch
        {
            1 => Bpf.B,
            2 => Bpf.H,
            4 => Bpf.W,
            _ => throw Error("data size must be 1, 2, or 4"),
        };
        int regno = AllocReg();
        FreeReg(inst.Reg);
        switch (proto)
        {
            case QProto.Link:
                inst.S.Add(S(Bpf.LDX | Bpf.MEM, (uint)inst.Reg));
                inst.S.Add(S((ushort)(Bpf.LD | Bpf.IND | sz), _offLinkHdr));
                break;
            case QProto.Ip: case QProto.Arp: case QProto.Rarp: case QProto.Atalk: case QProto.Decnet:
            case QProto.Sca: case QProto.Lat: case QProto.Moprc: case QProto.Mopdl: case QProto.Ipv6:
                {
                    inst.S.Add(S(Bpf.LDX | Bpf.MEM, (uint)inst.Reg));
                    inst.S.Add(S((ushort)(Bpf.LD | Bpf.IND | sz), _offLinkPl + _offNl));
                    var b = ProtoAbbrev(proto);
                    inst.B = inst.B is null ? b : Cond.And(inst.B, b);
                    break;
                }
            case QProto.Sctp: case QProto.Tcp: case QProto.Udp: case QProto.Icmp: case QProto.Igmp:
            case QProto.Igrp: case QProto.Pim: case QProto.Vrrp: case QProto.Carp:
                {
                    inst.S.Add(LoadXIpHeaderLength());
                    inst.S.Add(S(Bpf.LD | Bpf.MEM, (uint)inst.Reg));
                    inst.S.Add(S(Bpf.ALU | Bpf.ADD | Bpf.X));
                    inst.S.Add(S(Bpf.MISC | Bpf.TAX));
                    inst.S.Add(S((ushort)(Bpf.LD | Bpf.IND | sz), _offLinkPl + _offNl));
                    var b = IpFragTest();
                    b = Cond.And(ProtoAbbrev(proto), b);
                    if (inst.B is not null)
                        b = Cond.And(inst.B, b);
                    b = Cond.And(ProtoAbbrev(QProto.Ip), b);
                    inst.B = b;
                    break;
                }
            case QProto.Icmpv6:
                {
                    var b = ProtoAbbrev(QProto.Ipv6);
                    inst.B = inst.B is null ? b : Cond.And(inst.B, b);
                    b = Cmp(OffRel.LinkPl, 6, Bpf.B, 58);
                    inst.B = Cond.And(inst.B, b);
                    inst.S.Add(S(Bpf.LDX | Bpf.MEM, (uint)inst.Reg));
                    inst.S.Add(S((ushort)(Bpf.LD | Bpf.IND | sz), _offLinkPl + _offNl + 40));
                    break;
                }
            case QProto.Radio:
                throw Error("radio information not present in capture");
            default:
                throw Error("unsupported index operation");
        }
        inst.Reg = regno;
        inst.S.Add(S(Bpf.ST, (uint)regno));
        return inst;
    }

    private Cond GenRelation(RelationNode r)
    {
        var a0 = GenArith(r.Left);
        var a1 = GenArith(r.Right);
        var s = a0.S;
        s.AddRange(a1.S);
        s.Add(S(Bpf.LDX | Bpf.MEM, (uint)a1.Reg));
        s.Add(S(Bpf.LD | Bpf.MEM, (uint)a0.Reg));
        Cond b;
        if (r.JumpCode == Bpf.JEQ)
        {
            s.Add(S(Bpf.ALU | Bpf.SUB | Bpf.X));
            b = Jump(s, Bpf.JMP | Bpf.JEQ | Bpf.K, 0);
        }
        else
            b = Jump(s, (ushort)(Bpf.JMP | r.JumpCode | Bpf.X), 0);
        if (r.Reversed)
            b = Cond.Not(b);
        FreeReg(a0.Reg);
        FreeReg(a1.Reg);
        Cond? tmp = a0.B is not null ? (a1.B is not null ? Cond.And(a0.B, a1.B) : a0.B) : a1.B;
        return tmp is null ? b : Cond.And(tmp, b);
    }
}
