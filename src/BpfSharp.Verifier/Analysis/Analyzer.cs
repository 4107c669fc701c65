using System.Diagnostics;
using System.Globalization;
using System.Text;
using BpfSharp.Isa;
using BpfSharp.Verifier.Domains;

namespace BpfSharp.Verifier.Analysis;

/// <summary>
/// The abstract interpreter: explores every path of the program depth-first from the entry, one instruction at a
/// time, checking each instruction's safety conditions in the current abstract state and computing the next state.
/// Paths that reach a branch target in a state covered by one already explored there are pruned.
/// </summary>
internal sealed partial class Analyzer
{
    private const int MaxCallDepth = 8;
    private const int MaxStatesPerInstruction = 64;
    private const long MaxVariableOffset = 1L << 29;

    private readonly BpfProgram _program;
    private readonly VerifierOptions _options;
    private readonly StringBuilder? _log;
    private readonly bool[] _prunePoints;
    private readonly Dictionary<int, List<StoredState>> _seen = [];
    private readonly bool[] _reached;
    private int _processed;
    private int _storedStates;
    private int _peakStates;

    private sealed class StoredState(AbstractState state)
    {
        public AbstractState State { get; } = state;
    }

    // The stored states on the way to the current instruction, to tell a loop that repeats a state exactly.
    private sealed class PathNode(StoredState stored, PathNode? parent)
    {
        public StoredState Stored { get; } = stored;
        public PathNode? Parent { get; } = parent;
    }

    private readonly record struct Work(int Pc, AbstractState State, PathNode? Ancestors);

    private sealed class VerificationFailure(VerifierError error) : Exception(error.Message)
    {
        public VerifierError Error { get; } = error;
    }

    public Analyzer(BpfProgram program, VerifierOptions options)
    {
        _program = program;
        _options = options;
        _log = options.Log ? new StringBuilder() : null;
        _prunePoints = new bool[program.Count];
        _reached = new bool[program.Count];
    }

    public VerificationResult Run()
    {
        var clock = Stopwatch.StartNew();
        VerifierError? error = null;
        try
        {
            if (_program.Count == 0)
                throw Failure(VerifierErrorCode.FallThroughEnd, 0, "last insn is not an exit or jmp", null);
            var structural = ControlFlow.Check(_program, _options.Privileged, _prunePoints, _options.CodeFragment);
            if (structural is { } s)
                throw Failure(s.Code, s.Pc, s.Message, null);
            bool hasLocalCalls = false;
            for (int i = 0; i < _program.Count && !hasLocalCalls; i++)
                hasLocalCalls = _program[i].Op == Op.CallLocal;
            // The soundness property tests observe every explored state, so they need exact pruning.
            _relevant = _options.StepObserver != null
                ? AllRelevant(_program.Count)
                : Relevance.Compute(_program, hasLocalCalls || ProgramTypes.ReturnRange(_options.ProgramType) != null);
            _live = _options.StepObserver != null ? AllRelevant(_program.Count) : Relevance.Compute(_program, true, livenessOnly: true);
            Explore();
        }
        catch (VerificationFailure failure)
        {
            error = failure.Error;
            if (_log != null)
                LogSourceLine(error.Pc);
            _log?.Append(error.Pc).Append(": ").Append(error.Instruction).Append('\n').Append(error.Message).Append('\n');
        }
        _log?.Append(CultureInfo.InvariantCulture,
            $"processed {_processed} insns (limit {_options.InstructionLimit}) max_states_per_insn {MaxStoredAtOnePc()} total_states {_storedStates} peak_states {_peakStates} mark_read 0\n");
        return new VerificationResult(error, _processed, _peakStates, clock.Elapsed, _log?.ToString() ?? "", _reached);
    }

    private int MaxStoredAtOnePc()
    {
        int max = 0;
        foreach (var list in _seen.Values)
            max = Math.Max(max, list.Count);
        return max;
    }

    private AbstractState InitialState()
    {
        var state = new AbstractState();
        var frame = new Frame { Depth = 0 };
        for (int r = 0; r < 11; r++)
            frame.Registers[r] = RegisterState.NotInit;
        frame.Registers[1] = RegisterState.Pointer(RegType.Ctx);
        if (_options.EntryRegisters is { } entry)
        {
            for (int r = 0; r < 10; r++)
                frame.Registers[r] = r < entry.Count ? entry[r] : RegisterState.NotInit;
        }
        frame.Registers[10] = RegisterState.Pointer(RegType.Stack);
        if (_options.EntryStack is { } stack)
        {
            for (int i = 0; i < Frame.StackSize && i < stack.Count; i++)
                frame.Stack[i] = stack[i] == StackByte.Spill ? StackByte.Misc : stack[i];
        }
        for (int i = 0; i < frame.Spills.Length; i++)
            frame.Spills[i] = RegisterState.NotInit;
        state.Frames.Add(frame);
        return state;
    }

