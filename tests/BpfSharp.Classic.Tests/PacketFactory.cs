using System.Buffers.Binary;

namespace BpfSharp.Classic.Tests;

/// <summary>A captured test packet: its bytes and its original length on the wire.</summary>
public sealed record TestPacket(string Name, byte[] Data, uint WireLength);

/// <summary>Builds a varied, deterministic packet set for differential filter testing.</summary>
public static class PacketFactory
{
    private static readonly byte[] MacA = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55 };
    private static readonly byte[] MacB = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06 };
    private static readonly byte[] MacC = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
    private static readonly byte[] Bcast = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    private static readonly byte[] Mcast = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

    private static readonly uint[] V4Addrs =
    {
        0x0a000001, 0x0a000002, 0xc0a80101, 0xc0a80164, 0xe0000001, 0xffffffff, 0x08080808, 0x0a010203, 0xac100001,
    };

    private static readonly byte[][] V6Addrs =
    {
        Ip6("2001:db8::1"), Ip6("2001:db8::2"), Ip6("fe80::1"), Ip6("::1"), Ip6("ff02::1"), Ip6("2001:db8:1::5"),
    };

    private static byte[] Ip6(string s) => System.Net.IPAddress.Parse(s).GetAddressBytes();

    private static readonly ushort[] Ports = { 80, 443, 22, 53, 123, 8080, 1024, 20, 21, 161, 5353, 65535, 0, 1000, 3306 };

    // ---------------------------------------------------------------- L4

    private static byte[] Tcp(ushort sport, ushort dport, byte flags, int payload = 4)
    {
        var b = new byte[20 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(b, sport);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), 0x01020304);
        b[12] = 0x50;
        b[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(14), 8192);
        for (int i = 20; i < b.Length; i++) b[i] = (byte)(0x41 + i);
        if (payload >= 4) { b[20] = (byte)'G'; b[21] = (byte)'E'; b[22] = (byte)'T'; b[23] = (byte)' '; }
        return b;
    }

    private static byte[] Udp(ushort sport, ushort dport, int payload = 8)
    {
        var b = new byte[8 + payload];
        BinaryPrimitives.WriteUInt16BigEndian(b, sport);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)b.Length);
        for (int i = 8; i < b.Length; i++) b[i] = (byte)i;
        return b;
    }

    private static byte[] Icmp(byte type, byte code) => new byte[] { type, code, 0, 0, 0, 1, 0, 1, 9, 9, 9, 9 };

    private static byte[] Sctp(ushort sport, ushort dport)
    {
        var b = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(b, sport);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), dport);
        b[12] = 1;
        return b;
    }

    // ---------------------------------------------------------------- L3

    public static byte[] Ipv4(byte proto, uint src, uint dst, byte[] payload, int optionWords = 0, ushort frag = 0,
        byte tos = 0, byte ttl = 64)
    {
        int hl = 20 + optionWords * 4;
        var b = new byte[hl + payload.Length];
        b[0] = (byte)(0x40 | (hl / 4));
        b[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)b.Length);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), frag);
        b[8] = ttl;
        b[9] = proto;
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), src);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(16), dst);
        for (int i = 20; i < hl; i++) b[i] = 1; // NOP options
        payload.CopyTo(b, hl);
        return b;
    }

    public static byte[] Ipv6(byte next, byte[] src, byte[] dst, byte[] payload)
    {
        var b = new byte[40 + payload.Length];
        b[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), (ushort)payload.Length);
        b[6] = next;
        b[7] = 64;
        src.CopyTo(b, 8);
        dst.CopyTo(b, 24);
        payload.CopyTo(b, 40);
        return b;
    }

    /// <summary>An IPv6 extension header (hop-by-hop, routing, destination options: 8 bytes; fragment: 8).</summary>
    private static byte[] Ext6(byte next, byte[] inner, int extraUnits = 0)
    {
        var b = new byte[8 + extraUnits * 8 + inner.Length];
        b[0] = next;
        b[1] = (byte)extraUnits;
        inner.CopyTo(b, 8 + extraUnits * 8);
        return b;
    }

    private static byte[] Ah(byte next, byte[] inner)
    {
        // AH length field counts 4-byte units minus 2: 4 => 24 bytes.
        var b = new byte[24 + inner.Length];
        b[0] = next;
        b[1] = 4;
        inner.CopyTo(b, 24);
        return b;
    }

    private static byte[] Arp(ushort op, uint spa, uint tpa)
    {
        var b = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(b, 1);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), 0x0800);
        b[4] = 6;
        b[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), op);
        MacA.CopyTo(b, 8);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(14), spa);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(24), tpa);
        return b;
    }

    // ---------------------------------------------------------------- link layers

    private static byte[] Eth(byte[] dst, byte[] src, params (ushort Type, byte[]? Raw)[] layers)
    {
        // layers: a chain of (ethertype, header bytes after it); the last entry's Raw is the payload.
        var ms = new MemoryStream();
        ms.Write(dst);
        ms.Write(src);
        foreach (var (type, raw) in layers)
        {
            var t = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(t, type);
            ms.Write(t);
            if (raw is not null) ms.Write(raw);
        }
        return ms.ToArray();
    }

    private static byte[] Vlan(ushort tci) => new[] { (byte)(tci >> 8), (byte)tci };

    private static byte[] Mpls(uint label, bool bottom, byte ttl = 64) =>
        new[] { (byte)(label >> 12), (byte)(label >> 4), (byte)(((label & 0xf) << 4) | (bottom ? 1u : 0u)), ttl };

    private static byte[] Cat(params byte[][] parts)
    {
        var ms = new MemoryStream();
        foreach (var p in parts) ms.Write(p);
        return ms.ToArray();
    }

    /// <summary>Network-layer packets (IPv4, IPv6) with their EtherType.</summary>
    public static List<(string Name, ushort EtherType, byte[] Data)> NetworkPackets()
    {
        var list = new List<(string, ushort, byte[])>();
        var rnd = new Random(7);
        int n = 0;
        foreach (var flags in new byte[] { 0x02, 0x12, 0x10, 0x18, 0x01, 0x04, 0x29, 0xc2 })
        {
            ushort sp = Ports[n % Ports.Length], dp = Ports[(n * 7 + 3) % Ports.Length];
            uint s = V4Addrs[n % V4Addrs.Length], d = V4Addrs[(n * 5 + 1) % V4Addrs.Length];
            list.Add(($"v4-tcp-{n}", 0x0800, Ipv4(6, s, d, Tcp(sp, dp, flags), optionWords: n % 3)));
            list.Add(($"v4-udp-{n}", 0x0800, Ipv4(17, d, s, Udp(dp, sp), tos: (byte)(n * 4))));
            list.Add(($"v6-tcp-{n}", 0x86dd, Ipv6(6, V6Addrs[n % V6Addrs.Length], V6Addrs[(n + 2) % V6Addrs.Length], Tcp(sp, dp, flags))));
            list.Add(($"v6-udp-{n}", 0x86dd, Ipv6(17, V6Addrs[(n + 1) % V6Addrs.Length], V6Addrs[n % V6Addrs.Length], Udp(sp, dp))));
            n++;
        }
        foreach (ushort p in Ports)
        {
            list.Add(($"v4-tcp-port{p}", 0x0800, Ipv4(6, 0x0a000001, 0x0a000002, Tcp(p, 40000, 0x02))));
            list.Add(($"v4-udp-port{p}", 0x0800, Ipv4(17, 0x0a000002, 0x0a000001, Udp(50000, p))));
            list.Add(($"v4-sctp-port{p}", 0x0800, Ipv4(132, 0x0a000002, 0xc0a80101, Sctp(p, p))));
            list.Add(($"v6-sctp-port{p}", 0x86dd, Ipv6(132, V6Addrs[0], V6Addrs[1], Sctp(5000, p))));
        }
        list.Add(("v4-frag-first", 0x0800, Ipv4(6, 0x0a000001, 0x0a000002, Tcp(80, 1234, 2), frag: 0x2000)));
        list.Add(("v4-frag-later", 0x0800, Ipv4(6, 0x0a000001, 0x0a000002, Tcp(80, 1234, 2), frag: 0x00b9)));
        list.Add(("v4-frag-df", 0x0800, Ipv4(17, 0x0a000001, 0x0a000002, Udp(53, 53), frag: 0x4000)));
        foreach (var (t, c) in new (byte, byte)[] { (8, 0), (0, 0), (3, 3), (11, 0), (5, 1), (13, 0) })
            list.Add(($"v4-icmp-{t}", 0x0800, Ipv4(1, 0x0a000001, 0x08080808, Icmp(t, c))));
        list.Add(("v4-igmp", 0x0800, Ipv4(2, 0x0a000001, 0xe0000001, new byte[] { 0x16, 0, 0, 0, 0xe0, 0, 0, 1 }, optionWords: 1)));
        list.Add(("v4-gre", 0x0800, Ipv4(47, 0x0a000001, 0x0a000002, new byte[8])));
        list.Add(("v4-pim", 0x0800, Ipv4(103, 0x0a000001, 0xe000000d, new byte[8])));
        list.Add(("v4-vrrp", 0x0800, Ipv4(112, 0xc0a80101, 0xe0000012, new byte[8])));
        list.Add(("v4-igrp", 0x0800, Ipv4(9, 0xc0a80101, 0xffffffff, new byte[8])));
        list.Add(("v4-esp", 0x0800, Ipv4(50, 0xc0a80101, 0x0a000001, new byte[16])));
        list.Add(("v4-ah-tcp", 0x0800, Ipv4(51, 0xc0a80101, 0x0a000001, Ah(6, Tcp(80, 999, 2)))));
        list.Add(("v4-ah-udp", 0x0800, Ipv4(51, 0xc0a80101, 0x0a000001, Ah(17, Udp(53, 999)), optionWords: 2)));
        list.Add(("v4-bcast", 0x0800, Ipv4(17, 0x0a000001, 0xffffffff, Udp(68, 67))));
        list.Add(("v4-mcast", 0x0800, Ipv4(17, 0x0a000001, 0xe00000fb, Udp(5353, 5353))));
        list.Add(("v4-ipip", 0x0800, Ipv4(4, 0x0a000001, 0x0a000002, Ipv4(6, 0x0a000003, 0x0a000004, Tcp(1, 2, 2)))));
        list.Add(("v4-ttl1", 0x0800, Ipv4(17, 0xac100001, 0x0a010203, Udp(33434, 33434), ttl: 1)));
        list.Add(("v4-big", 0x0800, Ipv4(6, 0x0a000001, 0x0a000002, Tcp(80, 1111, 0x18, payload: 1400))));
        list.Add(("v4-tcp-hl15", 0x0800, Ipv4(6, 0x0a000001, 0x0a000002, Tcp(443, 2222, 0x11), optionWords: 10)));
        foreach (var (t, c) in new (byte, byte)[] { (128, 0), (129, 0), (135, 0), (136, 0), (1, 4), (133, 0), (143, 0) })
            list.Add(($"v6-icmp6-{t}", 0x86dd, Ipv6(58, V6Addrs[2], V6Addrs[4], Icmp(t, c))));
        list.Add(("v6-hbh-tcp", 0x86dd, Ipv6(0, V6Addrs[0], V6Addrs[1], Ext6(6, Tcp(80, 5555, 2)))));
        list.Add(("v6-hbh-icmp6", 0x86dd, Ipv6(0, V6Addrs[2], V6Addrs[4], Ext6(58, Icmp(143, 0)))));
        list.Add(("v6-frag-udp", 0x86dd, Ipv6(44, V6Addrs[0], V6Addrs[1], Ext6(17, Udp(53, 4444)))));
        list.Add(("v6-frag-tcp", 0x86dd, Ipv6(44, V6Addrs[0], V6Addrs[1], Ext6(6, Tcp(22, 4444, 0x12)))));
        list.Add(("v6-route-tcp", 0x86dd, Ipv6(43, V6Addrs[5], V6Addrs[1], Ext6(6, Tcp(443, 4444, 0x10), extraUnits: 2))));
        list.Add(("v6-dst-hbh-udp", 0x86dd, Ipv6(60, V6Addrs[5], V6Addrs[1], Ext6(0, Ext6(17, Udp(123, 123)), extraUnits: 1))));
        list.Add(("v6-ah-tcp", 0x86dd, Ipv6(51, V6Addrs[0], V6Addrs[3], Ah(6, Tcp(80, 80, 2)))));
        list.Add(("v6-nonxt", 0x86dd, Ipv6(59, V6Addrs[0], V6Addrs[3], Array.Empty<byte>())));
        list.Add(("v6-esp", 0x86dd, Ipv6(50, V6Addrs[0], V6Addrs[3], new byte[16])));
        list.Add(("v6-mcast", 0x86dd, Ipv6(17, V6Addrs[0], V6Addrs[4], Udp(5353, 5353))));
        list.Add(("v6-pim", 0x86dd, Ipv6(103, V6Addrs[2], V6Addrs[4], new byte[8])));
        // A few random transport payloads over random protocol numbers.
        for (int i = 0; i < 10; i++)
        {
            var payload = new byte[rnd.Next(0, 60)];
            rnd.NextBytes(payload);
            byte proto = (byte)rnd.Next(0, 256);
            list.Add(($"v4-rand-{i}", 0x0800, Ipv4(proto, V4Addrs[rnd.Next(V4Addrs.Length)], V4Addrs[rnd.Next(V4Addrs.Length)], payload, optionWords: rnd.Next(0, 3), frag: (ushort)(rnd.Next(4) == 0 ? rnd.Next(0, 0x4000) : 0))));
            list.Add(($"v6-rand-{i}", 0x86dd, Ipv6(proto, V6Addrs[rnd.Next(V6Addrs.Length)], V6Addrs[rnd.Next(V6Addrs.Length)], payload)));
        }
        return list;
    }

    /// <summary>Ethernet frames of all kinds, then truncated copies.</summary>
    public static List<TestPacket> Ethernet()
    {
        var list = new List<TestPacket>();
        var macs = new[] { MacA, MacB, MacC, Bcast, Mcast };
        int i = 0;
        foreach (var (name, type, data) in NetworkPackets())
        {
            var dst = macs[i % macs.Length];
            var src = macs[(i + 1) % 3];
            list.Add(Pkt($"eth-{name}", Eth(dst, src, (type, data))));
            i++;
        }
        var net = NetworkPackets();
        var v4 = net.Where(p => p.EtherType == 0x0800).Take(12).ToList();
        var v6 = net.Where(p => p.EtherType == 0x86dd).Take(8).ToList();
        ushort[] vids = { 100, 200, 1, 4095, 0 };
        for (int k = 0; k < v4.Count; k++)
        {
            ushort vid = vids[k % vids.Length];
            list.Add(Pkt($"vlan{vid}-{v4[k].Name}", Eth(MacA, MacB, (0x8100, Vlan(vid)), (0x0800, v4[k].Data))));
            list.Add(Pkt($"qinq-{v4[k].Name}", Eth(MacA, MacB, (0x88a8, Vlan((ushort)(vid + 1))), (0x8100, Vlan(vid)), (0x0800, v4[k].Data))));
            list.Add(Pkt($"mpls-{v4[k].Name}", Eth(MacB, MacA, (0x8847, Cat(Mpls((uint)(k * 1000 + 5), true), v4[k].Data)))));
            list.Add(Pkt($"mpls2-{v4[k].Name}", Eth(MacB, MacA, (0x8847, Cat(Mpls(5, false), Mpls((uint)(k + 16), true), v4[k].Data)))));
            list.Add(Pkt($"pppoes-{v4[k].Name}", Eth(MacB, MacA, (0x8864, Cat(new byte[] { 0x11, 0, 0, (byte)k, 0, 40, 0x00, 0x21 }, v4[k].Data)))));
        }
        for (int k = 0; k < v6.Count; k++)
        {
            list.Add(Pkt($"vlan-{v6[k].Name}", Eth(MacA, MacB, (0x8100, Vlan(100)), (0x86dd, v6[k].Data))));
            list.Add(Pkt($"q9100-{v6[k].Name}", Eth(MacA, MacB, (0x9100, Vlan(7)), (0x86dd, v6[k].Data))));
            list.Add(Pkt($"mpls-{v6[k].Name}", Eth(MacB, MacA, (0x8847, Cat(Mpls(77, true), v6[k].Data)))));
            list.Add(Pkt($"pppoes-{v6[k].Name}", Eth(MacB, MacA, (0x8864, Cat(new byte[] { 0x11, 0, 0, 3, 0, 40, 0x00, 0x57 }, v6[k].Data)))));
        }
        list.Add(Pkt("vlan-arp", Eth(Bcast, MacA, (0x8100, Vlan(100)), (0x0806, Arp(1, 0x0a000001, 0x0a000002)))));
        list.Add(Pkt("vlan-vlan-ip", Eth(MacA, MacB, (0x8100, Vlan(10)), (0x8100, Vlan(20)), (0x0800, v4[0].Data))));
        list.Add(Pkt("pppoed", Eth(Bcast, MacA, (0x8863, new byte[] { 0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 0 }))));
        list.Add(Pkt("arp-req", Eth(Bcast, MacA, (0x0806, Arp(1, 0x0a000001, 0x0a000002)))));
        list.Add(Pkt("arp-reply", Eth(MacA, MacB, (0x0806, Arp(2, 0xc0a80101, 0x0a000001)))));
        list.Add(Pkt("rarp", Eth(Bcast, MacA, (0x8035, Arp(3, 0, 0xc0a80164)))));
        foreach (ushort et in new ushort[] { 0x6003, 0x6004, 0x6007, 0x6001, 0x6002, 0x809b, 0x80f3, 0x8137, 0x9000, 0x88cc, 0x0842 })
            list.Add(Pkt($"ethertype-{et:x4}", Eth(MacA, MacB, (et, new byte[40]))));
        // 802.3 frames with LLC.
        byte[] Llc8023(byte[] llc) => Eth(MacC, MacA, ((ushort)(llc.Length + 20), Cat(llc, new byte[20])));
        list.Add(Pkt("llc-stp", Eth(new byte[] { 0x01, 0x80, 0xc2, 0, 0, 0 }, MacA, (38, Cat(new byte[] { 0x42, 0x42, 0x03, 0, 0, 0 }, new byte[32])))));
        list.Add(Pkt("llc-ipx", Llc8023(new byte[] { 0xe0, 0xe0, 0x03, 0xff, 0xff })));
        list.Add(Pkt("raw8023-ipx", Llc8023(new byte[] { 0xff, 0xff, 0x00, 0x30 })));
        list.Add(Pkt("snap-ipx", Llc8023(new byte[] { 0xaa, 0xaa, 0x03, 0, 0, 0, 0x81, 0x37, 0xff, 0xff })));
        list.Add(Pkt("snap-atalk", Llc8023(new byte[] { 0xaa, 0xaa, 0x03, 0x08, 0x00, 0x07, 0x80, 0x9b, 1, 2 })));
        list.Add(Pkt("snap-aarp", Llc8023(new byte[] { 0xaa, 0xaa, 0x03, 0, 0, 0, 0x80, 0xf3, 1, 2 })));
        list.Add(Pkt("snap-ip", Llc8023(new byte[] { 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45, 0 })));
        list.Add(Pkt("llc-clnp", Llc8023(new byte[] { 0xfe, 0xfe, 0x03, 0x81, 0x1c })));
        list.Add(Pkt("llc-esis", Llc8023(new byte[] { 0xfe, 0xfe, 0x03, 0x82, 0x1c })));
        list.Add(Pkt("llc-isis-l1", Llc8023(new byte[] { 0xfe, 0xfe, 0x03, 0x83, 0x1b, 0x01, 0x00, 0x0f, 0x01 })));
        list.Add(Pkt("llc-isis-lsp2", Llc8023(new byte[] { 0xfe, 0xfe, 0x03, 0x83, 0x1b, 0x01, 0x00, 0x14, 0x01 })));
        list.Add(Pkt("llc-isis-csnp", Llc8023(new byte[] { 0xfe, 0xfe, 0x03, 0x83, 0x1b, 0x01, 0x00, 0x18, 0x01 })));
        list.Add(Pkt("llc-netbeui", Llc8023(new byte[] { 0xf0, 0xf0, 0x03, 0x2c, 0 })));
        list.Add(Pkt("llc-ip-sap", Llc8023(new byte[] { 0x06, 0x06, 0x03, 0x45, 0 })));
        list.Add(Pkt("llc-other", Llc8023(new byte[] { 0x10, 0x20, 0x03, 0, 0 })));
        // Random junk frames.
        var rnd = new Random(11);
        for (int k = 0; k < 30; k++)
        {
            var junk = new byte[rnd.Next(0, 90)];
            rnd.NextBytes(junk);
            list.Add(Pkt($"junk-{k}", junk));
        }
        AddTruncations(list, rnd);
        return list;
    }

    private static void AddTruncations(List<TestPacket> list, Random rnd)
    {
        int count = list.Count;
        for (int k = 0; k < count; k += 2)
        {
            var p = list[k];
            if (p.Data.Length < 2)
                continue;
            int cut = rnd.Next(0, p.Data.Length);
            list.Add(new TestPacket(p.Name + $"-trunc{cut}", p.Data[..cut], p.WireLength));
        }
        // Bit-flipped variants reach odd corners (header lengths, versions).
        for (int k = 1; k < count; k += 3)
        {
            var p = list[k];
            if (p.Data.Length == 0)
                continue;
            var d = (byte[])p.Data.Clone();
            for (int f = 0; f < 3; f++)
                d[rnd.Next(d.Length)] ^= (byte)(1 << rnd.Next(8));
            list.Add(new TestPacket(p.Name + "-flip", d, p.WireLength));
        }
    }

    private static TestPacket Pkt(string name, byte[] data) => new(name, data, (uint)data.Length);

    /// <summary>The Ethernet set converted to Linux cooked (SLL) headers with varied packet types.</summary>
    public static List<TestPacket> LinuxSll()
    {
        var list = new List<TestPacket>();
        int i = 0;
        foreach (var e in Ethernet())
        {
            if (e.Data.Length < 14)
            {
                list.Add(e with { Name = "sll-" + e.Name });
                continue;
            }
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(e.Data.AsSpan(12));
            byte[] payload = e.Data[14..];
            if (type <= 1500)
                type = payload.Length >= 2 && payload[0] == 0xff && payload[1] == 0xff ? (ushort)1 : (ushort)4;
            var h = new byte[16];
            BinaryPrimitives.WriteUInt16BigEndian(h, (ushort)(i % 5));
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), 1);
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), 6);
            e.Data.AsSpan(6, 6).CopyTo(h.AsSpan(6));
            BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(14), type);
            var d = Cat(h, payload);
            list.Add(new TestPacket("sll-" + e.Name, d, (uint)(e.WireLength - 14 + 16)));
            i++;
        }
        return list;
    }

    /// <summary>Raw IP packets (no link header).</summary>
    public static List<TestPacket> Raw()
    {
        var list = NetworkPackets().Select(p => Pkt("raw-" + p.Name, p.Data)).ToList();
        var rnd = new Random(5);
        AddTruncations(list, rnd);
        return list;
    }

    /// <summary>The packet set for <paramref name="link"/>.</summary>
    public static List<TestPacket> For(LinkType link) => link switch
    {
        LinkType.Ethernet => Ethernet(),
        LinkType.LinuxSll => LinuxSll(),
        LinkType.Raw => Raw(),
        _ => throw new ArgumentOutOfRangeException(nameof(link)),
    };
}
