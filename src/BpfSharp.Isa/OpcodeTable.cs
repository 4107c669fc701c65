namespace BpfSharp.Isa;

/// <summary>Which field of the wire instruction selects among rows that share an opcode byte.</summary>
public enum VariantField : byte
{
    /// <summary>The opcode byte alone identifies the row.</summary>
    None,
    /// <summary>The offset field (sdiv/smod = 1, movsx = 8/16/32).</summary>
    Offset,
    /// <summary>The imm field (endianness width, atomic operation).</summary>
    Imm,
    /// <summary>The src register field (call kind, lddw pseudo source).</summary>
    Src,
}

/// <summary>
/// One row of the opcode table: everything the decoder, validator, assembler, disassembler, engines and verifier
/// need to know about an instruction variant.
/// </summary>
public sealed class OpInfo
{
    internal OpInfo(Op op, byte opcode, string mnemonic, InstructionKind kind,
        VariantField discriminator = VariantField.None, int discriminatorValue = 0,
        AluOp alu = AluOp.Add, JumpCondition condition = JumpCondition.None, CallKind call = CallKind.None,
        AtomicOp atomic = AtomicOp.None, bool fetch = false, LoadImm64Source loadSource = LoadImm64Source.Imm64,
        int size = 0, bool signExtend = false, bool is64 = false, bool registerSource = false,
        RegisterRule dst = RegisterRule.Zero, RegisterRule src = RegisterRule.Zero,
        FieldRule offset = FieldRule.Zero, FieldRule imm = FieldRule.Zero)
    {
        Op = op; Opcode = opcode; Mnemonic = mnemonic; Kind = kind;
        Discriminator = discriminator; DiscriminatorValue = discriminatorValue;
        Alu = alu; Condition = condition; Call = call; Atomic = atomic; Fetch = fetch; LoadSource = loadSource;
        Size = size; SignExtend = signExtend; Is64 = is64; RegisterSource = registerSource;
        DstRule = dst; SrcRule = src; OffsetRule = offset; ImmRule = imm;
    }

    /// <summary>The variant this row describes.</summary>
    public Op Op { get; }
    /// <summary>The wire opcode byte.</summary>
    public byte Opcode { get; }
    /// <summary>Mnemonic in the conformance-suite (ubpf) assembler syntax.</summary>
    public string Mnemonic { get; }
    /// <summary>Broad kind the engines dispatch on.</summary>
    public InstructionKind Kind { get; }
    /// <summary>The field that selects this row among rows sharing <see cref="Opcode"/>.</summary>
    public VariantField Discriminator { get; }
    /// <summary>The value <see cref="Discriminator"/> must hold.</summary>
    public int DiscriminatorValue { get; }
    /// <summary>Arithmetic operation (ALU and endian rows).</summary>
    public AluOp Alu { get; }
    /// <summary>Jump condition (conditional jumps).</summary>
    public JumpCondition Condition { get; }
    /// <summary>Call kind (call rows).</summary>
    public CallKind Call { get; }
    /// <summary>Atomic operation (atomic rows).</summary>
    public AtomicOp Atomic { get; }
    /// <summary>Whether the atomic returns the old value in src (r0 for cmpxchg).</summary>
    public bool Fetch { get; }
    /// <summary>Pseudo source of lddw.</summary>
    public LoadImm64Source LoadSource { get; }
    /// <summary>Memory access size in bytes (loads, stores, atomics, packet loads).</summary>
    public int Size { get; }
    /// <summary>Whether a load sign-extends (MEMSX).</summary>
    public bool SignExtend { get; }
    /// <summary>64-bit operation (ALU64, JMP, 64-bit atomics) rather than 32-bit.</summary>
    public bool Is64 { get; }
    /// <summary>The second operand is the src register (BPF_X) rather than imm (BPF_K).</summary>
    public bool RegisterSource { get; }
    /// <summary>What the dst field may hold.</summary>
    public RegisterRule DstRule { get; }
    /// <summary>What the src field may hold (when the src field is the discriminator, see <see cref="Discriminator"/>).</summary>
    public RegisterRule SrcRule { get; }
    /// <summary>What the offset field may hold.</summary>
    public FieldRule OffsetRule { get; }
    /// <summary>What the imm field may hold.</summary>
    public FieldRule ImmRule { get; }
    /// <summary>Number of 8-byte slots (2 for lddw).</summary>
    public int Width => Kind == InstructionKind.LoadImm64 ? 2 : 1;
    /// <summary>Whether the offset field is a jump displacement.</summary>
    public bool IsJumpWithOffset => (Kind == InstructionKind.Jump && Op == Op.Ja) || Kind == InstructionKind.CondJump;

