using BpfSharp.Isa;

namespace BpfSharp.Classic;

/// <summary>
/// Translates a classic BPF program into eBPF (conceptually what the kernel's filter converter does), with explicit
/// bounds checks instead of the legacy packet-load instructions so the result runs on any eBPF engine.
/// </summary>
/// <remarks>
/// Calling convention of the produced program:
/// <list type="bullet">
/// <item>r1 = pointer to the first captured byte; r2 = captured length in its low 32 bits and the original (wire)
/// length in its high 32 bits (0 there means "same as captured"). Use <see cref="PackLengths"/> to build r2.</item>
/// <item>Returns the classic verdict in r0 (0 = drop). Any packet load outside [0, r2), or a division by a zero X,
/// returns 0 — the kernel's run-time semantics.</item>
/// <item>Internally A lives in r0, X in r7, the packet pointer in r6, the lengths in r8/r9, and M[0..15] in the 64
/// bytes below the frame pointer (r10-64 .. r10-4). Linux ancillary loads (SKF_AD_*) have no packet-only
/// equivalent and end the program with 0, as they do in userspace libpcap.</item>
/// </list>
/// </remarks>
public static class CbpfToEbpf
{
    private const byte R0 = 0, R1 = 1, R2 = 2, R3 = 3, R6 = 6, R7 = 7, R8 = 8, R9 = 9, R10 = 10;
    private const byte Alu = 0x04, Jmp = 0x05, Jmp32 = 0x06, Alu64 = 0x07, Ldx = 0x01, Stx = 0x03;
    private const byte SrcK = 0x00, SrcX = 0x08;
    private const byte Mov = 0xb0, Add = 0x00, And = 0x50, Lsh = 0x60, Neg = 0x80, End = 0xd0;
    private const byte Ja = 0x00, Jeq = 0x10, Jgt = 0x20, Jne = 0x50, Exit = 0x90, Rsh = 0x70;
    private const byte MemW = 0x60 | 0x00, MemH = 0x60 | 0x08, MemB = 0x60 | 0x10;
    private const int ScratchBase = -64;

    private readonly record struct Pending(RawInstruction Insn, int Target);
    private const int NoTarget = -1, FailTarget = -2;

    /// <summary>Translates <paramref name="program"/>, which must pass <see cref="CbpfValidator"/>.</summary>
    /// <exception cref="CbpfValidationException">The classic program is not acceptable to the kernel.</exception>
    /// <exception cref="ArgumentException">The translation would need jumps longer than eBPF's 16-bit offsets.</exception>
    public static RawInstruction[] Translate(ReadOnlySpan<CbpfInstruction> program)
    {
        CbpfValidator.Validate(program);
        var blocks = new List<Pending>[program.Length];
        var prologue = new List<Pending>
        {
            P(Alu64 | Mov | SrcX, R6, R1),
            P(Alu | Mov | SrcX, R8, R2),          // w8 = captured length (zero-extended)
            P(Alu64 | Mov | SrcX, R9, R2),
            PImm(Alu64 | Rsh | SrcK, R9, 32),     // r9 = wire length
            PImm(Jmp | Jne | SrcK, R9, 0, (short)1),
            P(Alu64 | Mov | SrcX, R9, R8),
            P(Alu | Mov | SrcK, R0, 0),
            P(Alu | Mov | SrcK, R7, 0),
        };
        for (int pc = 0; pc < program.Length; pc++)
            blocks[pc] = TranslateOne(program[pc], pc);
        var fail = new List<Pending> { P(Alu | Mov | SrcK, R0, 0), P(Jmp | Exit, 0, 0) };

        // Lay out: prologue, each instruction's sequence, the shared failure exit.
        var start = new int[program.Length + 1];
        int at = prologue.Count;
        for (int pc = 0; pc < program.Length; pc++)
        {
            start[pc] = at;
            at += blocks[pc].Count;
        }
        int failAt = at;
        var output = new List<RawInstruction>(at + fail.Count);
        void Place(List<Pending> seq)
        {
            foreach (var p in seq)
            {
                if (p.Target == NoTarget)
                {
                    output.Add(p.Insn);
                    continue;
                }
                int target = p.Target == FailTarget ? failAt : start[p.Target];
                int off = target - output.Count - 1;
                if (off is > short.MaxValue or < short.MinValue)
                    throw new ArgumentException("program too large: an eBPF jump offset would exceed 16 bits", nameof(program));
                output.Add(new RawInstruction(p.Insn.Opcode, p.Insn.Dst, p.Insn.Src, (short)off, p.Insn.Imm));
            }
        }
        Place(prologue);
        foreach (var b in blocks)
            Place(b);
        Place(fail);
        return output.ToArray();
    }

    private static Pending P(int opcode, byte dst, byte src, short off = 0, int imm = 0, int target = NoTarget) =>
        new(new RawInstruction((byte)opcode, dst, src, off, imm), target);

    private static Pending PImm(int opcode, byte dst, int imm, int target = NoTarget) =>
        new(new RawInstruction((byte)opcode, dst, 0, 0, imm), target);

    // A fixed forward skip inside one sequence (not a symbolic target).
    private static Pending PImm(int opcode, byte dst, int imm, short skip) =>
        new(new RawInstruction((byte)opcode, dst, 0, skip, imm), NoTarget);

    /// <summary>Builds the r2 argument: captured length low, wire length high.</summary>
    public static ulong PackLengths(uint capturedLength, uint wireLength) => capturedLength | ((ulong)wireLength << 32);

