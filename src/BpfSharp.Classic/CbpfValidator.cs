namespace BpfSharp.Classic;

/// <summary>A classic BPF program the kernel would refuse to attach (what the kernel's filter checker rejects).</summary>
public sealed class CbpfValidationException : Exception
{
    /// <summary>Creates the error for instruction <paramref name="index"/> (-1 for the program as a whole).</summary>
    public CbpfValidationException(int index, string reason)
        : base(index < 0 ? reason : $"instruction {index}: {reason}")
    {
        Index = index;
        Reason = reason;
    }

    /// <summary>Index of the offending instruction, or -1 when the problem is the whole program.</summary>
    public int Index { get; }

    /// <summary>The rule that was broken, without the location prefix.</summary>
    public string Reason { get; }
}

/// <summary>
/// The Linux kernel's acceptance rules for classic BPF socket filters (the checks made when a filter is attached):
/// known opcodes only, forward in-range jumps, a final return, no constant division by zero, shifts below 32,
/// scratch-memory indexes below 16 and written before read, at most 4096 instructions, known SKF_AD offsets.
/// </summary>
public static class CbpfValidator
{
    /// <summary>Returns null if the program is acceptable, else the first violation.</summary>
    public static CbpfValidationException? Check(ReadOnlySpan<CbpfInstruction> program)
    {
        int n = program.Length;
        if (n == 0)
            return new CbpfValidationException(-1, "program is empty");
        if (n > Bpf.MaxInstructions)
            return new CbpfValidationException(-1, $"program has {n} instructions, more than the limit of {Bpf.MaxInstructions}");
        for (int pc = 0; pc < n; pc++)
        {
            var error = CheckOne(program[pc], pc, n);
            if (error is not null)
                return new CbpfValidationException(pc, error);
        }
        ushort last = program[n - 1].Code;
        if (last != (Bpf.RET | Bpf.K) && last != (Bpf.RET | Bpf.A))
            return new CbpfValidationException(n - 1, "last instruction is not a return");
        return CheckMemoryInitialised(program);
    }

    /// <summary>Throws <see cref="CbpfValidationException"/> if the program is not acceptable.</summary>
    public static void Validate(ReadOnlySpan<CbpfInstruction> program)
    {
        var error = Check(program);
        if (error is not null)
            throw error;
    }

    /// <summary>True for every opcode the kernel's classic filter whitelist knows.</summary>
    public static bool IsKnownOpcode(ushort code)
    {
        switch (code)
        {
            case Bpf.ALU | Bpf.ADD | Bpf.K: case Bpf.ALU | Bpf.ADD | Bpf.X:
            case Bpf.ALU | Bpf.SUB | Bpf.K: case Bpf.ALU | Bpf.SUB | Bpf.X:
            case Bpf.ALU | Bpf.MUL | Bpf.K: case Bpf.ALU | Bpf.MUL | Bpf.X:
            case Bpf.ALU | Bpf.DIV | Bpf.K: case Bpf.ALU | Bpf.DIV | Bpf.X:
            case Bpf.ALU | Bpf.MOD | Bpf.K: case Bpf.ALU | Bpf.MOD | Bpf.X:
            case Bpf.ALU | Bpf.AND | Bpf.K: case Bpf.ALU | Bpf.AND | Bpf.X:
            case Bpf.ALU | Bpf.OR | Bpf.K: case Bpf.ALU | Bpf.OR | Bpf.X:
            case Bpf.ALU | Bpf.XOR | Bpf.K: case Bpf.ALU | Bpf.XOR | Bpf.X:
            case Bpf.ALU | Bpf.LSH | Bpf.K: case Bpf.ALU | Bpf.LSH | Bpf.X:
            case Bpf.ALU | Bpf.RSH | Bpf.K: case Bpf.ALU | Bpf.RSH | Bpf.X:
            case Bpf.ALU | Bpf.NEG:
            case Bpf.LD | Bpf.W | Bpf.ABS: case Bpf.LD | Bpf.H | Bpf.ABS: case Bpf.LD | Bpf.B | Bpf.ABS:
            case Bpf.LD | Bpf.W | Bpf.LEN: case Bpf.LD | Bpf.W | Bpf.IND: case Bpf.LD | Bpf.H | Bpf.IND:
            case Bpf.LD | Bpf.B | Bpf.IND: case Bpf.LD | Bpf.IMM: case Bpf.LD | Bpf.MEM:
            case Bpf.LDX | Bpf.W | Bpf.LEN: case Bpf.LDX | Bpf.B | Bpf.MSH: case Bpf.LDX | Bpf.IMM: case Bpf.LDX | Bpf.MEM:
            case Bpf.ST: case Bpf.STX:
            case Bpf.MISC | Bpf.TAX: case Bpf.MISC | Bpf.TXA:
            case Bpf.RET | Bpf.K: case Bpf.RET | Bpf.A:
            case Bpf.JMP | Bpf.JA:
            case Bpf.JMP | Bpf.JEQ | Bpf.K: case Bpf.JMP | Bpf.JEQ | Bpf.X:
            case Bpf.JMP | Bpf.JGE | Bpf.K: case Bpf.JMP | Bpf.JGE | Bpf.X:
            case Bpf.JMP | Bpf.JGT | Bpf.K: case Bpf.JMP | Bpf.JGT | Bpf.X:
            case Bpf.JMP | Bpf.JSET | Bpf.K: case Bpf.JMP | Bpf.JSET | Bpf.X:
                return true;
            default:
                return false;
        }
    }

