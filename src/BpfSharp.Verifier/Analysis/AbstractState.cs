using System.Text;

namespace BpfSharp.Verifier.Analysis;

/// <summary>What the verifier knows about one byte of a stack frame.</summary>
public enum StackByte : byte
{
    /// <summary>Never written: reading it is an error.</summary>
    Invalid,
    /// <summary>Written with some number.</summary>
    Misc,
    /// <summary>Written with zero.</summary>
    Zero,
    /// <summary>Part of an 8-byte register spill; the register's state is kept in the slot.</summary>
    Spill,
}

/// <summary>One function frame: registers and the 512-byte stack.</summary>
public sealed class Frame
{
    /// <summary>Size of a frame's stack in bytes.</summary>
    public const int StackSize = 512;

    /// <summary>R0-R10.</summary>
    public RegisterState[] Registers { get; } = new RegisterState[11];

    /// <summary>Per-byte knowledge, index 0 = fp-512.</summary>
    public StackByte[] Stack { get; } = new StackByte[StackSize];

    /// <summary>Spilled registers per 8-byte slot, index 0 = fp-512.</summary>
    public RegisterState[] Spills { get; } = new RegisterState[StackSize / 8];

    /// <summary>Instruction to continue at when this (callee) frame exits; -1 for the main program.</summary>
    public int ReturnPc { get; init; } = -1;

    /// <summary>Index of this frame in the call chain (0 = main program).</summary>
    public int Depth { get; init; }

    /// <summary>Copies the frame.</summary>
    public Frame Clone()
    {
        var copy = new Frame { ReturnPc = ReturnPc, Depth = Depth };
        Registers.CopyTo(copy.Registers, 0);
        Stack.CopyTo(copy.Stack, 0);
        Spills.CopyTo(copy.Spills, 0);
        return copy;
    }

    /// <summary>True when every concrete state of this frame is covered by <paramref name="other"/>.</summary>
    public bool IsSubsetOf(Frame other, ushort relevantScalars = 0xFFFF, ushort live = 0xFFFF)
    {
        if (ReturnPc != other.ReturnPc)
            return false;
        for (int r = 0; r < Registers.Length; r++)
        {
            // A dead register matches anything; a scalar whose value cannot matter ahead matches any scalar (see Relevance).
            if ((live & (1 << r)) == 0)
                continue;
            if ((relevantScalars & (1 << r)) == 0 && Registers[r].Type == RegType.Scalar && other.Registers[r].Type == RegType.Scalar)
                continue;
            if (!Registers[r].IsSubsetOf(other.Registers[r]))
                return false;
        }
        for (int i = 0; i < StackSize; i++)
        {
            StackByte mine = Stack[i], theirs = other.Stack[i];
            if (theirs == StackByte.Invalid || mine == theirs && mine != StackByte.Spill)
                continue;
            if (theirs == StackByte.Misc && mine is StackByte.Zero)
                continue;
            if (mine == StackByte.Spill && theirs == StackByte.Spill && i % 8 == 0 && Spills[i / 8].IsSubsetOf(other.Spills[i / 8]))
            {
                i += 7;
                continue;
            }
            if (theirs == StackByte.Misc && mine == StackByte.Spill && Spills[i / 8].Type == RegType.Scalar)
                continue;
            return false;
        }
        return true;
    }
}

/// <summary>The verifier's state on one path: the call chain of frames.</summary>
public sealed class AbstractState
{
    /// <summary>Frames, innermost last.</summary>
    public List<Frame> Frames { get; } = [];

    /// <summary>The innermost frame.</summary>
    public Frame Current => Frames[^1];

    /// <summary>Registers of the innermost frame.</summary>
    public RegisterState[] Registers => Current.Registers;

    /// <summary>Next id for nullable and packet pointers.</summary>
    public int NextId { get; set; } = 1;

    /// <summary>Acquired references (ring buffer reservations) not yet released: id and allocating instruction.</summary>
    public List<(int Id, int Pc)> References { get; } = [];

    /// <summary>Branch decisions that led here, for the error report (pc:taken/fallthrough).</summary>
    public List<string> Path { get; } = [];

    /// <summary>Deep copy, for exploring the other successor of a branch.</summary>
    public AbstractState Clone()
    {
        var copy = new AbstractState { NextId = NextId };
        foreach (Frame f in Frames)
            copy.Frames.Add(f.Clone());
        copy.Path.AddRange(Path);
        copy.References.AddRange(References);
        return copy;
    }

    /// <summary>True when every concrete state of this one is covered by <paramref name="other"/>.</summary>
    public bool IsSubsetOf(AbstractState other, ushort relevantScalars = 0xFFFF, ushort live = 0xFFFF)
    {
        if (Frames.Count != other.Frames.Count || References.Count != other.References.Count)
            return false;
        for (int i = 0; i < References.Count; i++)
        {
            if (References[i] != other.References[i])
                return false;
        }
        for (int i = 0; i < Frames.Count; i++)
        {
            if (!Frames[i].IsSubsetOf(other.Frames[i], i == Frames.Count - 1 ? relevantScalars : (ushort)0xFFFF, i == Frames.Count - 1 ? live : (ushort)0xFFFF))
                return false;
        }
        return true;
    }

    /// <summary>Kernel-style register dump: <c>R0=scalar() R1=ctx() R10=fp0</c>.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        if (Frames.Count > 1)
            text.Append("frame").Append(Frames.Count - 1).Append(": ");
        RegisterState[] regs = Registers;
        for (int r = 0; r < regs.Length; r++)
        {
            if (regs[r].Type == RegType.NotInit)
                continue;
            if (text.Length > 0 && text[^1] != ' ')
                text.Append(' ');
            text.Append('R').Append(r).Append('=').Append(regs[r]);
        }
        Frame f = Current;
        for (int slot = f.Spills.Length - 1; slot >= 0; slot--)
        {
            int off = slot * 8 - Frame.StackSize;
            if (f.Stack[slot * 8] == StackByte.Spill)
                text.Append(" fp").Append(off).Append('=').Append(f.Spills[slot]);
        }
        foreach (var (id, pc) in References)
            text.Append(" refs=").Append(id).Append('@').Append(pc);
        return text.ToString();
    }
}
