using System.Runtime.InteropServices;
using BpfSharp.Elf;
using BpfSharp.Isa;
using BpfSharp.Maps;
using BpfSharp.Runtime.Contexts;

namespace BpfSharp.Runtime.Hosting;

/// <summary>The result of running a program on a packet: r0 and the packet as the program left it.</summary>
/// <param name="ReturnValue">The low 32 bits of r0, as the kernel's bpf_prog_run returns them (XDP_PASS = 2, a socket filter's byte count...).</param>
/// <param name="Packet">The packet after the run (adjusted or rewritten by the program).</param>
public sealed record PacketRunResult(uint ReturnValue, byte[] Packet);

/// <summary>
/// A program of a <see cref="BpfRuntimeObject"/>, linked to the object's maps, context-converted for its program type
/// and prepared for the chosen engine. Runs are thread-safe: each thread gets its own stack and packet buffers.
/// </summary>
public sealed unsafe class RuntimeProgram : IDisposable
{
    private readonly BpfRuntimeObject _owner;
    private readonly MemoryRegion[] _globalDataRegions;
    private readonly ThreadLocal<ThreadState> _state;

    internal RuntimeProgram(BpfRuntimeObject owner, ProgramSpec spec)
    {
        _owner = owner;
        Spec = spec;
        var regions = new List<MemoryRegion>();
        var raw = spec.ToArray();
        foreach (var reference in spec.MapReferences)
        {
            if ((uint)reference.MapIndex >= (uint)owner.Maps.Count)
                throw new BpfLoadException($"{spec.Name}: map index {reference.MapIndex} out of range", reference.InstructionIndex);
            var map = owner.Maps[reference.MapIndex];
            ulong value;
            if (reference.Kind == MapReferenceKind.MapFd)
            {
                value = RunContext.MapHandleFor(reference.MapIndex);
            }
            else
            {
                if (map is not ArrayMap array || map.Spec.IsPerCpu)
                    throw new BpfLoadException($"{spec.Name}: a map value reference needs an array map, and {map.Name} is {map.Type}", reference.InstructionIndex);
                if (reference.Offset >= (uint)map.ValueSize)
                    throw new BpfLoadException($"{spec.Name}: offset {reference.Offset} is past the {map.ValueSize}-byte value of {map.Name}", reference.InstructionIndex);
                value = (ulong)array.Data + reference.Offset;
                var region = new MemoryRegion((ulong)array.Data, (ulong)map.ValueSize, RegionKind.MapValue, !map.IsReadOnlyForPrograms);
                if (!regions.Contains(region)) regions.Add(region);
            }
            int i = reference.InstructionIndex;
            var first = raw[i];
            raw[i] = new RawInstruction(first.Opcode, first.Dst, 0, 0, unchecked((int)value));
            raw[i + 1] = new RawInstruction(0, 0, 0, 0, unchecked((int)(value >> 32)));
        }
        _globalDataRegions = [.. regions];
        var program = BpfProgram.FromRaw(raw, spec.Name);
        Layout = spec.Type switch
        {
            BpfProgramType.Xdp => ContextLayout.Xdp,
            BpfProgramType.SocketFilter or BpfProgramType.SchedCls or BpfProgramType.SchedAct or BpfProgramType.CgroupSkb
                or BpfProgramType.SkSkb or BpfProgramType.LwtIn or BpfProgramType.LwtOut or BpfProgramType.LwtXmit => ContextLayout.SkBuff,
            _ => null,
        };
        Code = Layout is null ? program : ContextAccessRewriter.Rewrite(program, Layout);
        Executable = owner.Options.Engine(Code, owner.Helpers);
        _state = new ThreadLocal<ThreadState>(() => new ThreadState(this), trackAllValues: true);
    }

    /// <summary>The function name.</summary>
    public string Name => Spec.Name;

    /// <summary>What the object file says about the program (section, type, line info...).</summary>
    public ProgramSpec Spec { get; }

    /// <summary>The program as the engine runs it (maps linked, context accesses converted).</summary>
    public BpfProgram Code { get; }

