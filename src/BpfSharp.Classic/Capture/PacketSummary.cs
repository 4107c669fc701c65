using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;

namespace BpfSharp.Classic.Capture;

/// <summary>
/// One-line packet summaries in the style of <c>tcpdump -q -nn</c> (time in UTC):
/// <c>12:00:00.000001 IP 10.0.0.1.80 &gt; 10.0.0.2.40000: tcp 4</c>.
/// </summary>
public static class PacketSummary
{
    /// <summary>Summarises a packet read from a capture file.</summary>
    public static string Format(in CapturedPacket packet) =>
        Format(packet.Data.Span, packet.OriginalLength, packet.LinkType, packet.TimestampNanoseconds);

    /// <summary>Summarises <paramref name="data"/> (captured bytes) of link type <paramref name="linkType"/>.</summary>
    public static string Format(ReadOnlySpan<byte> data, uint wireLength, LinkType linkType, long timestampNanoseconds)
    {
        var sb = new StringBuilder(96);
        long secOfDay = timestampNanoseconds / 1_000_000_000 % 86400;
        long micros = timestampNanoseconds % 1_000_000_000 / 1000;
        sb.Append(CultureInfo.InvariantCulture, $"{secOfDay / 3600:00}:{secOfDay / 60 % 60:00}:{secOfDay % 60:00}.{micros:000000} ");
        switch (linkType)
        {
            case LinkType.Ethernet:
                Ethernet(sb, data, wireLength);
                break;
            case LinkType.LinuxSll:
                if (data.Length < 16)
                    sb.Append("[|sll]");
                else
                    EtherPayload(sb, BinaryPrimitives.ReadUInt16BigEndian(data[14..]), data[16..], wireLength);
                break;
            case LinkType.Raw:
                if (data.Length > 0 && data[0] >> 4 == 6)
                    Ipv6(sb, data);
                else
                    Ipv4(sb, data);
                break;
            default:
                sb.Append(CultureInfo.InvariantCulture, $"link type {(uint)linkType}, length {wireLength}");
                break;
        }
        return sb.ToString();
    }

