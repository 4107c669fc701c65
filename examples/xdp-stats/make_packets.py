"""Writes the example's packets as raw Ethernet frames (packets/*.bin), built by hand from the header layouts."""
import struct, pathlib

out = pathlib.Path(__file__).parent / "packets"
out.mkdir(exist_ok=True)

def eth(ethertype):
    return bytes.fromhex("020000000002" "020000000001") + struct.pack("!H", ethertype)

def ipv4(proto, src, dst, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, bytes(src), bytes(dst))
    return header + payload

def udp(sport, dport, data=b"hello"):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data

def tcp(sport, dport):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)

packets = {
    "01-tcp-syn.bin": eth(0x0800) + ipv4(6, [10, 0, 0, 1], [10, 0, 0, 2], tcp(40000, 80)),
    "02-udp-dns.bin": eth(0x0800) + ipv4(17, [10, 0, 0, 1], [10, 0, 0, 53], udp(40001, 53)),
    "03-udp-discard.bin": eth(0x0800) + ipv4(17, [10, 0, 0, 7], [10, 0, 0, 2], udp(40002, 9)),
    "04-icmp-echo.bin": eth(0x0800) + ipv4(1, [192, 168, 1, 5], [10, 0, 0, 2], bytes([8, 0, 0, 0, 0, 1, 0, 1])),
    "05-arp.bin": eth(0x0806) + bytes(28),
    "06-ipv6.bin": eth(0x86DD) + bytes(40),
}
for name, frame in packets.items():
    (out / name).write_bytes(frame)
