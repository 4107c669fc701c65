using BpfSharp.Isa;

namespace BpfSharp.Asm;

/// <summary>
/// The spelling of the LLVM/kernel assembler syntax, and lookups from that spelling back to opcode table rows.
/// Every row is found by its semantic fields (kind, ALU operation, condition, size...), never by opcode number.
/// </summary>
internal static class LlvmSyntax
{
    /// <summary>Compound assignment operator of each ALU operation that has one.</summary>
    public static string? AluOperator(AluOp op) => op switch
    {
        AluOp.Add => "+=",
        AluOp.Sub => "-=",
        AluOp.Mul => "*=",
        AluOp.Div => "/=",
        AluOp.SDiv => "s/=",
        AluOp.Or => "|=",
        AluOp.And => "&=",
        AluOp.Lsh => "<<=",
        AluOp.Rsh => ">>=",
        AluOp.Mod => "%=",
        AluOp.SMod => "s%=",
        AluOp.Xor => "^=",
        AluOp.Arsh => "s>>=",
        _ => null,
    };

    /// <summary>Comparison operator of a jump condition.</summary>
    public static string ConditionOperator(JumpCondition condition) => condition switch
    {
        JumpCondition.Eq => "==",
        JumpCondition.Gt => ">",
        JumpCondition.Ge => ">=",
        JumpCondition.Set => "&",
        JumpCondition.Ne => "!=",
        JumpCondition.Sgt => "s>",
        JumpCondition.Sge => "s>=",
        JumpCondition.Lt => "<",
        JumpCondition.Le => "<=",
        JumpCondition.Slt => "s<",
        JumpCondition.Sle => "s<=",
        _ => "?",
    };

    /// <summary>Operator of a non-fetching atomic (<c>lock *(u64 *)(r1 + 0x0) += r2</c>).</summary>
    public static string AtomicOperator(AtomicOp op) => op switch
    {
        AtomicOp.Add => "+=",
        AtomicOp.Or => "|=",
        AtomicOp.And => "&=",
        AtomicOp.Xor => "^=",
        _ => "?",
    };

    /// <summary>Function-like name of a fetching add/or/and/xor (<c>atomic_fetch_add</c>).</summary>
    public static string AtomicFetchName(AtomicOp op) => op switch
    {
        AtomicOp.Add => "atomic_fetch_add",
        AtomicOp.Or => "atomic_fetch_or",
        AtomicOp.And => "atomic_fetch_and",
        AtomicOp.Xor => "atomic_fetch_xor",
        _ => "?",
    };

    /// <summary>C type name of an unsigned access of <paramref name="size"/> bytes.</summary>
    public static string SizeName(int size, bool signed = false) => (signed, size) switch
    {
        (false, 1) => "u8",
        (false, 2) => "u16",
        (false, 4) => "u32",
        (false, 8) => "u64",
        (true, 1) => "s8",
        (true, 2) => "s16",
        (true, 4) => "s32",
        _ => "s64",
    };

    /// <summary>Name of a readable lddw pseudo source (extended syntax), e.g. <c>map_fd</c>.</summary>
    public static string PseudoName(LoadImm64Source source) => source switch
    {
        LoadImm64Source.MapFd => "map_fd",
        LoadImm64Source.MapValue => "map_value",
        LoadImm64Source.BtfId => "btf_id",
        LoadImm64Source.Func => "func",
        LoadImm64Source.MapIndex => "map_idx",
        LoadImm64Source.MapIndexValue => "map_idx_value",
        _ => "imm64",
    };

    // ---- reverse lookups, built once from the table ----

