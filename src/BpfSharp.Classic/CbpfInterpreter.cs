using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BpfSharp.Classic;

/// <summary>
/// Socket-buffer facts a Linux classic filter can read through the SKF_AD_* ancillary offsets. Userspace has no
/// socket buffer, so a run without metadata treats those loads like libpcap does: out of the packet, verdict 0.
/// </summary>
public readonly record struct CbpfAncillary(
    ushort Protocol, byte PacketType, int InterfaceIndex, uint Mark, ushort Queue, ushort HardwareType, uint Hash,
    uint Cpu, ushort VlanTci, bool VlanPresent, ushort VlanTpid, uint PayloadOffset, uint Random);

/// <summary>
/// An allocation-free classic BPF interpreter with the kernel's run-time semantics: a load outside the captured
/// bytes or a division by a zero X ends the run with verdict 0; <c>ld len</c> yields the original wire length.
/// </summary>
/// <remarks>The program must have passed <see cref="CbpfValidator"/>; jumps are not re-checked here.</remarks>
public static class CbpfInterpreter
{
    /// <summary>Runs <paramref name="program"/> over a packet whose wire length equals its captured length.</summary>
    public static uint Run(ReadOnlySpan<CbpfInstruction> program, ReadOnlySpan<byte> packet) =>
        Run(program, packet, (uint)packet.Length);

    /// <summary>Runs <paramref name="program"/> over the captured bytes <paramref name="packet"/> of a packet that was
    /// <paramref name="wireLength"/> bytes long on the wire; returns the filter's verdict (0 = drop).</summary>
    public static uint Run(ReadOnlySpan<CbpfInstruction> program, ReadOnlySpan<byte> packet, uint wireLength) =>
        Execute(program, packet, wireLength, null);

    /// <summary>Runs with socket-buffer metadata available to SKF_AD_* loads.</summary>
    public static uint Run(ReadOnlySpan<CbpfInstruction> program, ReadOnlySpan<byte> packet, uint wireLength,
        in CbpfAncillary ancillary) => Execute(program, packet, wireLength, ancillary);