    private static List<Pending> TranslateOne(CbpfInstruction insn, int pc)
    {
        var s = new List<Pending>(6);
        uint k = insn.K;
        ushort code = insn.Code;
        switch (Bpf.Class(code))
        {
            case Bpf.LD:
            case Bpf.LDX:
                {
                    byte dst = Bpf.Class(code) == Bpf.LD ? R0 : R7;
                    switch (Bpf.Mode(code))
                    {
                        case Bpf.IMM: s.Add(PImm(Alu | Mov | SrcK, dst, unchecked((int)k))); break;
                        case Bpf.LEN: s.Add(P(Alu | Mov | SrcX, dst, R9)); break;
                        case Bpf.MEM: s.Add(P(Ldx | MemW, dst, R10, (short)(ScratchBase + 4 * (int)k))); break;
                        case Bpf.ABS: PacketLoad(s, Width(code), k, indexed: false); break;
                        case Bpf.IND: PacketLoad(s, Width(code), k, indexed: true); break;
                        case Bpf.MSH:
                            PacketLoad(s, 1, k, indexed: false, into: R7);
                            s.Add(PImm(Alu | And | SrcK, R7, 0xf));
                            s.Add(PImm(Alu | Lsh | SrcK, R7, 2));
                            break;
                    }
                    break;
                }
            case Bpf.ST:
                s.Add(P(Stx | MemW, R10, R0, (short)(ScratchBase + 4 * (int)k)));
                break;
            case Bpf.STX:
                s.Add(P(Stx | MemW, R10, R7, (short)(ScratchBase + 4 * (int)k)));
                break;
            case Bpf.ALU:
                {
                    int op = Bpf.Op(code);
                    if (op == Bpf.NEG)
                        s.Add(P(Alu | Neg, R0, 0));
                    else if (Bpf.Src(code) == Bpf.X)
                    {
                        if (op is Bpf.DIV or Bpf.MOD)
                            s.Add(PImm(Jmp32 | Jeq | SrcK, R7, 0, FailTarget));
                        s.Add(P(Alu | op | SrcX, R0, R7));
                    }
                    else
                        s.Add(PImm(Alu | op | SrcK, R0, unchecked((int)k)));
                    break;
                }
            case Bpf.MISC:
                s.Add(Bpf.MiscOp(code) == Bpf.TAX ? P(Alu | Mov | SrcX, R7, R0) : P(Alu | Mov | SrcX, R0, R7));
                break;
            case Bpf.RET:
                if (Bpf.RVal(code) == Bpf.K)
                    s.Add(PImm(Alu | Mov | SrcK, R0, unchecked((int)k)));
                else if (Bpf.RVal(code) == Bpf.X)
                    s.Add(P(Alu | Mov | SrcX, R0, R7));
                s.Add(P(Jmp | Exit, 0, 0));
                break;
            case Bpf.JMP:
                {
                    int op = Bpf.Op(code);
                    if (op == Bpf.JA)
                    {
                        s.Add(P(Jmp | Ja, 0, 0, target: pc + 1 + (int)k));
                        break;
                    }
                    int trueTarget = pc + 1 + insn.Jt, falseTarget = pc + 1 + insn.Jf;
                    bool byX = Bpf.Src(code) == Bpf.X;
                    var cond = byX ? P(Jmp32 | op | SrcX, R0, R7, target: trueTarget)
                                   : PImm(Jmp32 | op | SrcK, R0, unchecked((int)k), trueTarget);
                    s.Add(cond);
                    s.Add(P(Jmp | Ja, 0, 0, target: falseTarget));
                    break;
                }
        }
        return s;
    }

    private static int Width(ushort code) => Bpf.Size(code) switch { Bpf.W => 4, Bpf.H => 2, _ => 1 };

    // Emits: bounds check against r8 (captured length), the load into A (or X), and the byte swap.
    private static void PacketLoad(List<Pending> s, int width, uint k, bool indexed, byte into = R0)
    {
        byte mem = width == 4 ? MemW : width == 2 ? MemH : MemB;
        if (!indexed)
        {
            ulong end = (ulong)k + (ulong)width;
            if (k >= Bpf.SkfAdOff || end > int.MaxValue)
            {
                s.Add(P(Jmp | Ja, 0, 0, target: FailTarget)); // ancillary data or beyond any packet
                return;
            }
            // if (captured_len < k + width) fail  <=>  if (k + width > captured_len)
            s.Add(PImm(Alu64 | Mov | SrcK, R2, (int)end));
            s.Add(P(Jmp | Jgt | SrcX, R2, R8, target: FailTarget));
            if (k <= short.MaxValue)
                s.Add(P(Ldx | mem, into, R6, (short)k));
            else
            {
                s.Add(P(Alu64 | Mov | SrcX, R2, R6));
                s.Add(PImm(Alu64 | Add | SrcK, R2, (int)k));
                s.Add(P(Ldx | mem, into, R2, 0));
            }
        }
        else
        {
            // r2 = (u64)X + k (no 32-bit wrap-around), r3 = r2 + width; fail if r3 > captured length.
            s.Add(P(Alu | Mov | SrcX, R2, R7));
            s.Add(PImm(Alu | Mov | SrcK, R3, unchecked((int)k)));
            s.Add(P(Alu64 | Add | SrcX, R2, R3));
            s.Add(P(Alu64 | Mov | SrcX, R3, R2));
            s.Add(PImm(Alu64 | Add | SrcK, R3, width));
            s.Add(P(Jmp | Jgt | SrcX, R3, R8, target: FailTarget));
            s.Add(P(Alu64 | Add | SrcX, R2, R6));
            s.Add(P(Ldx | mem, into, R2, 0));
        }
        if (width > 1)
            s.Add(PImm(Alu | End | SrcX, into, width * 8)); // to big-endian: converts network order on little-endian hosts
    }
}
