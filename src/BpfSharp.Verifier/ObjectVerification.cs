using System.Globalization;
using BpfSharp.Elf;
using BpfSharp.Elf.Btf;
using BpfSharp.Isa;

namespace BpfSharp.Verifier;

public static partial class Verifier
{
    /// <summary>
    /// Verifies one program of an ELF object as the kernel would after libbpf loaded it: the object's maps become
    /// <see cref="VerifierOptions.Maps"/> (same indices as <see cref="BpfObject.Maps"/>), each <c>lddw</c> map
    /// reference is patched to name its map by index, the program type comes from the section name (falling back to
    /// <paramref name="options"/>' type when the section implies none), and BTF line_info labels errors and the log
    /// with C source lines.
    /// </summary>
    /// <remarks>
    /// Programs that need what this verifier does not model (kfunc calls, <c>__ksym</c> externs, program types
    /// without a known context) are rejected with <see cref="VerifierErrorCode.Unsupported"/>.
    /// </remarks>
    public static VerificationResult Verify(BpfObject obj, ProgramSpec program, VerifierOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(obj);
        ArgumentNullException.ThrowIfNull(program);
        options ??= new VerifierOptions();

        var maps = new VerifierMap[obj.Maps.Count];
        for (int i = 0; i < maps.Length; i++)
        {
            MapSpec m = obj.Maps[i];
            maps[i] = new VerifierMap((VerifierMapKind)m.Type, (int)Math.Min(m.KeySize, int.MaxValue),
                (int)Math.Min(m.ValueSize, int.MaxValue), (int)Math.Min(m.MaxEntries, int.MaxValue), m.Name);
        }

        Func<int, string?>? source = program.LineInfos.Count == 0 ? null : pc => program.FindLine(pc) is { } line ? Describe(line) : null;
        if (program.ExternReferences.Count > 0)
        {
            ExternReference e = program.ExternReferences[0];
            return Unsupported(program, e.InstructionIndex, $"extern symbol {e.SymbolName} ({e.Kind}) is not supported", source);
        }
        ProgramType? type = ToProgramType(program.Type) ?? (program.Type == BpfProgramType.Unspecified ? options.ProgramType : null);
        if (type is not { } programType)
            return Unsupported(program, 0, $"program type {program.Type} is not supported by this verifier", source);

        RawInstruction[] raw = program.ToArray();
        foreach (MapReference reference in program.MapReferences)
        {
            int i = reference.InstructionIndex;
            if ((uint)i + 1 >= (uint)raw.Length || (uint)reference.MapIndex >= (uint)maps.Length)
                return Unsupported(program, Math.Clamp(i, 0, Math.Max(raw.Length - 1, 0)),
                    $"map reference to map {reference.MapIndex} at instruction {i} is out of range", source);
            RawInstruction first = raw[i], second = raw[i + 1];
            byte src = reference.Kind == MapReferenceKind.MapFd ? (byte)LoadImm64Source.MapFd : (byte)LoadImm64Source.MapValue;
            raw[i] = new RawInstruction(first.Opcode, first.Dst, src, first.Offset, reference.MapIndex);
            raw[i + 1] = new RawInstruction(second.Opcode, second.Dst, second.Src, second.Offset,
                reference.Kind == MapReferenceKind.MapFd ? 0 : unchecked((int)reference.Offset));
        }

        BpfProgram code;
        try
        {
            code = BpfProgram.FromRaw(raw, program.Name);
        }
        catch (BpfDecodeException e)
        {
            return Unsupported(program, 0, e.Message, source);
        }
        return Verify(code, new VerifierOptions
        {
            ProgramType = programType,
            Privileged = options.Privileged,
            Maps = maps,
            Log = options.Log,
            InstructionLimit = options.InstructionLimit,
            SourceLine = options.SourceLine ?? source,
        });
    }

    /// <summary>The verifier's program type for an ELF section's type, or null when the verifier has no rules for it.</summary>
    public static ProgramType? ToProgramType(BpfProgramType type) => type switch
    {
        BpfProgramType.SocketFilter => ProgramType.SocketFilter,
        BpfProgramType.Kprobe => ProgramType.Kprobe,
        BpfProgramType.SchedCls or BpfProgramType.SchedAct => ProgramType.SchedCls, // same context and rules
        BpfProgramType.Tracepoint => ProgramType.Tracepoint,
        BpfProgramType.Xdp => ProgramType.Xdp,
        BpfProgramType.CgroupSkb => ProgramType.CgroupSkb,
        _ => null,
    };

    private static string Describe(BtfLineInfo line) =>
        string.Create(CultureInfo.InvariantCulture, $"{line.FileName}:{line.Line}: {line.LineText.Trim()}");

    private static VerificationResult Unsupported(ProgramSpec program, int pc, string message, Func<int, string?>? source)
    {
        var error = new VerifierError(VerifierErrorCode.Unsupported, pc, message, "", "", []) { Source = source?.Invoke(pc) };
        return new VerificationResult(error, 0, 0, TimeSpan.Zero, message + "\n", new bool[program.InstructionCount]);
    }
}