    /// <inheritdoc/>
    public override string ToString() => $"{Op} (0x{Opcode:x2} {Mnemonic})";
}

/// <summary>
/// The single declarative table of the eBPF instruction set (RFC 9669, cpu v1-v4, plus legacy packet loads).
/// Decoding, validation, assembly, disassembly, both engines and the verifier all read it; no other code knows
/// opcode numbers.
/// </summary>
public static class OpcodeTable
{
    private static readonly OpInfo[] RowsByOp = BuildRows();
    private static readonly OpInfo[][] RowsByOpcode = IndexByOpcode(RowsByOp);

    /// <summary>All rows in <see cref="Op"/> order (index 0 is <see cref="Op.Invalid"/>'s placeholder and is excluded).</summary>
    public static ReadOnlySpan<OpInfo> Rows => RowsByOp.AsSpan(1);

    /// <summary>The row of an op.</summary>
    public static OpInfo Get(Op op) => RowsByOp[(int)op];

    /// <summary>The rows sharing a wire opcode byte (empty for an unknown opcode).</summary>
    public static ReadOnlySpan<OpInfo> ForOpcode(byte opcode) => RowsByOpcode[opcode];

    private static OpInfo[] BuildRows()
    {
        OpInfo[] rows =
        [
        new(Op.Invalid, 0xff, "(invalid)", InstructionKind.Invalid),
        new(Op.Add64Imm, 0x07, "add", InstructionKind.Alu, alu: AluOp.Add, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Add64Reg, 0x0f, "add", InstructionKind.Alu, alu: AluOp.Add, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Sub64Imm, 0x17, "sub", InstructionKind.Alu, alu: AluOp.Sub, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Sub64Reg, 0x1f, "sub", InstructionKind.Alu, alu: AluOp.Sub, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Mul64Imm, 0x27, "mul", InstructionKind.Alu, alu: AluOp.Mul, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Mul64Reg, 0x2f, "mul", InstructionKind.Alu, alu: AluOp.Mul, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Div64Imm, 0x37, "div", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Div, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.SDiv64Imm, 0x37, "sdiv", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 1, alu: AluOp.SDiv, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.Div64Reg, 0x3f, "div", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Div, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.SDiv64Reg, 0x3f, "sdiv", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 1, alu: AluOp.SDiv, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.Or64Imm, 0x47, "or", InstructionKind.Alu, alu: AluOp.Or, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Or64Reg, 0x4f, "or", InstructionKind.Alu, alu: AluOp.Or, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.And64Imm, 0x57, "and", InstructionKind.Alu, alu: AluOp.And, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.And64Reg, 0x5f, "and", InstructionKind.Alu, alu: AluOp.And, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Lsh64Imm, 0x67, "lsh", InstructionKind.Alu, alu: AluOp.Lsh, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Lsh64Reg, 0x6f, "lsh", InstructionKind.Alu, alu: AluOp.Lsh, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Rsh64Imm, 0x77, "rsh", InstructionKind.Alu, alu: AluOp.Rsh, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Rsh64Reg, 0x7f, "rsh", InstructionKind.Alu, alu: AluOp.Rsh, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Mod64Imm, 0x97, "mod", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Mod, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.SMod64Imm, 0x97, "smod", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 1, alu: AluOp.SMod, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.Mod64Reg, 0x9f, "mod", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Mod, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.SMod64Reg, 0x9f, "smod", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 1, alu: AluOp.SMod, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.Xor64Imm, 0xa7, "xor", InstructionKind.Alu, alu: AluOp.Xor, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Xor64Reg, 0xaf, "xor", InstructionKind.Alu, alu: AluOp.Xor, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Mov64Imm, 0xb7, "mov", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Mov, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.Mov64Reg, 0xbf, "mov", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Mov, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.Arsh64Imm, 0xc7, "arsh", InstructionKind.Alu, alu: AluOp.Arsh, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Arsh64Reg, 0xcf, "arsh", InstructionKind.Alu, alu: AluOp.Arsh, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Neg64, 0x87, "neg", InstructionKind.Alu, alu: AluOp.Neg, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.MovSx8To64, 0xbf, "movsx864", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 8, alu: AluOp.MovSx8, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.MovSx16To64, 0xbf, "movsx1664", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 16, alu: AluOp.MovSx16, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.MovSx32To64, 0xbf, "movsx3264", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 32, alu: AluOp.MovSx32, is64: true, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.Add32Imm, 0x04, "add32", InstructionKind.Alu, alu: AluOp.Add, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Add32Reg, 0x0c, "add32", InstructionKind.Alu, alu: AluOp.Add, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Sub32Imm, 0x14, "sub32", InstructionKind.Alu, alu: AluOp.Sub, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Sub32Reg, 0x1c, "sub32", InstructionKind.Alu, alu: AluOp.Sub, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Mul32Imm, 0x24, "mul32", InstructionKind.Alu, alu: AluOp.Mul, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Mul32Reg, 0x2c, "mul32", InstructionKind.Alu, alu: AluOp.Mul, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Div32Imm, 0x34, "div32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Div, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.SDiv32Imm, 0x34, "sdiv32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 1, alu: AluOp.SDiv, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.Div32Reg, 0x3c, "div32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Div, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.SDiv32Reg, 0x3c, "sdiv32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 1, alu: AluOp.SDiv, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.Or32Imm, 0x44, "or32", InstructionKind.Alu, alu: AluOp.Or, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Or32Reg, 0x4c, "or32", InstructionKind.Alu, alu: AluOp.Or, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.And32Imm, 0x54, "and32", InstructionKind.Alu, alu: AluOp.And, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.And32Reg, 0x5c, "and32", InstructionKind.Alu, alu: AluOp.And, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Lsh32Imm, 0x64, "lsh32", InstructionKind.Alu, alu: AluOp.Lsh, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Lsh32Reg, 0x6c, "lsh32", InstructionKind.Alu, alu: AluOp.Lsh, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Rsh32Imm, 0x74, "rsh32", InstructionKind.Alu, alu: AluOp.Rsh, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Rsh32Reg, 0x7c, "rsh32", InstructionKind.Alu, alu: AluOp.Rsh, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Mod32Imm, 0x94, "mod32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Mod, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.SMod32Imm, 0x94, "smod32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 1, alu: AluOp.SMod, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.Mod32Reg, 0x9c, "mod32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Mod, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.SMod32Reg, 0x9c, "smod32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 1, alu: AluOp.SMod, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.Xor32Imm, 0xa4, "xor32", InstructionKind.Alu, alu: AluOp.Xor, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Xor32Reg, 0xac, "xor32", InstructionKind.Alu, alu: AluOp.Xor, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Mov32Imm, 0xb4, "mov32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Mov, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Discriminator, imm: FieldRule.Any),
        new(Op.Mov32Reg, 0xbc, "mov32", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 0, alu: AluOp.Mov, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.Arsh32Imm, 0xc4, "arsh32", InstructionKind.Alu, alu: AluOp.Arsh, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Arsh32Reg, 0xcc, "arsh32", InstructionKind.Alu, alu: AluOp.Arsh, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Neg32, 0x84, "neg32", InstructionKind.Alu, alu: AluOp.Neg, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.MovSx8To32, 0xbc, "movsx832", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 8, alu: AluOp.MovSx8, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.MovSx16To32, 0xbc, "movsx1632", InstructionKind.Alu, discriminator: VariantField.Offset, discriminatorValue: 16, alu: AluOp.MovSx16, registerSource: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Discriminator, imm: FieldRule.Zero),
        new(Op.Le16, 0xd4, "le16", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 16, alu: AluOp.ToLe, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Le32, 0xd4, "le32", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 32, alu: AluOp.ToLe, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Le64, 0xd4, "le64", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 64, alu: AluOp.ToLe, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Be16, 0xdc, "be16", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 16, alu: AluOp.ToBe, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Be32, 0xdc, "be32", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 32, alu: AluOp.ToBe, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Be64, 0xdc, "be64", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 64, alu: AluOp.ToBe, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Bswap16, 0xd7, "bswap16", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 16, alu: AluOp.Bswap, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Bswap32, 0xd7, "bswap32", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 32, alu: AluOp.Bswap, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Bswap64, 0xd7, "bswap64", InstructionKind.Endian, discriminator: VariantField.Imm, discriminatorValue: 64, alu: AluOp.Bswap, is64: true, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Discriminator),
        new(Op.Ja, 0x05, "ja", InstructionKind.Jump, is64: true, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jeq64Imm, 0x15, "jeq", InstructionKind.CondJump, condition: JumpCondition.Eq, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jeq64Reg, 0x1d, "jeq", InstructionKind.CondJump, condition: JumpCondition.Eq, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jgt64Imm, 0x25, "jgt", InstructionKind.CondJump, condition: JumpCondition.Gt, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jgt64Reg, 0x2d, "jgt", InstructionKind.CondJump, condition: JumpCondition.Gt, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jge64Imm, 0x35, "jge", InstructionKind.CondJump, condition: JumpCondition.Ge, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jge64Reg, 0x3d, "jge", InstructionKind.CondJump, condition: JumpCondition.Ge, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jset64Imm, 0x45, "jset", InstructionKind.CondJump, condition: JumpCondition.Set, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jset64Reg, 0x4d, "jset", InstructionKind.CondJump, condition: JumpCondition.Set, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jne64Imm, 0x55, "jne", InstructionKind.CondJump, condition: JumpCondition.Ne, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jne64Reg, 0x5d, "jne", InstructionKind.CondJump, condition: JumpCondition.Ne, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jsgt64Imm, 0x65, "jsgt", InstructionKind.CondJump, condition: JumpCondition.Sgt, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jsgt64Reg, 0x6d, "jsgt", InstructionKind.CondJump, condition: JumpCondition.Sgt, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jsge64Imm, 0x75, "jsge", InstructionKind.CondJump, condition: JumpCondition.Sge, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jsge64Reg, 0x7d, "jsge", InstructionKind.CondJump, condition: JumpCondition.Sge, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jlt64Imm, 0xa5, "jlt", InstructionKind.CondJump, condition: JumpCondition.Lt, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jlt64Reg, 0xad, "jlt", InstructionKind.CondJump, condition: JumpCondition.Lt, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jle64Imm, 0xb5, "jle", InstructionKind.CondJump, condition: JumpCondition.Le, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jle64Reg, 0xbd, "jle", InstructionKind.CondJump, condition: JumpCondition.Le, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jslt64Imm, 0xc5, "jslt", InstructionKind.CondJump, condition: JumpCondition.Slt, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jslt64Reg, 0xcd, "jslt", InstructionKind.CondJump, condition: JumpCondition.Slt, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jsle64Imm, 0xd5, "jsle", InstructionKind.CondJump, condition: JumpCondition.Sle, is64: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jsle64Reg, 0xdd, "jsle", InstructionKind.CondJump, condition: JumpCondition.Sle, is64: true, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jeq32Imm, 0x16, "jeq32", InstructionKind.CondJump, condition: JumpCondition.Eq, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jeq32Reg, 0x1e, "jeq32", InstructionKind.CondJump, condition: JumpCondition.Eq, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jgt32Imm, 0x26, "jgt32", InstructionKind.CondJump, condition: JumpCondition.Gt, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jgt32Reg, 0x2e, "jgt32", InstructionKind.CondJump, condition: JumpCondition.Gt, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jge32Imm, 0x36, "jge32", InstructionKind.CondJump, condition: JumpCondition.Ge, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jge32Reg, 0x3e, "jge32", InstructionKind.CondJump, condition: JumpCondition.Ge, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jset32Imm, 0x46, "jset32", InstructionKind.CondJump, condition: JumpCondition.Set, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jset32Reg, 0x4e, "jset32", InstructionKind.CondJump, condition: JumpCondition.Set, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jne32Imm, 0x56, "jne32", InstructionKind.CondJump, condition: JumpCondition.Ne, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jne32Reg, 0x5e, "jne32", InstructionKind.CondJump, condition: JumpCondition.Ne, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jsgt32Imm, 0x66, "jsgt32", InstructionKind.CondJump, condition: JumpCondition.Sgt, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jsgt32Reg, 0x6e, "jsgt32", InstructionKind.CondJump, condition: JumpCondition.Sgt, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jsge32Imm, 0x76, "jsge32", InstructionKind.CondJump, condition: JumpCondition.Sge, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jsge32Reg, 0x7e, "jsge32", InstructionKind.CondJump, condition: JumpCondition.Sge, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jlt32Imm, 0xa6, "jlt32", InstructionKind.CondJump, condition: JumpCondition.Lt, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jlt32Reg, 0xae, "jlt32", InstructionKind.CondJump, condition: JumpCondition.Lt, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jle32Imm, 0xb6, "jle32", InstructionKind.CondJump, condition: JumpCondition.Le, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jle32Reg, 0xbe, "jle32", InstructionKind.CondJump, condition: JumpCondition.Le, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jslt32Imm, 0xc6, "jslt32", InstructionKind.CondJump, condition: JumpCondition.Slt, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jslt32Reg, 0xce, "jslt32", InstructionKind.CondJump, condition: JumpCondition.Slt, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Jsle32Imm, 0xd6, "jsle32", InstructionKind.CondJump, condition: JumpCondition.Sle, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Jsle32Reg, 0xde, "jsle32", InstructionKind.CondJump, condition: JumpCondition.Sle, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Ja32, 0x06, "ja32", InstructionKind.Jump, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.Call, 0x85, "call", InstructionKind.Call, discriminator: VariantField.Src, discriminatorValue: 0, call: CallKind.Helper, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.CallLocal, 0x85, "call local", InstructionKind.Call, discriminator: VariantField.Src, discriminatorValue: 1, call: CallKind.Local, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.CallKfunc, 0x85, "call kfunc", InstructionKind.Call, discriminator: VariantField.Src, discriminatorValue: 2, call: CallKind.Kfunc, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Callx, 0x8d, "callx", InstructionKind.Call, call: CallKind.Register, registerSource: true, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Exit, 0x95, "exit", InstructionKind.Exit, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Zero),
        new(Op.Ldxw, 0x61, "ldxw", InstructionKind.Load, size: 4, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Ldxh, 0x69, "ldxh", InstructionKind.Load, size: 2, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Ldxb, 0x71, "ldxb", InstructionKind.Load, size: 1, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Ldxdw, 0x79, "ldxdw", InstructionKind.Load, size: 8, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Ldxsw, 0x81, "ldxsw", InstructionKind.Load, size: 4, signExtend: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Ldxsh, 0x89, "ldxsh", InstructionKind.Load, size: 2, signExtend: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Ldxsb, 0x91, "ldxsb", InstructionKind.Load, size: 1, signExtend: true, dst: RegisterRule.Write, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Stw, 0x62, "stw", InstructionKind.StoreImm, size: 4, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Sth, 0x6a, "sth", InstructionKind.StoreImm, size: 2, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Stb, 0x72, "stb", InstructionKind.StoreImm, size: 1, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Stdw, 0x7a, "stdw", InstructionKind.StoreImm, size: 8, dst: RegisterRule.Read, src: RegisterRule.Zero, offset: FieldRule.Any, imm: FieldRule.Any),
        new(Op.Stxw, 0x63, "stxw", InstructionKind.StoreReg, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Stxh, 0x6b, "stxh", InstructionKind.StoreReg, size: 2, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Stxb, 0x73, "stxb", InstructionKind.StoreReg, size: 1, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.Stxdw, 0x7b, "stxdw", InstructionKind.StoreReg, size: 8, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Zero),
        new(Op.AtomicAdd32, 0xc3, "lock add32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 0, atomic: AtomicOp.Add, fetch: false, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicOr32, 0xc3, "lock or32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 64, atomic: AtomicOp.Or, fetch: false, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicAnd32, 0xc3, "lock and32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 80, atomic: AtomicOp.And, fetch: false, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicXor32, 0xc3, "lock xor32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 160, atomic: AtomicOp.Xor, fetch: false, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicFetchAdd32, 0xc3, "lock fetch add32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 1, atomic: AtomicOp.Add, fetch: true, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicFetchOr32, 0xc3, "lock fetch or32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 65, atomic: AtomicOp.Or, fetch: true, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicFetchAnd32, 0xc3, "lock fetch and32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 81, atomic: AtomicOp.And, fetch: true, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicFetchXor32, 0xc3, "lock fetch xor32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 161, atomic: AtomicOp.Xor, fetch: true, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicXchg32, 0xc3, "lock xchg32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 225, atomic: AtomicOp.Xchg, fetch: true, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicCmpXchg32, 0xc3, "lock cmpxchg32", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 241, atomic: AtomicOp.CmpXchg, fetch: true, size: 4, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicAdd64, 0xdb, "lock add", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 0, atomic: AtomicOp.Add, fetch: false, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicOr64, 0xdb, "lock or", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 64, atomic: AtomicOp.Or, fetch: false, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicAnd64, 0xdb, "lock and", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 80, atomic: AtomicOp.And, fetch: false, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicXor64, 0xdb, "lock xor", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 160, atomic: AtomicOp.Xor, fetch: false, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicFetchAdd64, 0xdb, "lock fetch add", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 1, atomic: AtomicOp.Add, fetch: true, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicFetchOr64, 0xdb, "lock fetch or", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 65, atomic: AtomicOp.Or, fetch: true, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicFetchAnd64, 0xdb, "lock fetch and", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 81, atomic: AtomicOp.And, fetch: true, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicFetchXor64, 0xdb, "lock fetch xor", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 161, atomic: AtomicOp.Xor, fetch: true, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicXchg64, 0xdb, "lock xchg", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 225, atomic: AtomicOp.Xchg, fetch: true, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.AtomicCmpXchg64, 0xdb, "lock cmpxchg", InstructionKind.Atomic, discriminator: VariantField.Imm, discriminatorValue: 241, atomic: AtomicOp.CmpXchg, fetch: true, size: 8, is64: true, dst: RegisterRule.Read, src: RegisterRule.Read, offset: FieldRule.Any, imm: FieldRule.Discriminator),
        new(Op.Lddw, 0x18, "lddw", InstructionKind.LoadImm64, discriminator: VariantField.Src, discriminatorValue: 0, loadSource: LoadImm64Source.Imm64, size: 8, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LddwMapFd, 0x18, "lddw", InstructionKind.LoadImm64, discriminator: VariantField.Src, discriminatorValue: 1, loadSource: LoadImm64Source.MapFd, size: 8, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LddwMapValue, 0x18, "lddw", InstructionKind.LoadImm64, discriminator: VariantField.Src, discriminatorValue: 2, loadSource: LoadImm64Source.MapValue, size: 8, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LddwBtfId, 0x18, "lddw", InstructionKind.LoadImm64, discriminator: VariantField.Src, discriminatorValue: 3, loadSource: LoadImm64Source.BtfId, size: 8, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LddwFunc, 0x18, "lddw", InstructionKind.LoadImm64, discriminator: VariantField.Src, discriminatorValue: 4, loadSource: LoadImm64Source.Func, size: 8, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LddwMapIndex, 0x18, "lddw", InstructionKind.LoadImm64, discriminator: VariantField.Src, discriminatorValue: 5, loadSource: LoadImm64Source.MapIndex, size: 8, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LddwMapIndexValue, 0x18, "lddw", InstructionKind.LoadImm64, discriminator: VariantField.Src, discriminatorValue: 6, loadSource: LoadImm64Source.MapIndexValue, size: 8, dst: RegisterRule.Write, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LddwHigh, 0x00, "(lddw high)", InstructionKind.LoadImm64High, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LdAbsW, 0x20, "ldabsw", InstructionKind.LoadPacketAbs, size: 4, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LdAbsH, 0x28, "ldabsh", InstructionKind.LoadPacketAbs, size: 2, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LdAbsB, 0x30, "ldabsb", InstructionKind.LoadPacketAbs, size: 1, dst: RegisterRule.Zero, src: RegisterRule.Zero, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LdIndW, 0x40, "ldindw", InstructionKind.LoadPacketInd, size: 4, dst: RegisterRule.Zero, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LdIndH, 0x48, "ldindh", InstructionKind.LoadPacketInd, size: 2, dst: RegisterRule.Zero, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Any),
        new(Op.LdIndB, 0x50, "ldindb", InstructionKind.LoadPacketInd, size: 1, dst: RegisterRule.Zero, src: RegisterRule.Read, offset: FieldRule.Zero, imm: FieldRule.Any),
        ];
        for (int i = 0; i < rows.Length; i++)
        {
            if ((int)rows[i].Op != i)
                throw new InvalidOperationException($"opcode table row {i} is {rows[i].Op}: rows must follow the Op enum");
        }
        return rows;
    }

    private static OpInfo[][] IndexByOpcode(OpInfo[] rows)
    {
        var lists = new List<OpInfo>[256];
        for (int i = 0; i < lists.Length; i++) lists[i] = [];
        foreach (var row in rows)
        {
            // The lddw second slot has opcode 0 but is only reachable through the lddw row, never by lookup.
            if (row.Op is Op.Invalid or Op.LddwHigh) continue;
            lists[row.Opcode].Add(row);
        }
        var result = new OpInfo[256][];
        for (int i = 0; i < 256; i++) result[i] = [.. lists[i]];
        return result;
    }
}
