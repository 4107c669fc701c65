using System.Runtime.InteropServices;

namespace BpfSharp.Classic;

/// <summary>
/// One classic BPF instruction exactly as the kernel's <c>struct sock_filter</c> lays it out (8 bytes).
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 8)]
public readonly struct CbpfInstruction : IEquatable<CbpfInstruction>
{
    /// <summary>Opcode: class | size | mode, class | op | source, ...</summary>
    public readonly ushort Code;
    /// <summary>Relative jump distance when the condition holds.</summary>
    public readonly byte Jt;
    /// <summary>Relative jump distance when the condition fails.</summary>
    public readonly byte Jf;
    /// <summary>The generic 32-bit operand.</summary>
    public readonly uint K;

    /// <summary>Builds an instruction from its four fields.</summary>
    public CbpfInstruction(ushort code, byte jt, byte jf, uint k)
    {
        Code = code;
        Jt = jt;
        Jf = jf;
        K = k;
    }

    /// <summary>A non-jump statement <paramref name="code"/> with operand <paramref name="k"/>.</summary>
    public static CbpfInstruction Stmt(ushort code, uint k) => new(code, 0, 0, k);

    /// <summary>A conditional jump with operand <paramref name="k"/> and relative targets.</summary>
    public static CbpfInstruction Jump(ushort code, uint k, byte jt, byte jf) => new(code, jt, jf, k);

    /// <summary>The instruction class (low three bits of the code).</summary>
    public int Class => Code & 0x07;

    /// <inheritdoc/>
    public bool Equals(CbpfInstruction other) => Code == other.Code && Jt == other.Jt && Jf == other.Jf && K == other.K;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is CbpfInstruction i && Equals(i);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Code, Jt, Jf, K);

    /// <summary>Field-wise equality.</summary>
    public static bool operator ==(CbpfInstruction a, CbpfInstruction b) => a.Equals(b);

    /// <summary>Field-wise inequality.</summary>
    public static bool operator !=(CbpfInstruction a, CbpfInstruction b) => !a.Equals(b);

    /// <inheritdoc/>
    public override string ToString() => $"{{ 0x{Code:x}, {Jt}, {Jf}, 0x{K:x8} }}";
}

/// <summary>Classic BPF opcode field values (linux/filter.h, net/bpf.h).</summary>
public static class Bpf
{
#pragma warning disable CS1591 // the constants are the kernel's own names; each is documented by its group
    // Classes.
    public const ushort LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
    // Load sizes.
    public const ushort W = 0x00, H = 0x08, B = 0x10;
    // Load modes.
    public const ushort IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80, MSH = 0xa0;
    // ALU operations.
    public const ushort ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60, RSH = 0x70,
        NEG = 0x80, MOD = 0x90, XOR = 0xa0;
    // Jump operations.
    public const ushort JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
    // Operand sources.
    public const ushort K = 0x00, X = 0x08;
    // Return value sources.
    public const ushort A = 0x10;
    // Misc operations.
    public const ushort TAX = 0x00, TXA = 0x80;
#pragma warning restore CS1591

    /// <summary>Number of scratch memory words M[0..15].</summary>
    public const int MemWords = 16;

    /// <summary>Maximum instructions in a socket filter (BPF_MAXINSNS).</summary>
    public const int MaxInstructions = 4096;

    /// <summary>Base of the Linux ancillary-data load offsets (SKF_AD_OFF = -0x1000).</summary>
    public const uint SkfAdOff = unchecked((uint)-0x1000);

    /// <summary>The class bits of <paramref name="code"/>.</summary>
    public static int Class(int code) => code & 0x07;
    /// <summary>The size bits of a load.</summary>
    public static int Size(int code) => code & 0x18;
    /// <summary>The mode bits of a load.</summary>
    public static int Mode(int code) => code & 0xe0;
    /// <summary>The operation bits of an ALU op or jump.</summary>
    public static int Op(int code) => code & 0xf0;
    /// <summary>The source bit (K or X).</summary>
    public static int Src(int code) => code & 0x08;
    /// <summary>The return-value source bits (K, X or A).</summary>
    public static int RVal(int code) => code & 0x18;
    /// <summary>The misc operation bits.</summary>
    public static int MiscOp(int code) => code & 0xf8;
}

/// <summary>Linux ancillary-data offsets added to <see cref="Bpf.SkfAdOff"/> in absolute loads (linux/filter.h).</summary>
public enum SkfAd
{
    /// <summary>skb->protocol.</summary>
    Protocol = 0,
    /// <summary>skb->pkt_type.</summary>
    PktType = 4,
    /// <summary>skb->dev->ifindex.</summary>
    IfIndex = 8,
    /// <summary>Netlink attribute lookup.</summary>
    NlAttr = 12,
    /// <summary>Nested netlink attribute lookup.</summary>
    NlAttrNest = 16,
    /// <summary>skb->mark.</summary>
    Mark = 20,
    /// <summary>skb->queue_mapping.</summary>
    Queue = 24,
    /// <summary>skb->dev->type.</summary>
    HaType = 28,
    /// <summary>skb->hash.</summary>
    RxHash = 32,
    /// <summary>Current CPU.</summary>
    Cpu = 36,
    /// <summary>XOR of A and X.</summary>
    AluXorX = 40,
    /// <summary>VLAN TCI.</summary>
    VlanTag = 44,
    /// <summary>VLAN tag present.</summary>
    VlanTagPresent = 48,
    /// <summary>Payload offset.</summary>
    PayOffset = 52,
    /// <summary>Random number.</summary>
    Random = 56,
    /// <summary>VLAN TPID.</summary>
    VlanTpid = 60,
    /// <summary>One past the last defined offset (SKF_AD_MAX).</summary>
    Max = 64,
}