    [SkipLocalsInit]
    private static unsafe uint Execute(ReadOnlySpan<CbpfInstruction> program, ReadOnlySpan<byte> packet,
        uint wireLength, CbpfAncillary? ancillary)
    {
        uint a = 0, x = 0;
        uint* mem = stackalloc uint[Bpf.MemWords];
        uint len = (uint)packet.Length;
        ref byte p = ref MemoryMarshal.GetReference(packet);
        ref CbpfInstruction insns = ref MemoryMarshal.GetReference(program);
        int pc = 0;
        while (true)
        {
            ref readonly CbpfInstruction insn = ref Unsafe.Add(ref insns, pc++);
            uint k = insn.K;
            switch (insn.Code)
            {
                case Bpf.RET | Bpf.K: return k;
                case Bpf.RET | Bpf.A: return a;
                case Bpf.LD | Bpf.W | Bpf.ABS:
                    if (k >= Bpf.SkfAdOff)
                        { if (!Ancillary(ref a, x, k, ancillary)) return 0; break; }
                    if (k > len || len - k < 4) return 0;
                    a = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, k)));
                    break;
                case Bpf.LD | Bpf.H | Bpf.ABS:
                    if (k >= Bpf.SkfAdOff)
                        { if (!Ancillary(ref a, x, k, ancillary)) return 0; break; }
                    if (k > len || len - k < 2) return 0;
                    a = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, k)));
                    break;
                case Bpf.LD | Bpf.B | Bpf.ABS:
                    if (k >= Bpf.SkfAdOff)
                        { if (!Ancillary(ref a, x, k, ancillary)) return 0; break; }
                    if (k >= len) return 0;
                    a = Unsafe.Add(ref p, k);
                    break;
                case Bpf.LD | Bpf.W | Bpf.IND:
                    {
                        ulong off = (ulong)x + k;
                        if (off + 4 > len) return 0;
                        a = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, (nuint)off)));
                        break;
                    }
                case Bpf.LD | Bpf.H | Bpf.IND:
                    {
                        ulong off = (ulong)x + k;
                        if (off + 2 > len) return 0;
                        a = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, (nuint)off)));
                        break;
                    }
                case Bpf.LD | Bpf.B | Bpf.IND:
                    {
                        ulong off = (ulong)x + k;
                        if (off >= len) return 0;
                        a = Unsafe.Add(ref p, (nuint)off);
                        break;
                    }
                case Bpf.LD | Bpf.W | Bpf.LEN: a = wireLength; break;
                case Bpf.LDX | Bpf.W | Bpf.LEN: x = wireLength; break;
                case Bpf.LD | Bpf.IMM: a = k; break;
                case Bpf.LDX | Bpf.IMM: x = k; break;
                case Bpf.LD | Bpf.MEM: a = mem[k & 15]; break;
                case Bpf.LDX | Bpf.MEM: x = mem[k & 15]; break;
                case Bpf.LDX | Bpf.B | Bpf.MSH:
                    if (k >= len) return 0;
                    x = (uint)(Unsafe.Add(ref p, k) & 0xf) << 2;
                    break;
                case Bpf.ST: mem[k & 15] = a; break;
                case Bpf.STX: mem[k & 15] = x; break;
                case Bpf.MISC | Bpf.TAX: x = a; break;
                case Bpf.MISC | Bpf.TXA: a = x; break;
                case Bpf.JMP | Bpf.JA: pc += (int)k; break;
                case Bpf.JMP | Bpf.JEQ | Bpf.K: pc += a == k ? insn.Jt : insn.Jf; break;
                case Bpf.JMP | Bpf.JGT | Bpf.K: pc += a > k ? insn.Jt : insn.Jf; break;
                case Bpf.JMP | Bpf.JGE | Bpf.K: pc += a >= k ? insn.Jt : insn.Jf; break;
                case Bpf.JMP | Bpf.JSET | Bpf.K: pc += (a & k) != 0 ? insn.Jt : insn.Jf; break;
                case Bpf.JMP | Bpf.JEQ | Bpf.X: pc += a == x ? insn.Jt : insn.Jf; break;
                case Bpf.JMP | Bpf.JGT | Bpf.X: pc += a > x ? insn.Jt : insn.Jf; break;
                case Bpf.JMP | Bpf.JGE | Bpf.X: pc += a >= x ? insn.Jt : insn.Jf; break;
                case Bpf.JMP | Bpf.JSET | Bpf.X: pc += (a & x) != 0 ? insn.Jt : insn.Jf; break;
                case Bpf.ALU | Bpf.ADD | Bpf.K: a += k; break;
                case Bpf.ALU | Bpf.SUB | Bpf.K: a -= k; break;
                case Bpf.ALU | Bpf.MUL | Bpf.K: a *= k; break;
                case Bpf.ALU | Bpf.DIV | Bpf.K: a /= k; break;
                case Bpf.ALU | Bpf.MOD | Bpf.K: a %= k; break;
                case Bpf.ALU | Bpf.AND | Bpf.K: a &= k; break;
                case Bpf.ALU | Bpf.OR | Bpf.K: a |= k; break;
                case Bpf.ALU | Bpf.XOR | Bpf.K: a ^= k; break;
                case Bpf.ALU | Bpf.LSH | Bpf.K: a <<= (int)k; break;
                case Bpf.ALU | Bpf.RSH | Bpf.K: a >>= (int)k; break;
                case Bpf.ALU | Bpf.ADD | Bpf.X: a += x; break;
                case Bpf.ALU | Bpf.SUB | Bpf.X: a -= x; break;
                case Bpf.ALU | Bpf.MUL | Bpf.X: a *= x; break;
                case Bpf.ALU | Bpf.DIV | Bpf.X: if (x == 0) return 0; a /= x; break;
                case Bpf.ALU | Bpf.MOD | Bpf.X: if (x == 0) return 0; a %= x; break;
                case Bpf.ALU | Bpf.AND | Bpf.X: a &= x; break;
                case Bpf.ALU | Bpf.OR | Bpf.X: a |= x; break;
                case Bpf.ALU | Bpf.XOR | Bpf.X: a ^= x; break;
                case Bpf.ALU | Bpf.LSH | Bpf.X: a <<= (int)x; break;
                case Bpf.ALU | Bpf.RSH | Bpf.X: a >>= (int)x; break;
                case Bpf.ALU | Bpf.NEG: a = (uint)-(int)a; break;
                default: return 0; // unknown opcode: a validated program never gets here
            }
        }
    }

    /// <summary>The 32-bit result of ALU operation <paramref name="op"/> (a <see cref="Bpf"/> op value).</summary>
    internal static uint Alu(int op, uint a, uint b) => op switch
    {
        Bpf.ADD => a + b,
        Bpf.SUB => a - b,
        Bpf.MUL => a * b,
        Bpf.DIV => a / b,
        Bpf.MOD => a % b,
        Bpf.AND => a & b,
        Bpf.OR => a | b,
        Bpf.XOR => a ^ b,
        Bpf.LSH => a << (int)b,
        Bpf.RSH => a >> (int)b,
        Bpf.NEG => (uint)-(int)a,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static bool Ancillary(ref uint a, uint x, uint k, CbpfAncillary? ancillary)
    {
        if (ancillary is not { } m || !CbpfValidator.IsKnownAncillaryOffset(k))
            return false;
        a = (SkfAd)(k - Bpf.SkfAdOff) switch
        {
            SkfAd.Protocol => m.Protocol,
            SkfAd.PktType => m.PacketType,
            SkfAd.IfIndex => (uint)m.InterfaceIndex,
            SkfAd.Mark => m.Mark,
            SkfAd.Queue => m.Queue,
            SkfAd.HaType => m.HardwareType,
            SkfAd.RxHash => m.Hash,
            SkfAd.Cpu => m.Cpu,
            SkfAd.AluXorX => a ^ x,
            SkfAd.VlanTag => m.VlanTci,
            SkfAd.VlanTagPresent => m.VlanPresent ? 1u : 0u,
            SkfAd.PayOffset => m.PayloadOffset,
            SkfAd.Random => m.Random,
            SkfAd.VlanTpid => m.VlanTpid,
            _ => 0, // netlink attribute searches have no meaning outside a netlink socket
        };
        return true;
    }
}