    /// <summary>True if <paramref name="k"/> of an absolute load names a Linux ancillary field the kernel knows.</summary>
    public static bool IsKnownAncillaryOffset(uint k) =>
        k >= Bpf.SkfAdOff && (k - Bpf.SkfAdOff) < (uint)SkfAd.Max && (k - Bpf.SkfAdOff) % 4 == 0;

    private static string? CheckOne(CbpfInstruction insn, int pc, int n)
    {
        ushort code = insn.Code;
        if (!IsKnownOpcode(code))
            return $"unknown opcode 0x{code:x}";
        switch (code)
        {
            case Bpf.ALU | Bpf.DIV | Bpf.K:
            case Bpf.ALU | Bpf.MOD | Bpf.K:
                if (insn.K == 0)
                    return "division by constant zero";
                break;
            case Bpf.ALU | Bpf.LSH | Bpf.K:
            case Bpf.ALU | Bpf.RSH | Bpf.K:
                if (insn.K >= 32)
                    return $"shift by {insn.K} is not below 32";
                break;
            case Bpf.LD | Bpf.MEM:
            case Bpf.LDX | Bpf.MEM:
            case Bpf.ST:
            case Bpf.STX:
                if (insn.K >= Bpf.MemWords)
                    return $"scratch memory index {insn.K} is not below {Bpf.MemWords}";
                break;
            case Bpf.JMP | Bpf.JA:
                if (insn.K >= (uint)(n - pc - 1))
                    return $"jump offset {insn.K} leaves the program";
                break;
            case Bpf.LD | Bpf.W | Bpf.ABS:
            case Bpf.LD | Bpf.H | Bpf.ABS:
            case Bpf.LD | Bpf.B | Bpf.ABS:
                if (insn.K >= Bpf.SkfAdOff && !IsKnownAncillaryOffset(insn.K))
                    return $"unknown ancillary offset SKF_AD_OFF+{insn.K - Bpf.SkfAdOff}";
                break;
            default:
                if (Bpf.Class(code) == Bpf.JMP && (pc + 1 + insn.Jt >= n || pc + 1 + insn.Jf >= n))
                    return $"conditional jump (jt {insn.Jt}, jf {insn.Jf}) leaves the program";
                break;
        }
        return null;
    }

    // Every scratch word read must have been written on every path that reaches the read (a forward dataflow over
    // the acyclic program: the set of words certainly written is the intersection over predecessors).
    private static CbpfValidationException? CheckMemoryInitialised(ReadOnlySpan<CbpfInstruction> program)
    {
        int n = program.Length;
        var written = new ushort[n];
        var reached = new bool[n];
        Array.Fill(written, ushort.MaxValue);
        reached[0] = true;
        written[0] = 0;
        for (int pc = 0; pc < n; pc++)
        {
            if (!reached[pc])
                continue;
            var insn = program[pc];
            ushort mask = written[pc];
            switch (insn.Code)
            {
                case Bpf.LD | Bpf.MEM:
                case Bpf.LDX | Bpf.MEM:
                    if ((mask & (1 << (int)insn.K)) == 0)
                        return new CbpfValidationException(pc, $"scratch memory M[{insn.K}] is read before it is written");
                    break;
                case Bpf.ST:
                case Bpf.STX:
                    mask |= (ushort)(1 << (int)insn.K);
                    break;
            }
            int cls = insn.Class;
            if (cls == Bpf.RET)
                continue;
            if (cls == Bpf.JMP)
            {
                if (Bpf.Op(insn.Code) == Bpf.JA)
                    Flow(pc + 1 + (int)insn.K, mask);
                else
                {
                    Flow(pc + 1 + insn.Jt, mask);
                    Flow(pc + 1 + insn.Jf, mask);
                }
            }
            else
                Flow(pc + 1, mask);
        }
        return null;

        void Flow(int target, ushort mask)
        {
            if (reached[target])
                written[target] &= mask;
            else
            {
                reached[target] = true;
                written[target] = mask;
            }
        }
    }
}
