namespace BpfSharp.Classic.Filter;

internal enum QProto
{
    Default, Link, Ip, Arp, Rarp, Sctp, Tcp, Udp, Icmp, Igmp, Igrp, Atalk, Decnet, Lat, Sca, Moprc, Mopdl, Ipv6,
    Icmpv6, Ah, Esp, Pim, Vrrp, Aarp, Iso, Esis, Isis, Clnp, Stp, Ipx, Netbeui, IsisL1, IsisL2, IsisIih, IsisSnp,
    IsisCsnp, IsisPsnp, IsisLsp, Radio, Carp, Undef,
}

internal enum QDir { Default, Src, Dst, Or, And, Addr1, Addr2, Addr3, Addr4, Ra, Ta, Undef }

internal enum QAddr { Default, Host, Net, Port, Gateway, Proto, Protochain, Portrange, Undef }

/// <summary>The qualifiers in force for a primitive (libpcap's struct qual).</summary>
internal readonly record struct Qual(QProto Proto, QDir Dir, QAddr Addr)
{
    public static readonly Qual Error = new(QProto.Undef, QDir.Undef, QAddr.Undef);
    public static readonly Qual Default = new(QProto.Default, QDir.Default, QAddr.Default);
}

internal abstract record Node(int Column);

internal sealed record AndNode(Node Left, Node Right) : Node(Left.Column);
internal sealed record OrNode(Node Left, Node Right) : Node(Left.Column);
internal sealed record NotNode(Node Inner, int Col) : Node(Col);

internal enum IdKind { Name, Number, Hid, HidMaskLen, HidMask, Hid6, Hid6MaskLen, Eid }

/// <summary>An address-like operand with the qualifiers it was given or inherited.</summary>
internal sealed record IdNode(Qual Q, IdKind Kind, string Text, uint Number, string? Text2, int Col) : Node(Col);

/// <summary>A protocol name on its own (<c>tcp</c>, <c>ip6</c>...).</summary>
internal sealed record ProtoAbbrevNode(QProto Proto, int Col) : Node(Col);

internal enum OtherKind { Broadcast, Multicast, Less, Greater, Inbound, Outbound, Vlan, Mpls, Pppoed, Pppoes, Geneve, Llc, Ifindex }

internal sealed record OtherNode(OtherKind Kind, QProto Proto, uint? Number, int Col) : Node(Col);

internal sealed record RelationNode(ushort JumpCode, bool Reversed, Arith Left, Arith Right, int Col) : Node(Col);

internal abstract record Arith(int Column);
internal sealed record ArithNum(uint Value, int Col) : Arith(Col);
internal sealed record ArithLen(int Col) : Arith(Col);
internal sealed record ArithLoad(QProto Proto, Arith Index, uint Size, int Col) : Arith(Col);
internal sealed record ArithBinary(ushort Op, Arith Left, Arith Right, int Col) : Arith(Col);
internal sealed record ArithNeg(Arith Inner, int Col) : Arith(Col);
