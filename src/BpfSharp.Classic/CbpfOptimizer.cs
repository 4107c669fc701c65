using BpfSharp.Classic.Filter;

namespace BpfSharp.Classic;

/// <summary>
/// A classic BPF optimizer in the spirit of libpcap's: value numbering with constant folding, redundant load
/// elimination, jump threading over blocks whose outcome is already known on an edge, dead-store elimination and
/// removal of unreachable or duplicate blocks.
/// </summary>
/// <remarks>
/// Like libpcap's optimizer, removing a load whose value is never used also removes its bounds check, so on a
/// truncated packet the optimized program may accept where the unoptimized one returned 0. Programs with backward
/// jumps (libpcap's <c>protochain</c>) are returned unchanged.
/// </remarks>
public static class CbpfOptimizer
{
    /// <summary>Returns an equivalent, usually shorter program.</summary>
    public static CbpfInstruction[] Optimize(CbpfInstruction[] program)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (program.Length == 0 || HasBackwardOrBadJumps(program))
            return program;
        var opt = new Optimizer(program);
        return opt.Run();
    }

    private static bool HasBackwardOrBadJumps(CbpfInstruction[] p)
    {
        for (int i = 0; i < p.Length; i++)
        {
            var insn = p[i];
            if (insn.Class != Bpf.JMP)
                continue;
            if (Bpf.Op(insn.Code) == Bpf.JA)
            {
                if (insn.K >= (uint)(p.Length - i - 1))
                    return true;
            }
            else if (i + 1 + insn.Jt >= p.Length || i + 1 + insn.Jf >= p.Length)
                return true;
        }
        return p[^1].Class != Bpf.RET;
    }

    /// <summary>Two blocks are interchangeable when they run the same statements and jump the same way to the
    /// same successor objects.</summary>
    private sealed class BlockShapeComparer : IEqualityComparer<OBlock>
    {
        public static readonly BlockShapeComparer Instance = new();

        public bool Equals(OBlock? x, OBlock? y)
        {
            if (ReferenceEquals(x, y))
                return true;
            if (x is null || y is null || x.Code != y.Code || x.K != y.K || x.Stmts.Count != y.Stmts.Count)
                return false;
            if (!x.IsRet && (!ReferenceEquals(x.Jt, y.Jt) || !ReferenceEquals(x.Jf, y.Jf)))
                return false;
            for (int i = 0; i < x.Stmts.Count; i++)
                if (x.Stmts[i].Code != y.Stmts[i].Code || x.Stmts[i].K != y.Stmts[i].K)
                    return false;
            return true;
        }

        public int GetHashCode(OBlock b)
        {
            var h = new HashCode();
            h.Add(b.Code);
            h.Add(b.K);
            foreach (var insn in b.Stmts)
            {
                h.Add(insn.Code);
                h.Add(insn.K);
            }
            if (!b.IsRet)
            {
                h.Add(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(b.Jt!));
                h.Add(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(b.Jf!));
            }
            return h.ToHashCode();
        }
    }

    private sealed class OBlock
    {
        public readonly List<CbpfInstruction> Stmts = new();
        public ushort Code;  // conditional jump, JA, or RET
        public uint K;
        public OBlock? Jt, Jf;
        public int Start;
        public int Order;
        public int Visited;
        public int JumpIndex = -1;
        public bool IsRet => Bpf.Class(Code) == Bpf.RET;
        public bool IsUncond => !IsRet && Bpf.Op(Code) == Bpf.JA;
    }

    // Symbolic values: interned tuples (kind, a, b, c) -> value number.
    private enum VKind { Const, Load, LoadInd, Msh, Len, Alu, Unknown }

    private sealed class Optimizer
    {
        private readonly CbpfInstruction[] _program;
        private readonly Dictionary<(VKind, long, long, long), int> _values = new();
        private readonly List<(VKind Kind, long A, long B, long C)> _valueDefs = new();
        private int _unknownSeed;
        private List<OBlock> _blocks = new();
        private OBlock _root = null!;

        public Optimizer(CbpfInstruction[] program) => _program = program;

        private int V(VKind kind, long a = 0, long b = 0, long c = 0)
        {
            var key = (kind, a, b, c);
            if (!_values.TryGetValue(key, out int vn))
            {
                vn = _valueDefs.Count;
                _valueDefs.Add(key);
                _values[key] = vn;
            }
            return vn;
        }

        private int Const(uint k) => V(VKind.Const, k);
        // Unknowns are unique by construction, so they skip the intern table (the optimizer makes many of them).
        private int Unknown()
        {
            int vn = _valueDefs.Count;
            _valueDefs.Add((VKind.Unknown, ++_unknownSeed, 0, 0));
            return vn;
        }
        private bool IsConst(int vn, out uint k)
        {
            var d = _valueDefs[vn];
            k = (uint)d.A;
            return d.Kind == VKind.Const;
        }

        // ------------------------------------------------------------ CFG

        private void Build()
        {
            int n = _program.Length;
            var leader = new bool[n + 1];
            leader[0] = true;
            for (int i = 0; i < n; i++)
            {
                var insn = _program[i];
                if (insn.Class == Bpf.RET)
                    leader[i + 1] = true;
                else if (insn.Class == Bpf.JMP)
                {
                    leader[i + 1] = true;
                    if (Bpf.Op(insn.Code) == Bpf.JA)
                        leader[i + 1 + (int)insn.K] = true;
                    else
                    {
                        leader[i + 1 + insn.Jt] = true;
                        leader[i + 1 + insn.Jf] = true;
                    }
                }
            }
            var byStart = new Dictionary<int, OBlock>();
            OBlock? cur = null;
            for (int i = 0; i < n; i++)
            {
                if (leader[i])
                {
                    cur = new OBlock { Start = i };
                    byStart[i] = cur;
                    _blocks.Add(cur);
                }
                var insn = _program[i];
                if (insn.Class is Bpf.RET or Bpf.JMP)
                {
                    cur!.Code = insn.Code;
                    cur.K = insn.K;
                    cur.JumpIndex = i;
                }
                else
                {
                    cur!.Stmts.Add(insn);
                    if (leader[i + 1])
                    {
                        // Falls through into the next leader: make it an explicit unconditional jump.
                        cur.Code = Bpf.JMP | Bpf.JA;
                        cur.K = 0;
                    }
                }
            }
            foreach (var b in _blocks)
            {
                if (b.IsRet)
                    continue;
                if (b.JumpIndex < 0)
                {
                    b.Jt = b.Jf = byStart[b.Start + b.Stmts.Count];
                    continue;
                }
                var last = _program[b.JumpIndex];
                if (b.IsUncond)
                    b.Jt = b.Jf = byStart[b.JumpIndex + 1 + (int)last.K];
                else
                {
                    b.Jt = byStart[b.JumpIndex + 1 + last.Jt];
                    b.Jf = byStart[b.JumpIndex + 1 + last.Jf];
                }
            }
            _root = _blocks[0];
        }

        private int _visitEpoch;

        private List<OBlock> TopoOrder()
        {
            var order = new List<OBlock>(_blocks.Count);
            int epoch = ++_visitEpoch; // a block is visited in this walk when its mark equals the epoch
            Visit(_root);
            order.Reverse();
            for (int i = 0; i < order.Count; i++)
                order[i].Order = i;
            return order;

            void Visit(OBlock b)
            {
                if (b.Visited == epoch)
                    return;
                b.Visited = epoch;
                if (!b.IsRet)
                {
                    Visit(b.Jt!);
                    Visit(b.Jf!);
                }
                order.Add(b);
            }
        }

        // ------------------------------------------------------------ abstract state

        private readonly record struct Fact(int Vn, ushort Code, uint K, bool Outcome);

        private sealed class State
        {
            public int A, X;
            public readonly int[] M = new int[Bpf.MemWords];
            // Every absolute load ending at or before this offset is known to succeed on this path.
            public uint SafeEnd;
            // Branch outcomes known on this path (value, jump code, operand, outcome). Small: a linear list is
            // far cheaper than hashed collections here.
            public Fact[] Facts = Array.Empty<Fact>();

            public State Clone()
            {
                var s = new State { A = A, X = X, SafeEnd = SafeEnd, Facts = Facts };
                Array.Copy(M, s.M, M.Length);
                return s;
            }

            public bool TryGetEq(int vn, out uint k)
            {
                foreach (var f in Facts)
                {
                    if (f.Vn == vn && f.Outcome && f.Code == (Bpf.JMP | Bpf.JEQ))
                    {
                        k = f.K;
                        return true;
                    }
                }
                k = 0;
                return false;
            }

            public void Add(Fact f)
            {
                if (Array.IndexOf(Facts, f) >= 0)
                    return;
                var n = new Fact[Facts.Length + 1];
                Facts.CopyTo(n, 0);
                n[^1] = f;
                Facts = n; // copy-on-write: clones share the array until one of them learns something
            }
        }

        private State Entry()
        {
            var s = new State { A = Const(0), X = Const(0) };
            for (int i = 0; i < s.M.Length; i++)
                s.M[i] = Unknown();
            return s;
        }

        private State Meet(State a, State b)
        {
            var s = new State
            {
                A = a.A == b.A ? a.A : Unknown(),
                X = a.X == b.X ? a.X : Unknown(),
                SafeEnd = Math.Min(a.SafeEnd, b.SafeEnd),
            };
            for (int i = 0; i < s.M.Length; i++)
                s.M[i] = a.M[i] == b.M[i] ? a.M[i] : Unknown();
            if (ReferenceEquals(a.Facts, b.Facts))
                s.Facts = a.Facts;
            else
            {
                var common = new List<Fact>();
                foreach (var f in a.Facts)
                    if (Array.IndexOf(b.Facts, f) >= 0)
                        common.Add(f);
                s.Facts = common.ToArray();
            }
            return s;
        }

        private int ResolveConst(State s, int vn) => s.TryGetEq(vn, out uint k) ? Const(k) : vn;

        /// <summary>Symbolically executes one statement; returns the rewritten statement or null to delete it.</summary>
        private CbpfInstruction? Step(State s, CbpfInstruction insn)
        {
            ushort code = insn.Code;
            uint k = insn.K;
            switch (Bpf.Class(code))
            {
                case Bpf.LD:
                case Bpf.LDX:
                    {
                        bool toX = Bpf.Class(code) == Bpf.LDX;
                        int v;
                        var rewritten = insn;
                        switch (Bpf.Mode(code))
                        {
                            case Bpf.ABS: v = V(VKind.Load, Bpf.Size(code), k); break;
                            case Bpf.IND:
                                if (IsConst(ResolveConst(s, s.X), out uint xk) && (ulong)xk + k <= uint.MaxValue && (ulong)xk + k < Bpf.SkfAdOff)
                                {
                                    rewritten = CbpfInstruction.Stmt((ushort)(Bpf.LD | Bpf.ABS | Bpf.Size(code)), xk + k);
                                    v = V(VKind.Load, Bpf.Size(code), xk + k);
                                }
                                else
                                    v = V(VKind.LoadInd, Bpf.Size(code), k, s.X);
                                break;
                            case Bpf.MSH: v = V(VKind.Msh, k); break;
                            case Bpf.LEN: v = V(VKind.Len); break;
                            case Bpf.IMM: v = Const(k); break;
                            case Bpf.MEM:
                                v = ResolveConst(s, s.M[k & 15]);
                                if (IsConst(v, out uint mk))
                                    rewritten = CbpfInstruction.Stmt(toX ? (ushort)(Bpf.LDX | Bpf.IMM) : (ushort)(Bpf.LD | Bpf.IMM), mk);
                                break;
                            default: v = Unknown(); break;
                        }
                        if (Bpf.Mode(rewritten.Code) is Bpf.ABS or Bpf.MSH && rewritten.K < Bpf.SkfAdOff)
                        {
                            uint width = Bpf.Mode(rewritten.Code) == Bpf.MSH ? 1u : Bpf.Size(rewritten.Code) == Bpf.W ? 4u : Bpf.Size(rewritten.Code) == Bpf.H ? 2u : 1u;
                            ulong end = (ulong)rewritten.K + width;
                            if (end > s.SafeEnd && end <= uint.MaxValue)
                                s.SafeEnd = (uint)end;
                        }
                        ref int reg = ref toX ? ref s.X : ref s.A;
                        if (reg == v || ResolveConst(s, reg) == v)
                            return null;
                        reg = v;
                        return rewritten;
                    }
                case Bpf.ST:
                    if (s.M[k & 15] == s.A)
                        return null;
                    s.M[k & 15] = s.A;
                    return insn;
                case Bpf.STX:
                    if (s.M[k & 15] == s.X)
                        return null;
                    s.M[k & 15] = s.X;
                    return insn;
                case Bpf.MISC:
                    if (Bpf.MiscOp(code) == Bpf.TAX)
                    {
                        if (s.X == s.A) return null;
                        s.X = s.A;
                    }
                    else
                    {
                        if (s.A == s.X) return null;
                        s.A = s.X;
                    }
                    return insn;
                case Bpf.ALU:
                    {
                        int op = Bpf.Op(code);
                        if (op == Bpf.NEG)
                        {
                            int av = ResolveConst(s, s.A);
                            if (IsConst(av, out uint ac))
                            {
                                uint r = (uint)-(int)ac;
                                s.A = Const(r);
                                return CbpfInstruction.Stmt(Bpf.LD | Bpf.IMM, r);
                            }
                            s.A = V(VKind.Alu, op, s.A, 0);
                            return insn;
                        }
                        int operand;
                        if (Bpf.Src(code) == Bpf.X)
                        {
                            operand = ResolveConst(s, s.X);
                            if (IsConst(operand, out uint xk) && !((op == Bpf.DIV || op == Bpf.MOD) && xk == 0)
                                && !((op == Bpf.LSH || op == Bpf.RSH) && xk >= 32))
                                insn = CbpfInstruction.Stmt((ushort)(Bpf.ALU | op | Bpf.K), xk);
                        }
                        else
                            operand = Const(k);
                        bool operandConst = IsConst(operand, out uint kc);
                        if (Bpf.Src(insn.Code) == Bpf.K && operandConst)
                        {
                            // Identities leave A unchanged.
                            if ((kc == 0 && op is Bpf.ADD or Bpf.SUB or Bpf.OR or Bpf.XOR or Bpf.LSH or Bpf.RSH) || (kc == 1 && op is Bpf.MUL or Bpf.DIV))
                                return null;
                            if (kc == 0 && op is Bpf.AND or Bpf.MUL)
                            {
                                s.A = Const(0);
                                return CbpfInstruction.Stmt(Bpf.LD | Bpf.IMM, 0);
                            }
                            int av = ResolveConst(s, s.A);
                            if (IsConst(av, out uint ac) && !((op == Bpf.DIV || op == Bpf.MOD) && kc == 0))
                            {
                                uint r = CbpfInterpreter.Alu(op, ac, kc);
                                s.A = Const(r);
                                return CbpfInstruction.Stmt(Bpf.LD | Bpf.IMM, r);
                            }
                        }
                        s.A = V(VKind.Alu, op, s.A, operand);
                        return insn;
                    }
                default:
                    return insn;
            }
        }

        /// <summary>The outcome of a block's jump under the state, or null if unknown.</summary>
        private bool? Decide(State s, OBlock b, out ushort code, out uint k)
        {
            code = b.Code;
            k = b.K;
            if (Bpf.Src(code) == Bpf.X)
            {
                int xv = ResolveConst(s, s.X);
                if (!IsConst(xv, out uint xk))
                    return null;
                code = (ushort)(code & ~Bpf.X);
                k = xk;
            }
            int av = ResolveConst(s, s.A);
            if (IsConst(av, out uint ac))
                return Eval(Bpf.Op(code), ac, k);
            if (Bpf.Op(code) == Bpf.JEQ)
            {
                foreach (var f in s.Facts)
                    if (f.Vn == s.A && f.Code == (Bpf.JMP | Bpf.JEQ) && f.K == k)
                        return f.Outcome;
            }
            foreach (var f in s.Facts)
                if (f.Vn == s.A && f.Code == code && f.K == k)
                    return f.Outcome;
            return null;
        }

        private static bool Eval(int op, uint a, uint k) => op switch
        {
            Bpf.JEQ => a == k,
            Bpf.JGT => a > k,
            Bpf.JGE => a >= k,
            _ => (a & k) != 0,
        };

        private static void Learn(State s, ushort code, uint k, bool outcome)
        {
            if (Bpf.Src(code) == Bpf.X)
                return;
            s.Add(new Fact(s.A, (ushort)(Bpf.JMP | Bpf.Op(code)), k, outcome));
        }

        /// <summary>Runs a block's statements on a copy of the state; null if any statement would change something.</summary>
        private State? RunIfNoOp(State entry, OBlock b)
        {
            var s = entry.Clone();
            foreach (var insn in b.Stmts)
            {
                if (Step(s, insn) is not null)
                    return null;
            }
            return s;
        }

        /// <summary>Runs a block whose statements cannot fail on this path (every packet load is within bytes already
        /// loaded successfully, no division by an unknown X); null if some statement might fail.</summary>
        private State? RunIfPure(State entry, OBlock b)
        {
            var s = entry.Clone();
            foreach (var insn in b.Stmts)
            {
                ushort code = insn.Code;
                int cls = Bpf.Class(code);
                if (cls is Bpf.LD or Bpf.LDX)
                {
                    int mode = Bpf.Mode(code);
                    if (mode == Bpf.IND && !IsConst(ResolveConst(s, s.X), out _))
                        return null;
                    if (mode is Bpf.ABS or Bpf.MSH or Bpf.IND)
                    {
                        uint k = insn.K;
                        if (mode == Bpf.IND)
                        {
                            IsConst(ResolveConst(s, s.X), out uint xk);
                            if ((ulong)xk + k > uint.MaxValue)
                                return null;
                            k += xk;
                        }
                        uint width = mode == Bpf.MSH ? 1u : Bpf.Size(code) == Bpf.W ? 4u : Bpf.Size(code) == Bpf.H ? 2u : 1u;
                        if (k >= Bpf.SkfAdOff || (ulong)k + width > s.SafeEnd)
                            return null;
                    }
                }
                else if (cls == Bpf.ALU && Bpf.Src(code) == Bpf.X && Bpf.Op(code) is Bpf.DIV or Bpf.MOD)
                {
                    if (!IsConst(ResolveConst(s, s.X), out uint xk) || xk == 0)
                        return null;
                }
                Step(s, insn);
            }
            return s;
        }

        private static int ValueOf(State s, int reg) => reg == RegA ? s.A : reg == RegX ? s.X : s.M[reg - RegM];

        private State ExitState(State entry, OBlock b)
        {
            var s = entry.Clone();
            foreach (var insn in b.Stmts)
                Step(s, insn);
            return s;
        }

        // ------------------------------------------------------------ passes

        // Per-block data lives in arrays indexed by OBlock.Order (set by the latest TopoOrder): far cheaper than
        // hashing blocks, and every block reachable from the root has an index.
        private State?[] ComputeEntryStates(List<OBlock> order)
        {
            var entry = new State?[order.Count];
            entry[_root.Order] = Entry();
            foreach (var b in order)
            {
                var s = entry[b.Order];
                if (s is null || b.IsRet)
                    continue;
                var exit = ExitState(s, b);
                Propagate(b.Jt!, exit, b, true);
                if (!b.IsUncond)
                    Propagate(b.Jf!, exit, b, false);
            }
            return entry;

            void Propagate(OBlock target, State exit, OBlock from, bool outcome)
            {
                var st = exit.Clone();
                if (!from.IsUncond)
                    Learn(st, from.Code, from.K, outcome);
                var old = entry[target.Order];
                entry[target.Order] = old is null ? st : Meet(old, st);
            }
        }

        private bool ThreadJumps(List<OBlock> order, State?[] entry)
        {
            bool changed = false;
            var liveIn = new int[order.Count];
            Array.Fill(liveIn, ~0);
            for (int i = order.Count - 1; i >= 0; i--)
            {
                var b = order[i];
                if (!b.IsRet && entry[b.Order] is { } s)
                {
                    var exit = ExitState(s, b);
                    for (int side = 0; side < 2; side++)
                    {
                        if (b.IsUncond && side == 1)
                            break;
                        bool outcome = side == 0;
                        var edge = exit.Clone();
                        if (!b.IsUncond)
                            Learn(edge, b.Code, b.K, outcome);
                        var st = edge;
                        var target = outcome ? b.Jt! : b.Jf!;
                        var best = target;
                        int guard = 0;
                        while (!target.IsRet && guard++ < 10_000)
                        {
                            var after = RunIfPure(st, target);
                            if (after is null)
                                break;
                            bool? d = target.IsUncond ? true : Decide(after, target, out _, out _);
                            if (d is null)
                                break;
                            if (!target.IsUncond)
                                Learn(after, target.Code, target.K, d.Value);
                            st = after;
                            target = d.Value ? target.Jt! : target.Jf!;
                            // Skipping to here is sound only if every register the target reads holds the value it
                            // would have had after running the skipped blocks.
                            int live = liveIn[target.Order];
                            bool same = true;
                            for (int r = 0; r < RegM + Bpf.MemWords && same; r++)
                                if ((live & (1 << r)) != 0 && ValueOf(st, r) != ValueOf(edge, r))
                                    same = false;
                            if (same)
                                best = target;
                        }
                        var old = outcome ? b.Jt : b.Jf;
                        if (!ReferenceEquals(old, best))
                        {
                            if (outcome) b.Jt = best; else b.Jf = best;
                            if (b.IsUncond) b.Jf = best;
                            changed = true;
                        }
                    }
                }
                liveIn[b.Order] = LiveIn(b, liveIn);
            }
            return changed;
        }

        private static int LiveIn(OBlock b, int[] liveIn)
        {
            int live = JumpUses(b);
            if (!b.IsRet)
                live |= liveIn[b.Jt!.Order] | liveIn[b.Jf!.Order];
            for (int j = b.Stmts.Count - 1; j >= 0; j--)
            {
                var (uses, def) = UseDef(b.Stmts[j]);
                if (def >= 0)
                    live &= ~(1 << def);
                live |= uses;
            }
            return live;
        }

        private void SimplifyBlocks(List<OBlock> order, State?[] entry)
        {
            foreach (var b in order)
            {
                if (entry[b.Order] is not { } s)
                    continue;
                var st = s.Clone();
                var kept = new List<CbpfInstruction>(b.Stmts.Count);
                foreach (var insn in b.Stmts)
                {
                    var r = Step(st, insn);
                    if (r is { } keep)
                        kept.Add(keep);
                }
                b.Stmts.Clear();
                b.Stmts.AddRange(kept);
                if (b.IsRet || b.IsUncond)
                    continue;
                var d = Decide(st, b, out ushort code, out uint k);
                if (d is { } taken)
                {
                    var t = taken ? b.Jt! : b.Jf!;
                    b.Code = Bpf.JMP | Bpf.JA;
                    b.K = 0;
                    b.Jt = b.Jf = t;
                }
                else
                {
                    b.Code = code;
                    b.K = k;
                    if (b.Jt == b.Jf)
                    {
                        b.Code = Bpf.JMP | Bpf.JA;
                        b.K = 0;
                    }
                }
            }
        }

        // Registers: 0 = A, 1 = X, 2.. = M[0..15].
        private const int RegA = 0, RegX = 1, RegM = 2;

        private static (int Uses, int Def) UseDef(CbpfInstruction insn)
        {
            int uses = 0, def = -1;
            ushort code = insn.Code;
            switch (Bpf.Class(code))
            {
                case Bpf.LD:
                    def = RegA;
                    if (Bpf.Mode(code) == Bpf.IND) uses |= 1 << RegX;
                    if (Bpf.Mode(code) == Bpf.MEM) uses |= 1 << (RegM + (int)(insn.K & 15));
                    if (Bpf.Mode(code) == Bpf.ABS && insn.K >= Bpf.SkfAdOff) uses |= (1 << RegA) | (1 << RegX);
                    break;
                case Bpf.LDX:
                    def = RegX;
                    if (Bpf.Mode(code) == Bpf.MEM) uses |= 1 << (RegM + (int)(insn.K & 15));
                    break;
                case Bpf.ST: def = RegM + (int)(insn.K & 15); uses |= 1 << RegA; break;
                case Bpf.STX: def = RegM + (int)(insn.K & 15); uses |= 1 << RegX; break;
                case Bpf.ALU:
                    def = RegA;
                    uses |= 1 << RegA;
                    if (Bpf.Src(code) == Bpf.X && Bpf.Op(code) != Bpf.NEG) uses |= 1 << RegX;
                    break;
                case Bpf.MISC:
                    if (Bpf.MiscOp(code) == Bpf.TAX) { def = RegX; uses |= 1 << RegA; }
                    else { def = RegA; uses |= 1 << RegX; }
                    break;
            }
            return (uses, def);
        }

        private static int JumpUses(OBlock b)
        {
            if (b.IsRet)
                return b.Code == (Bpf.RET | Bpf.A) ? 1 << RegA : b.Code == (Bpf.RET | Bpf.X) ? 1 << RegX : 0;
            if (b.IsUncond)
                return 0;
            return (1 << RegA) | (Bpf.Src(b.Code) == Bpf.X ? 1 << RegX : 0);
        }

        private static void DeadStores(List<OBlock> order)
        {
            var liveIn = new int[order.Count];
            for (int i = order.Count - 1; i >= 0; i--)
            {
                var b = order[i];
                int live = JumpUses(b);
                if (!b.IsRet)
                {
                    live |= liveIn[b.Jt!.Order];
                    live |= liveIn[b.Jf!.Order];
                }
                var kept = new List<CbpfInstruction>(b.Stmts.Count);
                for (int j = b.Stmts.Count - 1; j >= 0; j--)
                {
                    var insn = b.Stmts[j];
                    var (uses, def) = UseDef(insn);
                    bool ancillary = Bpf.Class(insn.Code) == Bpf.LD && Bpf.Mode(insn.Code) == Bpf.ABS && insn.K >= Bpf.SkfAdOff;
                    if (def >= 0 && (live & (1 << def)) == 0 && !ancillary)
                        continue; // value never used: drop it (as libpcap does, including loads)
                    if (def >= 0)
                        live &= ~(1 << def);
                    live |= uses;
                    kept.Add(insn);
                }
                kept.Reverse();
                b.Stmts.Clear();
                b.Stmts.AddRange(kept);
                liveIn[b.Order] = live;
            }
        }

        private void BypassEmpty(List<OBlock> order)
        {
            OBlock Skip(OBlock t)
            {
                int guard = 0;
                while (t.IsUncond && t.Stmts.Count == 0 && guard++ < 100_000)
                    t = t.Jt!;
                return t;
            }
            foreach (var b in order)
            {
                if (b.IsRet)
                    continue;
                b.Jt = Skip(b.Jt!);
                b.Jf = Skip(b.Jf!);
                if (!b.IsUncond && b.Jt == b.Jf)
                {
                    b.Code = Bpf.JMP | Bpf.JA;
                    b.K = 0;
                }
            }
            _root = Skip(_root);
        }

        private void MergeDuplicates(List<OBlock> order)
        {
            var canon = new Dictionary<OBlock, OBlock>(BlockShapeComparer.Instance);
            var replace = new OBlock?[order.Count];
            for (int i = order.Count - 1; i >= 0; i--)
            {
                var b = order[i];
                if (!b.IsRet)
                {
                    b.Jt = replace[b.Jt!.Order] ?? b.Jt;
                    b.Jf = replace[b.Jf!.Order] ?? b.Jf;
                }
                if (canon.TryGetValue(b, out var existing))
                    replace[i] = existing;
                else
                    canon[b] = b;
            }
            _root = replace[_root.Order] ?? _root;
        }

        public CbpfInstruction[] Run()
        {
            Build();
            for (int pass = 0; pass < 8; pass++)
            {
                var order = TopoOrder();
                var entry = ComputeEntryStates(order);
                bool changed = ThreadJumps(order, entry);
                if (changed)
                {
                    // The graph moved: recompute. Otherwise the order and states just computed are still exact.
                    order = TopoOrder();
                    entry = ComputeEntryStates(order);
                }
                SimplifyBlocks(order, entry);
                order = TopoOrder();
                DeadStores(order);
                BypassEmpty(order);
                order = TopoOrder();
                MergeDuplicates(order);
                
                if (!changed && pass > 0)
                    break;
            }
            return Emit();
        }

        private CbpfInstruction[] Emit()
        {
            var order = TopoOrder();
            var map = new Dictionary<OBlock, Block>();
            int id = 0;
            foreach (var b in order)
                map[b] = new Block(id++);
            foreach (var b in order)
            {
                var nb = map[b];
                nb.Stmts.AddRange(b.Stmts);
                nb.Code = b.Code;
                nb.K = b.K;
                if (!b.IsRet)
                {
                    nb.Jt = map[b.Jt!];
                    nb.Jf = map[b.Jf!];
                }
            }
            return Linearizer.Emit(map[_root]);
        }
    }
}
