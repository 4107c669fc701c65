namespace BpfSharp.Isa;

/// <summary>
/// A structurally valid eBPF program: decoded instructions indexed by slot (an lddw's second slot holds
/// <see cref="Op.LddwHigh"/>, so a jump target is simply <c>pc + 1 + offset</c>) together with the raw slots.
/// </summary>
public sealed class BpfProgram
{
    private readonly Instruction[] _instructions;
    private readonly RawInstruction[] _raw;

    internal BpfProgram(Instruction[] instructions, RawInstruction[] raw, int[] functionStarts, string name)
    {
        _instructions = instructions;
        _raw = raw;
        FunctionStarts = functionStarts;
        Name = name;
    }

    /// <summary>Program name (function symbol or file name); informational.</summary>
    public string Name { get; }

    /// <summary>Decoded instructions, one per slot.</summary>
    public ReadOnlySpan<Instruction> Instructions => _instructions;

    /// <summary>The raw wire slots.</summary>
    public ReadOnlySpan<RawInstruction> Raw => _raw;

    /// <summary>Number of slots.</summary>
    public int Count => _instructions.Length;

    /// <summary>Slot indexes where functions start: 0 and every local call target, ascending.</summary>
    public IReadOnlyList<int> FunctionStarts { get; }

    /// <summary>The instruction at a slot.</summary>
    public Instruction this[int pc] => _instructions[pc];

    /// <summary>The bytes of the program (little-endian wire format).</summary>
    public byte[] ToBytes() => RawInstruction.ToBytes(_raw).ToArray();

    /// <summary>Decodes and validates little-endian bytecode; throws <see cref="BpfDecodeException"/> naming the instruction.</summary>
    public static BpfProgram FromBytes(ReadOnlySpan<byte> bytes, string name = "prog") => Decoder.Decode(bytes, name);

    /// <summary>Validates slots and decodes them; throws <see cref="BpfDecodeException"/> naming the instruction.</summary>
    public static BpfProgram FromRaw(ReadOnlySpan<RawInstruction> slots, string name = "prog") => Decoder.Decode(slots, name);

    /// <summary>Encodes and validates instructions (lddw counted as one entry); throws on invalid fields.</summary>
    public static BpfProgram FromInstructions(IEnumerable<Instruction> instructions, string name = "prog")
    {
        ArgumentNullException.ThrowIfNull(instructions);
        var raw = new List<RawInstruction>();
        Span<RawInstruction> two = stackalloc RawInstruction[2];
        foreach (var ins in instructions)
        {
            if (ins.Op == Op.LddwHigh) continue;
            int n = Encoder.Encode(ins, two);
            for (int i = 0; i < n; i++) raw.Add(two[i]);
        }
        return Decoder.Decode(raw.ToArray(), name);
    }
}
