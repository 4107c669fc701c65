using BpfSharp.Isa;

namespace BpfSharp.Linux.Tests;

/// <summary>
/// A tiny hand encoder for test programs (opcode bytes from RFC 9669 / linux/bpf_common.h), so these tests do
/// not depend on the assembler being written in parallel.
/// </summary>
internal static class I
{
    public const byte R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10;

    static RawInstruction Ins(byte op, byte dst = 0, byte src = 0, short off = 0, int imm = 0) => new(op, dst, src, off, imm);

    public static RawInstruction Mov(byte dst, int imm) => Ins(0xb7, dst, imm: imm);          // BPF_ALU64|BPF_MOV|BPF_K
    public static RawInstruction MovR(byte dst, byte src) => Ins(0xbf, dst, src);             // BPF_ALU64|BPF_MOV|BPF_X
    public static RawInstruction Mov32(byte dst, int imm) => Ins(0xb4, dst, imm: imm);        // BPF_ALU|BPF_MOV|BPF_K
    public static RawInstruction Add(byte dst, int imm) => Ins(0x07, dst, imm: imm);
    public static RawInstruction AddR(byte dst, byte src) => Ins(0x0f, dst, src);
    public static RawInstruction SubR(byte dst, byte src) => Ins(0x1f, dst, src);
    public static RawInstruction Mul(byte dst, int imm) => Ins(0x27, dst, imm: imm);
    public static RawInstruction Rsh(byte dst, int imm) => Ins(0x77, dst, imm: imm);
    public static RawInstruction And(byte dst, int imm) => Ins(0x57, dst, imm: imm);
    public static RawInstruction LdxW(byte dst, byte src, short off) => Ins(0x61, dst, src, off);
    public static RawInstruction LdxB(byte dst, byte src, short off) => Ins(0x71, dst, src, off);
    public static RawInstruction LdxDW(byte dst, byte src, short off) => Ins(0x79, dst, src, off);
    public static RawInstruction StxW(byte dst, short off, byte src) => Ins(0x63, dst, src, off);
    public static RawInstruction StxB(byte dst, short off, byte src) => Ins(0x73, dst, src, off);
    public static RawInstruction StxDW(byte dst, short off, byte src) => Ins(0x7b, dst, src, off);
    public static RawInstruction StW(byte dst, short off, int imm) => Ins(0x62, dst, off: off, imm: imm);
    public static RawInstruction StDW(byte dst, short off, int imm) => Ins(0x7a, dst, off: off, imm: imm);
    /// <summary>lock *(u64 *)(dst + off) += src.</summary>
    public static RawInstruction AtomicAddDW(byte dst, short off, byte src) => Ins(0xdb, dst, src, off, 0);
    public static RawInstruction Ja(short off) => Ins(0x05, off: off);
    public static RawInstruction JeqImm(byte dst, int imm, short off) => Ins(0x15, dst, off: off, imm: imm);
    public static RawInstruction JneImm(byte dst, int imm, short off) => Ins(0x55, dst, off: off, imm: imm);
    public static RawInstruction JgtImm(byte dst, int imm, short off) => Ins(0x25, dst, off: off, imm: imm);
    public static RawInstruction JgtR(byte dst, byte src, short off) => Ins(0x2d, dst, src, off);
    public static RawInstruction Call(int helper) => Ins(0x85, imm: helper);
    public static RawInstruction Exit() => Ins(0x95);

    /// <summary>lddw dst, map_fd (BPF_PSEUDO_MAP_FD): two slots.</summary>
    public static RawInstruction[] LdMap(byte dst, KernelMap map) => [Ins(0x18, dst, 1, 0, map.Fd), Ins(0, 0, 0, 0, 0)];

    /// <summary>lddw dst, imm64: two slots.</summary>
    public static RawInstruction[] Ld64(byte dst, long imm) => [Ins(0x18, dst, 0, 0, (int)imm), Ins(0, 0, 0, 0, (int)(imm >> 32))];

    /// <summary>Flattens single slots and slot arrays into one program.</summary>
    public static RawInstruction[] Prog(params object[] parts)
    {
        var list = new List<RawInstruction>();
        foreach (object p in parts)
        {
            if (p is RawInstruction r) list.Add(r);
            else if (p is RawInstruction[] a) list.AddRange(a);
            else throw new ArgumentException(p.GetType().Name);
        }
        return list.ToArray();
    }

    /// <summary>
    /// "Count into an array map slot": key = 0 at fp-4, lookup, if found atomically add 1 to the u64 value.
    /// Clobbers r0-r5. Used by the attach tests.
    /// </summary>
    public static RawInstruction[] CountInto(KernelMap map, int slot = 0) => Prog(
        StW(R10, -4, slot),
        MovR(R2, R10), Add(R2, -4),
        LdMap(R1, map),
        Call(BpfHelperIds.MapLookupElem),
        JeqImm(R0, 0, 2),
        Mov(R1, 1),
        AtomicAddDW(R0, 0, R1));
}
