namespace BpfSharp.Classic.Filter;

/// <summary>Names the filter language knows: keywords, named constants, services, IP and Ethernet protocols.</summary>
/// <remarks>The service and protocol numbers are IANA assignments; our own tables replace /etc/services and
/// /etc/protocols so that compilation does not depend on the host.</remarks>
internal static class FilterTables
{
    public static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "dst", "src", "host", "net", "mask", "port", "portrange", "less", "greater", "proto", "protochain", "gateway",
        "link", "ether", "ppp", "slip", "fddi", "tr", "wlan", "arp", "rarp", "ip", "sctp", "tcp", "udp", "icmp", "igmp",
        "igrp", "pim", "vrrp", "carp", "radio", "ip6", "icmp6", "ah", "esp", "atalk", "aarp", "decnet", "lat", "sca",
        "moprc", "mopdl", "iso", "esis", "es-is", "clnp", "isis", "is-is", "l1", "l2", "iih", "lsp", "snp", "csnp",
        "psnp", "stp", "ipx", "netbeui", "broadcast", "multicast", "and", "or", "not", "len", "length", "inbound",
        "outbound", "ifindex", "vlan", "mpls", "pppoed", "pppoes", "geneve", "vxlan", "lane", "llc", "ifname", "on",
        "rnr", "rulenum", "reason", "rset", "ruleset", "srnr", "subrulenum", "action", "type", "subtype", "dir",
        "direction", "addr1", "address1", "addr2", "address2", "addr3", "address3", "addr4", "address4", "ra", "ta",
        "byte", "metac", "bcc", "sc", "ilmic", "oamf4ec", "oamf4sc", "oam", "oamf4", "connectmsg", "metaconnect",
        "vpi", "vci", "fisu", "lssu", "msu", "hfisu", "hlssu", "hmsu", "sio", "opc", "dpc", "sls", "hsio", "hopc",
        "hdpc", "hsls",
    };

    public static readonly Dictionary<string, uint> NamedConstants = new(StringComparer.Ordinal)
    {
        ["icmptype"] = 0, ["icmpcode"] = 1,
        ["icmp-echoreply"] = 0, ["icmp-unreach"] = 3, ["icmp-sourcequench"] = 4, ["icmp-redirect"] = 5,
        ["icmp-echo"] = 8, ["icmp-routeradvert"] = 9, ["icmp-routersolicit"] = 10, ["icmp-timxceed"] = 11,
        ["icmp-paramprob"] = 12, ["icmp-tstamp"] = 13, ["icmp-tstampreply"] = 14, ["icmp-ireq"] = 15,
        ["icmp-ireqreply"] = 16, ["icmp-maskreq"] = 17, ["icmp-maskreply"] = 18,
        ["icmp6type"] = 0, ["icmp6code"] = 1,
        ["icmp6-destinationunreach"] = 1, ["icmp6-packettoobig"] = 2, ["icmp6-timeexceeded"] = 3,
        ["icmp6-parameterproblem"] = 4, ["icmp6-echo"] = 128, ["icmp6-echoreply"] = 129,
        ["icmp6-multicastlistenerquery"] = 130, ["icmp6-multicastlistenerreportv1"] = 131,
        ["icmp6-multicastlistenerdone"] = 132, ["icmp6-routersolicit"] = 133, ["icmp6-routeradvert"] = 134,
        ["icmp6-neighborsolicit"] = 135, ["icmp6-neighboradvert"] = 136, ["icmp6-redirect"] = 137,
        ["icmp6-routerrenum"] = 138, ["icmp6-nodeinformationquery"] = 139, ["icmp6-nodeinformationresponse"] = 140,
        ["icmp6-ineighbordiscoverysolicit"] = 141, ["icmp6-ineighbordiscoveryadvert"] = 142,
        ["icmp6-multicastlistenerreportv2"] = 143, ["icmp6-homeagentdiscoveryrequest"] = 144,
        ["icmp6-homeagentdiscoveryreply"] = 145, ["icmp6-mobileprefixsolicit"] = 146,
        ["icmp6-mobileprefixadvert"] = 147, ["icmp6-certpathsolicit"] = 148, ["icmp6-certpathadvert"] = 149,
        ["icmp6-multicastrouteradvert"] = 151, ["icmp6-multicastroutersolicit"] = 152,
        ["icmp6-multicastrouterterm"] = 153,
        ["tcpflags"] = 13, ["tcp-fin"] = 0x01, ["tcp-syn"] = 0x02, ["tcp-rst"] = 0x04, ["tcp-push"] = 0x08,
        ["tcp-ack"] = 0x10, ["tcp-urg"] = 0x20, ["tcp-ece"] = 0x40, ["tcp-cwr"] = 0x80,
    };

    /// <summary>IP protocol numbers by name (IANA), with the usual upper-case aliases.</summary>
    public static readonly Dictionary<string, uint> IpProtocols = new(StringComparer.Ordinal)
    {
        ["ip"] = 0, ["IP"] = 0, ["hopopt"] = 0, ["HOPOPT"] = 0, ["icmp"] = 1, ["ICMP"] = 1, ["igmp"] = 2, ["IGMP"] = 2,
        ["ggp"] = 3, ["GGP"] = 3, ["ipencap"] = 4, ["IP-ENCAP"] = 4, ["st"] = 5, ["ST"] = 5, ["tcp"] = 6,
        ["TCP"] = 6, ["egp"] = 8, ["EGP"] = 8, ["igp"] = 9, ["IGP"] = 9, ["pup"] = 12, ["PUP"] = 12, ["udp"] = 17,
        ["UDP"] = 17, ["hmp"] = 20, ["HMP"] = 20, ["xns-idp"] = 22, ["XNS-IDP"] = 22, ["rdp"] = 27, ["RDP"] = 27,
        ["iso-tp4"] = 29, ["ISO-TP4"] = 29, ["dccp"] = 33, ["DCCP"] = 33, ["xtp"] = 36, ["XTP"] = 36, ["ddp"] = 37,
        ["DDP"] = 37, ["idpr-cmtp"] = 38, ["IDPR-CMTP"] = 38, ["ipv6"] = 41, ["IPv6"] = 41, ["ipv6-route"] = 43,
        ["IPv6-Route"] = 43, ["ipv6-frag"] = 44, ["IPv6-Frag"] = 44, ["idrp"] = 45, ["IDRP"] = 45, ["rsvp"] = 46,
        ["RSVP"] = 46, ["gre"] = 47, ["GRE"] = 47, ["esp"] = 50, ["IPSEC-ESP"] = 50, ["ah"] = 51, ["IPSEC-AH"] = 51,
        ["skip"] = 57, ["SKIP"] = 57, ["ipv6-icmp"] = 58, ["IPv6-ICMP"] = 58, ["ipv6-nonxt"] = 59,
        ["IPv6-NoNxt"] = 59, ["ipv6-opts"] = 60, ["IPv6-Opts"] = 60, ["rspf"] = 73, ["RSPF"] = 73, ["vmtp"] = 81,
        ["VMTP"] = 81, ["eigrp"] = 88, ["EIGRP"] = 88, ["ospf"] = 89, ["OSPFIGP"] = 89, ["ax.25"] = 93,
        ["AX.25"] = 93, ["ipip"] = 94, ["IPIP"] = 94, ["etherip"] = 97, ["ETHERIP"] = 97, ["encap"] = 98,
        ["ENCAP"] = 98, ["pim"] = 103, ["PIM"] = 103, ["ipcomp"] = 108, ["IPCOMP"] = 108, ["vrrp"] = 112,
        ["VRRP"] = 112, ["l2tp"] = 115, ["L2TP"] = 115, ["isis"] = 124, ["ISIS"] = 124, ["sctp"] = 132,
        ["SCTP"] = 132, ["fc"] = 133, ["FC"] = 133, ["mobility-header"] = 135, ["Mobility-Header"] = 135,
        ["udplite"] = 136, ["UDPLite"] = 136, ["mpls-in-ip"] = 137, ["MPLS-in-IP"] = 137, ["manet"] = 138,
        ["hip"] = 139, ["HIP"] = 139, ["shim6"] = 140, ["Shim6"] = 140, ["wesp"] = 141, ["WESP"] = 141,
        ["rohc"] = 142, ["ROHC"] = 142, ["ethernet"] = 143, ["Ethernet"] = 143,
    };

    /// <summary>Ethernet protocol names accepted after <c>ether proto</c>: EtherTypes, then 802.2 SAPs.</summary>
    public static readonly Dictionary<string, uint> EtherProtocols = new(StringComparer.Ordinal)
    {
        ["aarp"] = 0x80f3, ["arp"] = 0x0806, ["atalk"] = 0x809b, ["decnet"] = 0x6003, ["ip"] = 0x0800,
        ["ip6"] = 0x86dd, ["lat"] = 0x6004, ["loopback"] = 0x9000, ["mopdl"] = 0x6001, ["moprc"] = 0x6002,
        ["rarp"] = 0x8035, ["sca"] = 0x6007,
        ["iso"] = 0xfe, ["stp"] = 0x42, ["ipx"] = 0xe0, ["netbeui"] = 0xf0,
    };

    /// <summary>OSI network-layer protocol names accepted after <c>iso proto</c>.</summary>
    public static readonly Dictionary<string, uint> OsiProtocols = new(StringComparer.Ordinal)
    {
        ["clnp"] = 0x81, ["esis"] = 0x82, ["isis"] = 0x83,
    };

    [Flags]
    public enum ServiceProto { Tcp = 1, Udp = 2 }

    /// <summary>Well-known services (IANA port assignments) and the transports they are registered for.</summary>
    public static readonly Dictionary<string, (ushort Port, ServiceProto Protos)> Services = BuildServices();

    private static Dictionary<string, (ushort, ServiceProto)> BuildServices()
    {
        const ServiceProto T = ServiceProto.Tcp, U = ServiceProto.Udp, B = T | U;
        var list = new (string, ushort, ServiceProto)[]
        {
            ("tcpmux", 1, T), ("echo", 7, B), ("discard", 9, B), ("systat", 11, T), ("daytime", 13, B),
            ("netstat", 15, T), ("qotd", 17, T), ("chargen", 19, B), ("ftp-data", 20, T), ("ftp", 21, T),
            ("ssh", 22, T), ("telnet", 23, T), ("smtp", 25, T), ("time", 37, B), ("whois", 43, T),
            ("tacacs", 49, B), ("domain", 53, B), ("bootps", 67, U), ("bootpc", 68, U), ("tftp", 69, U),
            ("gopher", 70, T), ("finger", 79, T), ("http", 80, T), ("www", 80, T), ("kerberos", 88, B),
            ("pop3", 110, T), ("sunrpc", 111, B), ("auth", 113, T), ("nntp", 119, T), ("ntp", 123, U),
            ("netbios-ns", 137, U), ("netbios-dgm", 138, U), ("netbios-ssn", 139, T), ("imap2", 143, T),
            ("imap", 143, T), ("snmp", 161, B), ("snmp-trap", 162, B), ("bgp", 179, T), ("ldap", 389, B),
            ("https", 443, B), ("microsoft-ds", 445, T), ("isakmp", 500, U), ("syslog", 514, U),
            ("shell", 514, T), ("printer", 515, T), ("submission", 587, T), ("ldaps", 636, B), ("rsync", 873, T),
            ("imaps", 993, T), ("pop3s", 995, T), ("socks", 1080, T), ("openvpn", 1194, B), ("radius", 1812, B),
            ("nfs", 2049, B), ("mysql", 3306, T), ("sip", 5060, B), ("mdns", 5353, U), ("postgresql", 5432, T),
            ("x11", 6000, T), ("http-alt", 8080, T), ("git", 9418, T),
        };
        var d = new Dictionary<string, (ushort, ServiceProto)>(StringComparer.Ordinal);
        foreach (var (name, port, protos) in list)
            d[name] = (port, protos);
        return d;
    }
}