    private static void Ethernet(StringBuilder sb, ReadOnlySpan<byte> d, uint wireLength)
    {
        if (d.Length < 14)
        {
            sb.Append("[|ether]");
            return;
        }
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(d[12..]);
        var rest = d[14..];
        // VLAN tags are skipped, as tcpdump does without -e.
        while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && rest.Length >= 4)
        {
            type = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
            rest = rest[4..];
        }
        if (type <= 1500)
        {
            sb.Append(CultureInfo.InvariantCulture, $"802.3, length {type}");
            return;
        }
        EtherPayload(sb, type, rest, wireLength - 14);
    }

    private static void EtherPayload(StringBuilder sb, ushort type, ReadOnlySpan<byte> p, uint length)
    {
        switch (type)
        {
            case 0x0800: Ipv4(sb, p); break;
            case 0x86dd: Ipv6(sb, p); break;
            case 0x0806:
            case 0x8035:
                Arp(sb, p, type == 0x8035);
                break;
            default:
                sb.Append(CultureInfo.InvariantCulture, $"ethertype 0x{type:x4}, length {length}");
                break;
        }
    }

    private static void Arp(StringBuilder sb, ReadOnlySpan<byte> p, bool reverse)
    {
        sb.Append(reverse ? "RARP" : "ARP");
        if (p.Length < 28 || p[4] != 6 || p[5] != 4)
        {
            sb.Append(", [|arp]");
            return;
        }
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        string spa = new IPAddress(p.Slice(14, 4)).ToString(), tpa = new IPAddress(p.Slice(24, 4)).ToString();
        string sha = Mac(p.Slice(8, 6));
        switch (op)
        {
            case 1: sb.Append(CultureInfo.InvariantCulture, $", Request who-has {tpa} tell {spa}, length 28"); break;
            case 2: sb.Append(CultureInfo.InvariantCulture, $", Reply {spa} is-at {sha}, length 28"); break;
            default: sb.Append(CultureInfo.InvariantCulture, $", op {op}, length 28"); break;
        }
    }

    private static string Mac(ReadOnlySpan<byte> m) =>
        string.Create(CultureInfo.InvariantCulture, $"{m[0]:x2}:{m[1]:x2}:{m[2]:x2}:{m[3]:x2}:{m[4]:x2}:{m[5]:x2}");

    private static void Ipv4(StringBuilder sb, ReadOnlySpan<byte> p)
    {
        if (p.Length < 20 || p[0] >> 4 != 4)
        {
            sb.Append("IP [|ip]");
            return;
        }
        int hl = (p[0] & 0xf) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        string src = new IPAddress(p.Slice(12, 4)).ToString(), dst = new IPAddress(p.Slice(16, 4)).ToString();
        bool laterFragment = (BinaryPrimitives.ReadUInt16BigEndian(p[6..]) & 0x1fff) != 0;
        int payloadLen = Math.Max(0, total - hl);
        var payload = p.Length > hl ? p[hl..] : ReadOnlySpan<byte>.Empty;
        sb.Append("IP ");
        if (laterFragment)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{src} > {dst}: ip-proto-{p[9]}");
            return;
        }
        Transport(sb, p[9], src, dst, payload, payloadLen, v6: false);
    }

    private static void Ipv6(StringBuilder sb, ReadOnlySpan<byte> p)
    {
        if (p.Length < 40)
        {
            sb.Append("IP6 [|ip6]");
            return;
        }
        int payloadLen = BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
        string src = new IPAddress(p.Slice(8, 16)).ToString(), dst = new IPAddress(p.Slice(24, 16)).ToString();
        sb.Append("IP6 ");
        Transport(sb, p[6], src, dst, p[40..], payloadLen, v6: true);
    }

    private static void Transport(StringBuilder sb, byte proto, string src, string dst, ReadOnlySpan<byte> l4, int l4Len, bool v6)
    {
        switch (proto)
        {
            case 6 when l4.Length >= 14:
                {
                    int dataOffset = (l4[12] >> 4) * 4;
                    sb.Append(CultureInfo.InvariantCulture,
                        $"{src}.{BinaryPrimitives.ReadUInt16BigEndian(l4)} > {dst}.{BinaryPrimitives.ReadUInt16BigEndian(l4[2..])}: tcp {Math.Max(0, l4Len - dataOffset)}");
                    return;
                }
            case 17 when l4.Length >= 8:
                sb.Append(CultureInfo.InvariantCulture,
                    $"{src}.{BinaryPrimitives.ReadUInt16BigEndian(l4)} > {dst}.{BinaryPrimitives.ReadUInt16BigEndian(l4[2..])}: UDP, length {BinaryPrimitives.ReadUInt16BigEndian(l4[4..]) - 8}");
                return;
            case 1 when !v6 && l4.Length >= 8 && l4[0] is 0 or 8:
                sb.Append(CultureInfo.InvariantCulture,
                    $"{src} > {dst}: ICMP echo {(l4[0] == 8 ? "request" : "reply")}, id {BinaryPrimitives.ReadUInt16BigEndian(l4[4..])}, seq {BinaryPrimitives.ReadUInt16BigEndian(l4[6..])}, length {l4Len}");
                return;
            case 58 when v6 && l4.Length >= 8 && l4[0] is 128 or 129:
                sb.Append(CultureInfo.InvariantCulture,
                    $"{src} > {dst}: ICMP6, echo {(l4[0] == 128 ? "request" : "reply")}, id {BinaryPrimitives.ReadUInt16BigEndian(l4[4..])}, seq {BinaryPrimitives.ReadUInt16BigEndian(l4[6..])}, length {l4Len}");
                return;
            default:
                sb.Append(CultureInfo.InvariantCulture, $"{src} > {dst}: ip-proto-{proto} {l4Len}");
                return;
        }
    }
}