    private void Explore()
    {
        var work = new Stack<Work>();
        work.Push(new Work(0, InitialState(), null));
        while (work.Count > 0)
        {
            var (pc, state, ancestors) = work.Pop();
            while (pc >= 0)
            {
                if (pc >= _program.Count)
                    break; // a code fragment's end: ControlFlow admits it only in fragment mode
                if (_prunePoints[pc])
                {
                    if (IsCovered(pc, state, ancestors))
                        break;
                    ancestors = Remember(pc, state, ancestors);
                }
                _reached[pc] = true;
                if (++_processed > _options.InstructionLimit)
                    throw Failure(VerifierErrorCode.ProgramTooLarge, pc, $"BPF program is too large. Processed {_processed} insn", state);
                if (_log != null)
                    LogSourceLine(pc);
                if (_log != null)
                    _log.Append(pc).Append(": ").Append(state.Describe()).Append('\n').Append(pc).Append(": ").Append(Format(pc)).Append('\n');
                _options.StepObserver?.Invoke(pc, state);
                pc = Step(pc, state, work, ancestors);
            }
        }
    }

    private bool IsCovered(int pc, AbstractState state, PathNode? ancestors)
    {
        if (!_seen.TryGetValue(pc, out var list))
            return false;
        foreach (StoredState stored in list)
        {
            ushort relevant = _relevant[pc], live = _live[pc];
            if (!state.IsSubsetOf(stored.State, relevant, live))
                continue;
            if (!IsAncestor(stored, ancestors))
                return true;
            // Covered by a state on this very path: prune only an exact repeat, which can loop forever.
            if (stored.State.IsSubsetOf(state, relevant, live))
                throw Failure(VerifierErrorCode.InfiniteLoop, pc, $"infinite loop detected at insn {pc}", state);
        }
        return false;
    }

    private static bool IsAncestor(StoredState stored, PathNode? ancestors)
    {
        for (PathNode? n = ancestors; n != null; n = n.Parent)
        {
            if (ReferenceEquals(n.Stored, stored))
                return true;
        }
        return false;
    }

    private PathNode? Remember(int pc, AbstractState state, PathNode? ancestors)
    {
        if (!_seen.TryGetValue(pc, out var list))
            _seen[pc] = list = [];
        if (list.Count >= MaxStatesPerInstruction)
            return ancestors;
        var stored = new StoredState(state.Clone());
        list.Add(stored);
        _storedStates++;
        _peakStates = Math.Max(_peakStates, _storedStates);
        return new PathNode(stored, ancestors);
    }

    private VerificationFailure Failure(VerifierErrorCode code, int pc, string message, AbstractState? state) =>
        new(new VerifierError(code, pc, message, pc < _program.Count ? Format(pc) : "", state?.Describe() ?? "",
            state == null ? [] : [.. state.Path]) { Source = _options.SourceLine?.Invoke(pc) });

    private string? _lastLoggedSource;
    private ushort[] _relevant = [];
    private ushort[] _live = [];

    private static ushort[] AllRelevant(int count)
    {
        var all = new ushort[count];
        Array.Fill(all, (ushort)0xFFFF);
        return all;
    }

    // The kernel prints "; <source line>" whenever the line_info in effect changes along the explored path.
    private void LogSourceLine(int pc)
    {
        if (_options.SourceLine?.Invoke(pc) is not { } source || source == _lastLoggedSource)
            return;
        _lastLoggedSource = source;
        _log!.Append("; ").Append(source).Append('\n');
    }

    /// <summary>Kernel-log style instruction text: <c>(bf) mov r1, r6</c>.</summary>
    private string Format(int pc)
    {
        Instruction insn = _program[pc];
        OpInfo info = insn.Info;
        string text = info.Kind switch
        {
            InstructionKind.Alu or InstructionKind.Endian => info.RegisterSource ? $"{info.Mnemonic} r{insn.Dst}, r{insn.Src}"
                : info.Alu is AluOp.Neg || info.Kind == InstructionKind.Endian ? $"{info.Mnemonic} r{insn.Dst}" : $"{info.Mnemonic} r{insn.Dst}, {insn.Imm}",
            InstructionKind.CondJump => info.RegisterSource ? $"{info.Mnemonic} r{insn.Dst}, r{insn.Src}, {insn.Offset:+0;-0}"
                : $"{info.Mnemonic} r{insn.Dst}, {insn.Imm}, {insn.Offset:+0;-0}",
            InstructionKind.Jump => $"{info.Mnemonic} {(insn.Op == Op.Ja32 ? insn.Imm32 : insn.Offset):+0;-0}",
            InstructionKind.Load => $"{info.Mnemonic} r{insn.Dst}, [r{insn.Src}{insn.Offset:+0;-0}]",
            InstructionKind.StoreImm => $"{info.Mnemonic} [r{insn.Dst}{insn.Offset:+0;-0}], {insn.Imm}",
            InstructionKind.StoreReg or InstructionKind.Atomic => $"{info.Mnemonic} [r{insn.Dst}{insn.Offset:+0;-0}], r{insn.Src}",
            InstructionKind.Call => insn.Op == Op.Call && HelperPrototypes.Find(insn.Imm32) is { } proto
                ? $"call bpf_{proto.Name}#{insn.Imm32}" : $"{info.Mnemonic} {insn.Imm}",
            InstructionKind.LoadImm64 => $"{info.Mnemonic} r{insn.Dst}, 0x{insn.Imm:x}",
            _ => info.Mnemonic,
        };
        return string.Create(CultureInfo.InvariantCulture, $"({info.Opcode:x2}) {text}");
    }
}
