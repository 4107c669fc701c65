namespace BpfSharp.Classic.Filter;

/// <summary>A basic block: straight-line statements ending in a conditional jump or a return.</summary>
internal sealed class Block
{
    public readonly List<CbpfInstruction> Stmts = new();
    /// <summary>The final instruction's code: a JMP class condition or RET.</summary>
    public ushort Code;
    public uint K;
    public Block? Jt, Jf;
    /// <summary>Statements contain internal relative jumps (protochain); optimizers must not touch them.</summary>
    public bool Opaque;
    public readonly int Id;

    // Linearisation state.
    public int Offset;
    public int Mark;
    public bool LongJt, LongJf;

    public Block(int id) => Id = id;

    public bool IsReturn => Bpf.Class(Code) == Bpf.RET;

    public bool IsUncond => Code == (Bpf.JMP | Bpf.JA);
}

internal readonly record struct Exit(Block Block, bool IsTrue);

/// <summary>A condition under construction: its entry block and the still-unresolved true and false exits.</summary>
internal sealed class Cond
{
    public Cond(Block head, List<Exit> trues, List<Exit> falses)
    {
        Head = head;
        Trues = trues;
        Falses = falses;
    }

    public Block Head { get; }
    public List<Exit> Trues { get; }
    public List<Exit> Falses { get; }

    public static void Patch(List<Exit> exits, Block target)
    {
        foreach (var e in exits)
        {
            if (e.IsTrue)
                e.Block.Jt = target;
            else
                e.Block.Jf = target;
        }
    }

    /// <summary>a and b: b is evaluated only where a held.</summary>
    public static Cond And(Cond a, Cond b)
    {
        Patch(a.Trues, b.Head);
        var falses = new List<Exit>(a.Falses.Count + b.Falses.Count);
        falses.AddRange(a.Falses);
        falses.AddRange(b.Falses);
        return new Cond(a.Head, b.Trues, falses);
    }

    /// <summary>a or b: b is evaluated only where a failed.</summary>
    public static Cond Or(Cond a, Cond b)
    {
        Patch(a.Falses, b.Head);
        var trues = new List<Exit>(a.Trues.Count + b.Trues.Count);
        trues.AddRange(a.Trues);
        trues.AddRange(b.Trues);
        return new Cond(a.Head, trues, b.Falses);
    }

    public static Cond Not(Cond a) => new(a.Head, a.Falses, a.Trues);
}

/// <summary>Turns a block graph into a linear program the way libpcap lays it out: each block is placed before
/// the code of its true successor, which is placed before that of its false successor; jumps over 255 get an extra
/// <c>ja</c>.</summary>
internal static class Linearizer
{
    public static CbpfInstruction[] Emit(Block root)
    {
        for (int attempt = 0; ; attempt++)
        {
            int count = 0;
            int mark = attempt * 2 + 1;
            Count(root, mark, ref count);
            var output = new CbpfInstruction[count];
            int tail = count;
            if (Convert(root, mark + 1, output, ref tail))
                return output;
            if (attempt > 10_000)
                throw new InvalidOperationException("jump layout did not converge");
        }
    }

    private static void Count(Block b, int mark, ref int count)
    {
        if (b.Mark == mark)
            return;
        b.Mark = mark;
        count += b.Stmts.Count + 1 + (b.LongJt ? 1 : 0) + (b.LongJf ? 1 : 0);
        if (!b.IsReturn)
        {
            if (b.IsUncond)
            {
                Count(b.Jt!, mark, ref count);
                return;
            }
            Count(b.Jt!, mark, ref count);
            Count(b.Jf!, mark, ref count);
        }
    }

    private static bool Convert(Block b, int mark, CbpfInstruction[] output, ref int tail)
    {
        if (b.Mark == mark)
            return true;
        b.Mark = mark;
        if (b.IsUncond)
        {
            if (!Convert(b.Jt!, mark, output, ref tail))
                return false;
        }
        else if (!b.IsReturn)
        {
            if (!Convert(b.Jf!, mark, output, ref tail) || !Convert(b.Jt!, mark, output, ref tail))
                return false;
        }
        int size = b.Stmts.Count + 1 + (b.LongJt ? 1 : 0) + (b.LongJf ? 1 : 0);
        tail -= size;
        b.Offset = tail;
        int at = tail;
        foreach (var s in b.Stmts)
            output[at++] = s;
        if (b.IsReturn)
        {
            output[at] = CbpfInstruction.Stmt(b.Code, b.K);
            return true;
        }
        int jumpAt = at;
        if (b.IsUncond)
        {
            output[jumpAt] = CbpfInstruction.Stmt(Bpf.JMP | Bpf.JA, (uint)(b.Jt!.Offset - jumpAt - 1));
            return true;
        }
        int extra = 0;
        int offT = b.Jt!.Offset - jumpAt - 1;
        int offF = b.Jf!.Offset - jumpAt - 1;
        byte jt, jf;
        if (offT > 255 || b.LongJt)
        {
            if (!b.LongJt)
            {
                b.LongJt = true;
                return false;
            }
            jt = (byte)extra;
            extra++;
            output[jumpAt + extra] = CbpfInstruction.Stmt(Bpf.JMP | Bpf.JA, (uint)(offT - extra));
        }
        else
            jt = (byte)offT;
        if (offF > 255 || b.LongJf)
        {
            if (!b.LongJf)
            {
                b.LongJf = true;
                return false;
            }
            jf = (byte)extra;
            extra++;
            output[jumpAt + extra] = CbpfInstruction.Stmt(Bpf.JMP | Bpf.JA, (uint)(offF - extra));
        }
        else
            jf = (byte)offF;
        output[jumpAt] = new CbpfInstruction(b.Code, jt, jf, b.K);
        return true;
    }
}
