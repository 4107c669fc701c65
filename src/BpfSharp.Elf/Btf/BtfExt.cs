namespace BpfSharp.Elf.Btf;

/// <summary>One <c>bpf_func_info</c> record: a function starts at an instruction.</summary>
/// <param name="InstructionIndex">Instruction index (in the section, or in a program once linked).</param>
/// <param name="TypeId">The FUNC type id in <c>.BTF</c>.</param>
public readonly record struct BtfFuncInfo(int InstructionIndex, int TypeId);

/// <summary>One <c>bpf_line_info</c> record: the C source line an instruction came from.</summary>
/// <param name="InstructionIndex">Instruction index (in the section, or in a program once linked).</param>
/// <param name="FileName">Source file name.</param>
/// <param name="LineText">The source line's text.</param>
/// <param name="Line">1-based line number.</param>
/// <param name="Column">1-based column (0 when unknown).</param>
public readonly record struct BtfLineInfo(int InstructionIndex, string FileName, string LineText, int Line, int Column);

/// <summary>CO-RE relocation kinds (<c>enum bpf_core_relo_kind</c>).</summary>
public enum CoreRelocationKind : uint
{
    /// <summary>Field byte offset.</summary>
    FieldByteOffset = 0,
    /// <summary>Field byte size.</summary>
    FieldByteSize = 1,
    /// <summary>Field existence.</summary>
    FieldExists = 2,
    /// <summary>Field signedness.</summary>
    FieldSigned = 3,
    /// <summary>Bitfield left shift.</summary>
    FieldLShiftU64 = 4,
    /// <summary>Bitfield right shift.</summary>
    FieldRShiftU64 = 5,
    /// <summary>Local type id.</summary>
    TypeIdLocal = 6,
    /// <summary>Target type id.</summary>
    TypeIdTarget = 7,
    /// <summary>Type existence.</summary>
    TypeExists = 8,
    /// <summary>Type size.</summary>
    TypeSize = 9,
    /// <summary>Enumerator existence.</summary>
    EnumValueExists = 10,
    /// <summary>Enumerator value.</summary>
    EnumValue = 11,
    /// <summary>Type matches.</summary>
    TypeMatches = 12,
}

/// <summary>One <c>bpf_core_relo</c> record, kept as data for a loader that targets a real kernel's BTF.</summary>
/// <param name="InstructionIndex">Instruction index (in the section, or in a program once linked).</param>
/// <param name="TypeId">Root local type id.</param>
/// <param name="AccessString">Access specification such as "0:1:2".</param>
/// <param name="Kind">What is relocated.</param>
public readonly record struct CoreRelocation(int InstructionIndex, int TypeId, string AccessString, CoreRelocationKind Kind);