    private static readonly Dictionary<(AluOp, bool Is64, bool Reg), OpInfo> AluRows = [];
    private static readonly Dictionary<(JumpCondition, bool Is64, bool Reg), OpInfo> CondJumpRows = [];
    private static readonly Dictionary<(int Size, bool Signed), OpInfo> LoadRows = [];
    private static readonly Dictionary<int, OpInfo> StoreImmRows = [];
    private static readonly Dictionary<int, OpInfo> StoreRegRows = [];
    private static readonly Dictionary<(AtomicOp, bool Fetch, bool Is64), OpInfo> AtomicRows = [];
    private static readonly Dictionary<(AluOp, int Width), OpInfo> EndianRows = [];
    private static readonly Dictionary<LoadImm64Source, OpInfo> LddwRows = [];
    private static readonly Dictionary<CallKind, OpInfo> CallRows = [];
    private static readonly Dictionary<(InstructionKind, int Size), OpInfo> PacketRows = [];
    private static readonly Dictionary<string, LoadImm64Source> PseudoByName = new(StringComparer.Ordinal);
    private static OpInfo? s_ja, s_ja32, s_exit;

#pragma warning disable CA1810 // one pass over the table fills every index; a static constructor states that best
    static LlvmSyntax()
#pragma warning restore CA1810
    {
        foreach (var row in OpcodeTable.Rows)
        {
            switch (row.Kind)
            {
                case InstructionKind.Alu: AluRows.Add((row.Alu, row.Is64, row.RegisterSource), row); break;
                case InstructionKind.CondJump: CondJumpRows.Add((row.Condition, row.Is64, row.RegisterSource), row); break;
                case InstructionKind.Load: LoadRows.Add((row.Size, row.SignExtend), row); break;
                case InstructionKind.StoreImm: StoreImmRows.Add(row.Size, row); break;
                case InstructionKind.StoreReg: StoreRegRows.Add(row.Size, row); break;
                case InstructionKind.Atomic: AtomicRows.Add((row.Atomic, row.Fetch, row.Is64), row); break;
                case InstructionKind.Endian: EndianRows.Add((row.Alu, row.DiscriminatorValue), row); break;
                case InstructionKind.LoadImm64: LddwRows.Add(row.LoadSource, row); break;
                case InstructionKind.Call: CallRows.Add(row.Call, row); break;
                case InstructionKind.LoadPacketAbs or InstructionKind.LoadPacketInd: PacketRows.Add((row.Kind, row.Size), row); break;
                case InstructionKind.Jump when row.Is64: s_ja = row; break;
                case InstructionKind.Jump: s_ja32 = row; break;
                case InstructionKind.Exit: s_exit = row; break;
            }
        }
        foreach (LoadImm64Source source in Enum.GetValues<LoadImm64Source>())
            if (source != LoadImm64Source.Imm64) PseudoByName.Add(PseudoName(source), source);
    }

    public static OpInfo? Alu(AluOp op, bool is64, bool registerSource) => AluRows.GetValueOrDefault((op, is64, registerSource));
    public static OpInfo? CondJump(JumpCondition c, bool is64, bool registerSource) => CondJumpRows.GetValueOrDefault((c, is64, registerSource));
    public static OpInfo? Load(int size, bool signExtend) => LoadRows.GetValueOrDefault((size, signExtend));
    public static OpInfo? StoreImm(int size) => StoreImmRows.GetValueOrDefault(size);
    public static OpInfo? StoreReg(int size) => StoreRegRows.GetValueOrDefault(size);
    public static OpInfo? Atomic(AtomicOp op, bool fetch, bool is64) => AtomicRows.GetValueOrDefault((op, fetch, is64));
    public static OpInfo? Endian(AluOp op, int width) => EndianRows.GetValueOrDefault((op, width));
    public static OpInfo Lddw(LoadImm64Source source) => LddwRows[source];
    public static OpInfo Call(CallKind kind) => CallRows[kind];
    public static OpInfo? Packet(InstructionKind kind, int size) => PacketRows.GetValueOrDefault((kind, size));
    public static OpInfo Ja => s_ja!;
    public static OpInfo Ja32 => s_ja32!;
    public static OpInfo Exit => s_exit!;
    public static bool TryPseudo(string name, out LoadImm64Source source) => PseudoByName.TryGetValue(name, out source);

    /// <summary>Access size of a C type name (<c>u8</c>...<c>u64</c>, <c>s8</c>...<c>s32</c>), or 0.</summary>
    public static int ParseSizeName(string name, out bool signed)
    {
        signed = name.Length > 0 && name[0] == 's';
        return name switch
        {
            "u8" or "s8" => 1,
            "u16" or "s16" => 2,
            "u32" or "s32" => 4,
            "u64" => 8,
            _ => 0,
        };
    }
}