    /// <summary>The engine's executable (also what program arrays hold for tail calls).</summary>
    public IBpfExecutable Executable { get; }

    /// <summary>The context layout of a packet program, or null for programs with a plain memory context.</summary>
    public ContextLayout? Layout { get; }

    /// <summary>Instructions the last run on this thread executed (all tail-called programs included).</summary>
    public long LastInstructionCount => _state.Value!.Run.InstructionsExecuted;

    /// <summary>Runs a packet program (XDP, socket filter, tc...) on a copy of <paramref name="packet"/>; returns r0's low 32 bits.</summary>
    public uint Run(ReadOnlySpan<byte> packet) => RunCore(packet, keepPacket: false).ReturnValue;

    /// <summary>Runs a packet program and returns r0 with the packet as the program left it.</summary>
    public PacketRunResult RunPacket(ReadOnlySpan<byte> packet) => RunCore(packet, keepPacket: true);

    private PacketRunResult RunCore(ReadOnlySpan<byte> packet, bool keepPacket)
    {
        if (Layout is null) throw new InvalidOperationException($"{Name} is a {Spec.Type} program; run it with RunWithContext");
        var state = _state.Value!;
        var pkt = state.Packet!;
        pkt.Load(packet);
        pkt.Prepare(state.Run);
        foreach (var r in _globalDataRegions) state.Run.AddRegion(r);
        uint r0 = Execute(state.Run, pkt.ContextAddress, 0);
        return new PacketRunResult(r0, keepPacket ? pkt.Packet.ToArray() : []);
    }

    /// <summary>Runs a program whose context is plain memory (tracepoint, raw tracepoint...): r1 = the memory, r2 = its length; returns r0's low 32 bits.</summary>
    public uint RunWithContext(Span<byte> context)
    {
        var state = _state.Value!;
        fixed (byte* p = context)
        {
            state.Run.SetRegions(_globalDataRegions);
            state.Run.HostState = null;
            if (context.Length > 0) state.Run.AddRegion(new MemoryRegion((ulong)p, (ulong)context.Length, RegionKind.Context, true));
            return Execute(state.Run, (ulong)p, (ulong)context.Length);
        }
    }

    // Programs return u32 to their hooks, as the kernel's bpf_prog_run does.
    private uint Execute(RunContext run, ulong r1, ulong r2)
    {
        using var epoch = BpfEpoch.Enter();
        run.TailCallCount = 0;
        run.PendingTailCall = null;
        run.RingbufReservations.Clear();
        run.CpuId = BpfCpu.Current % Math.Max(1, _owner.Options.CpuCount);
        ulong r0 = Executable.Run(run, r1, r2);
        long instructions = run.InstructionsExecuted;
        while (run.PendingTailCall is { } next)
        {
            run.PendingTailCall = null;
            r0 = next.Run(run, r1, r2);
            instructions += run.InstructionsExecuted;
        }
        run.InstructionsExecuted = instructions;
        // Records a program reserved and never submitted would leak ring space; the verifier forbids it, so discard them.
        foreach (var (address, ring) in run.RingbufReservations) ring.Discard((byte*)address, 0);
        run.RingbufReservations.Clear();
        return (uint)r0;
    }

    /// <summary>Frees the per-thread stacks and packet buffers (the owning object does this on dispose).</summary>
    public void Dispose()
    {
        foreach (var s in _state.Values) s.Dispose();
        _state.Dispose();
    }

    private sealed class ThreadState : IDisposable
    {
        public ThreadState(RuntimeProgram program)
        {
            Run = new RunContext
            {
                InstructionBudget = program._owner.Options.InstructionBudget,
                TraceSink = program._owner.Options.TraceSink,
            };
            foreach (var map in program._owner.Maps) Run.AddMap(map);
            if (program.Layout is not null) Packet = new PacketContext(program.Layout, program._owner.Options.MaxPacketLength);
        }

        public RunContext Run { get; }

        public PacketContext? Packet { get; }

        public void Dispose()
        {
            Run.Dispose();
            Packet?.Dispose();
        }
    }
}