/// <summary>
/// Parsed <c>.BTF.ext</c>: per-section function info, line info and CO-RE relocation records, with instruction
/// offsets converted from bytes to instruction indexes within the section.
/// </summary>
public sealed class BtfExt
{
    private BtfExt(Dictionary<string, List<BtfFuncInfo>> funcs, Dictionary<string, List<BtfLineInfo>> lines,
        Dictionary<string, List<CoreRelocation>> core)
    {
        FuncInfos = funcs.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<BtfFuncInfo>)kv.Value);
        LineInfos = lines.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<BtfLineInfo>)kv.Value);
        CoreRelocations = core.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<CoreRelocation>)kv.Value);
    }

    /// <summary>Function info by section name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<BtfFuncInfo>> FuncInfos { get; }

    /// <summary>Line info by section name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<BtfLineInfo>> LineInfos { get; }

    /// <summary>CO-RE relocations by section name.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<CoreRelocation>> CoreRelocations { get; }

    /// <summary>Parses a <c>.BTF.ext</c> section whose strings live in <paramref name="btf"/>.</summary>
    /// <exception cref="BpfObjectException">The data is malformed.</exception>
    public static BtfExt Parse(ReadOnlySpan<byte> data, Btf btf, bool bigEndian)
    {
        ArgumentNullException.ThrowIfNull(btf);
        const string Sec = ".BTF.ext";
        var r = new EndianReader(bigEndian);
        if (data.Length < 24)
            throw new BpfObjectException($"header needs at least 24 bytes, section has {data.Length}", Sec, null);
        if (r.U16(data, 0) != Btf.Magic)
            throw new BpfObjectException($"bad magic 0x{r.U16(data, 0):x4}", Sec, null);
        if (data[2] != 1)
            throw new BpfObjectException($"unsupported version {data[2]}", Sec, null);
        uint hdrLen = r.U32(data, 4);
        if (hdrLen < 24 || hdrLen > (uint)data.Length)
            throw new BpfObjectException($"header length {hdrLen} is invalid for a {data.Length}-byte section", Sec, null);
        var body = data[(int)hdrLen..];

        var funcs = new Dictionary<string, List<BtfFuncInfo>>();
        var lines = new Dictionary<string, List<BtfLineInfo>>();
        var core = new Dictionary<string, List<CoreRelocation>>();
        ReadInfo(body, r.U32(data, 8), r.U32(data, 12), 8, "func_info", btf, r, (sec, rec) =>
            Add(funcs, sec, new BtfFuncInfo(InsnIndex(r.U32(rec, 0), "func_info", sec), ToId(r.U32(rec, 4)))));
        ReadInfo(body, r.U32(data, 16), r.U32(data, 20), 16, "line_info", btf, r, (sec, rec) =>
        {
            uint lineCol = r.U32(rec, 12);
            Add(lines, sec, new BtfLineInfo(InsnIndex(r.U32(rec, 0), "line_info", sec), Str(btf, r.U32(rec, 4)),
                Str(btf, r.U32(rec, 8)), (int)(lineCol >> 10), (int)(lineCol & 0x3ff)));
        });
        if (hdrLen >= 32)
        {
            ReadInfo(body, r.U32(data, 24), r.U32(data, 28), 16, "core_relo", btf, r, (sec, rec) =>
                Add(core, sec, new CoreRelocation(InsnIndex(r.U32(rec, 0), "core_relo", sec), ToId(r.U32(rec, 4)),
                    Str(btf, r.U32(rec, 8)), (CoreRelocationKind)r.U32(rec, 12))));
        }
        return new BtfExt(funcs, lines, core);
    }

    private delegate void RecordReader(string section, ReadOnlySpan<byte> record);

    private static void ReadInfo(ReadOnlySpan<byte> body, uint off, uint len, int minRecord, string what, Btf btf,
        EndianReader r, RecordReader read)
    {
        const string Sec = ".BTF.ext";
        if (len == 0) return;
        if (off > (uint)body.Length || len > (uint)body.Length - off)
            throw new BpfObjectException($"{what} (offset {off}, length {len}) extends past the end of the section", Sec, null);
        var s = body.Slice((int)off, (int)len);
        if (s.Length < 4) throw new BpfObjectException($"{what} is shorter than its record-size field", Sec, null);
        uint recSize = r.U32(s, 0);
        if (recSize < (uint)minRecord || recSize > 1024)
            throw new BpfObjectException($"{what} record size {recSize} is invalid (at least {minRecord} expected)", Sec, null);
        int pos = 4;
        while (pos < s.Length)
        {
            if (s.Length - pos < 8) throw new BpfObjectException($"{what} section header at offset {pos} is truncated", Sec, null);
            string secName = Str(btf, r.U32(s, pos));
            uint count = r.U32(s, pos + 4);
            pos += 8;
            if (count > (uint)(s.Length - pos) / recSize)
                throw new BpfObjectException($"{what} for section '{secName}' claims {count} records of {recSize} bytes, only {s.Length - pos} bytes remain", Sec, null);
            for (int i = 0; i < count; i++)
            {
                read(secName, s.Slice(pos, (int)recSize));
                pos += (int)recSize;
            }
        }
    }

    private static void Add<T>(Dictionary<string, List<T>> d, string key, T value)
    {
        if (!d.TryGetValue(key, out var l)) d[key] = l = new List<T>();
        l.Add(value);
    }

    private static int InsnIndex(uint byteOffset, string what, string sec)
    {
        if (byteOffset % 8 != 0 || byteOffset / 8 > int.MaxValue)
            throw new BpfObjectException($"{what} instruction offset {byteOffset} in section '{sec}' is not a multiple of 8", ".BTF.ext", null);
        return (int)(byteOffset / 8);
    }

    private static int ToId(uint raw) =>
        raw > int.MaxValue ? throw new BpfObjectException($"type id {raw} is out of range", ".BTF.ext", null) : (int)raw;

    private static string Str(Btf btf, uint off)
    {
        try
        {
            return btf.GetString(off);
        }
        catch (BpfObjectException e)
        {
            throw new BpfObjectException($"section '.BTF.ext': {e.Message}", e);
        }
    }
}
